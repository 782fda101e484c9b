//! The crash test's webhook receiver: the app's events are posted here (in this process, so it
//! outlives the killed gateway); it checks each request's signature, answers `200` after a short
//! delay (so posts are in flight when the kill lands) and keeps the events of every request.
//! What is asserted: after the restart, every delivery has exactly one `delivered` event (one
//! distinct event id), and the events posted more than once are at most those claimed or
//! pending in the store at the kill.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use pushway::gateway::webhook;
use serde_json::Value;
use sqlx::Row;

/// The signing secret of the test's webhook.
pub const SECRET: &str = "crash-webhook-secret-0123";
/// The receiver's delay before each answer.
const ANSWER_DELAY: Duration = Duration::from_millis(50);

/// Every event received, in arrival order, by request.
#[derive(Clone, Default)]
pub struct Receiver {
    requests: Arc<Mutex<Vec<Vec<Value>>>>,
}

impl Receiver {
    /// Starts the receiver on 127.0.0.1:0; its URL.
    pub async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app = axum::Router::new()
            .route("/events", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, format!("http://{addr}/events"))
    }

    /// Waits (at most `wait`) until `n` distinct events arrived; every event by id, and how
    /// many times each was received.
    pub async fn until(&self, n: usize, wait: Duration) -> BTreeMap<String, (Value, usize)> {
        let deadline = Instant::now() + wait;
        loop {
            let events = self.events();
            if events.len() >= n {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "the webhook receiver got {} of {n} events",
                events.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn events(&self) -> BTreeMap<String, (Value, usize)> {
        let mut events: BTreeMap<String, (Value, usize)> = BTreeMap::new();
        for request in self.requests.lock().expect("lock").iter() {
            for e in request {
                let id = e["id"].as_str().expect("an event id").to_owned();
                events.entry(id).or_insert_with(|| (e.clone(), 0)).1 += 1;
            }
        }
        events
    }

    /// Requests received.
    pub fn requests(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let verified = webhook::verify(
        SECRET.as_bytes(),
        &header(webhook::TIMESTAMP_HEADER),
        &header(webhook::SIGNATURE_HEADER),
        &body,
        now,
    );
    if verified.is_err() {
        // Counted as missing events, so the test fails on them.
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(parsed) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let events = parsed["events"].as_array().cloned().unwrap_or_default();
    if events.is_empty() || events.len() > webhook::MAX_BATCH as usize {
        return StatusCode::BAD_REQUEST;
    }
    tokio::time::sleep(ANSWER_DELAY).await;
    receiver.requests.lock().expect("lock").push(events);
    StatusCode::OK
}

/// The `[apps.<app>.webhook]` section posting to `url`.
pub fn config_section(app: &str, url: &str) -> String {
    format!(
        "\n[apps.{app}.webhook]\nurl = {url:?}\nsecret = {SECRET:?}\ntimeout_ms = 5000\n\
         max_attempts = 1000\nbackoff_base_ms = 100\nbackoff_max_ms = 1000\n"
    )
}

/// Events in the store not yet answered (pending or claimed), read after the kill.
pub async fn unanswered_in(db: &Path) -> usize {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("open the store");
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM webhook_events WHERE state != 'dead'")
        .fetch_one(&pool)
        .await
        .expect("count events")
        .get(0);
    pool.close().await;
    usize::try_from(n).expect("a count")
}

/// Asserts each of `deliveries` (message id, user, device) has exactly one `delivered` event,
/// and nothing else was posted; returns how many posts were duplicates.
pub fn assert_one_event_per_delivery(
    events: &BTreeMap<String, (Value, usize)>,
    deliveries: &BTreeSet<(String, String, String)>,
) -> usize {
    let mut seen = BTreeSet::new();
    for (id, (e, _)) in events {
        assert_eq!(e["type"], "delivered", "{e}");
        let s = |k: &str| e[k].as_str().unwrap_or("-").to_owned();
        let key = (s("message_id"), s("user_id"), s("device_id"));
        assert!(deliveries.contains(&key), "an event for no delivery: {e}");
        assert!(
            seen.insert(key),
            "a second event ({id}) for a delivery: {e}"
        );
    }
    assert_eq!(seen.len(), deliveries.len(), "deliveries without an event");
    events.values().map(|(_, n)| n - 1).sum()
}
