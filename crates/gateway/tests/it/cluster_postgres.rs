//! Several gateways on one Postgres database: a commit on any node wakes the idle workers of
//! every node (LISTEN/NOTIFY), also after the listener's connection was lost, an outcome
//! recorded on one node answers the requests waiting for it on another, and the `nodes`
//! registry lists the running nodes. These run on Postgres whatever `PUSHWAY_TEST_STORE` says.
//!
//! Every node polls only once a minute here: an outcome within the 10 s deadlines below can
//! only come from a wake-up (the deadlines are a behaviour check, not a benchmark).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushway_core::TokenKind;
use pushway_gateway::config::StoreUrl;
use pushway_gateway::store::postgres::{ClusterNode, PgStore};
use pushway_gateway::store::{
    DeliveryState, NewDelivery, NewMessage, NewRecipient, OutcomeRecord, Store, WriteBatch,
};
use serde_json::json;
use sqlx::Row;

use crate::support::{Harness, c2c, devices_of, fresh_database};

/// Longer than any test here: no poll fires during one.
const POLL_MS: u64 = 60_000;

/// A gateway node `id` on the database at `url`, polling once a minute.
async fn node(url: &str, id: &str) -> Harness {
    let url = url.to_owned();
    let id = id.to_owned();
    Harness::start_with(move |config, _| {
        config.store.url = Some(StoreUrl::new(url));
        config.cluster.node_id = id;
        config.cluster.heartbeat_secs = 1;
        config.worker.poll_interval_ms = POLL_MS;
    })
    .await
}

fn cluster(h: &Harness) -> &ClusterNode {
    h.gateway().cluster_node().expect("on Postgres")
}

fn message() -> serde_json::Value {
    json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]})
}

/// Polls `check` every 20 ms until it holds, for at most 10 s.
async fn within_10s(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not within 10 s: {what}");
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    i64::try_from(since.as_millis()).expect("ms")
}

/// Commits a message to bob's device `b` (xiaomi, token `regid-bob`) straight through a store
/// of its own: a node whose workers do not run, so only a wake-up of another node's workers
/// sends it. Its notification is a copy of one the gateway rendered earlier.
async fn commit_elsewhere(store: &PgStore, id: &str) {
    let body: String = sqlx::query("SELECT body FROM notifications ORDER BY id LIMIT 1")
        .fetch_one(store.pool())
        .await
        .expect("a rendered notification")
        .get(0);
    commit_at(store, id, body, now_ms()).await;
}

/// Commits message `id` (notification `body`) to bob's device `b` through `store`, accepted
/// (and so due) at `now`.
async fn commit_at(store: &PgStore, id: &str, body: String, now: i64) {
    let message = NewMessage {
        id: id.to_owned(),
        app: "demo".to_owned(),
        idempotency_key: id.to_owned(),
        request_hash: [1; 32],
        body: "{}".to_owned(),
        created_at: now,
        expires_at: now + 3_600_000,
        notifications: vec![body],
        recipients: vec![NewRecipient {
            user: "bob".to_owned(),
            unread: 1,
            suppressed: None,
            deliveries: vec![NewDelivery {
                device_id: "b".to_owned(),
                kind: TokenKind::Xiaomi,
                credential: "demo".to_owned(),
                token: "regid-bob".to_owned(),
                notification: 0,
            }],
            suppressed_devices: Vec::new(),
        }],
    };
    let accepted = store.accept(&[message]).await.expect("accept");
    assert!(accepted[0].created);
}

/// The state of the one delivery row of message `id`.
async fn state_of(store: &PgStore, id: &str) -> String {
    sqlx::query("SELECT state FROM deliveries WHERE message_id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .expect("one row")
        .get(0)
}

/// Waits until `h`'s listener got `n` notifications, then checks it got no more.
async fn notified(h: &Harness, n: u64) {
    within_10s("notifications", async || cluster(h).notifications() >= n).await;
    assert_eq!(cluster(h).notifications(), n);
}

#[tokio::test]
async fn a_commit_on_one_node_wakes_the_idle_workers_of_the_others() {
    let url = fresh_database();
    let a = node(&url, "node-a").await;
    let b = node(&url, "node-b").await;
    a.device("bob", "b", "xiaomi", "regid-bob").await;

    // Accepted through b: delivered (by a's or b's workers) long before any poll.
    let id = b.post_nowait("k1", message()).await;
    let status = a
        .status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    assert_eq!(devices_of(&status, "bob")[0]["attempts"], 1);
    // Both listeners heard b's one commit, a's too.
    notified(&a, 1).await;
    notified(&b, 1).await;

    // Committed by a node with no workers running: only a wake-up sends it.
    let store = PgStore::open(&url, 2).await.expect("store");
    commit_elsewhere(&store, "elsewhere-1").await;
    within_10s("delivered", async || {
        state_of(&store, "elsewhere-1").await == "delivered"
    })
    .await;
    notified(&a, 2).await;
    notified(&b, 2).await;
    assert_eq!(
        a.sims.xiaomi.request_count() + b.sims.xiaomi.request_count(),
        2
    );
}

#[tokio::test]
async fn after_its_listener_is_killed_a_node_reconnects_and_commits_wake_it_again() {
    let url = fresh_database();
    let a = node(&url, "node-a").await;
    a.device("bob", "b", "xiaomi", "regid-bob").await;
    let id = a.post_nowait("k1", message()).await;
    a.status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    notified(&a, 1).await;
    assert_eq!(cluster(&a).listener_connections(), 1);

    let store = PgStore::open(&url, 2).await.expect("store");
    let killed: Vec<bool> = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind("pushway-gateway listener node-a")
    .fetch_all(store.pool())
    .await
    .expect("terminate")
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert_eq!(killed, [true], "one listener backend, terminated");
    within_10s("reconnected", async || {
        cluster(&a).listener_connections() == 2
    })
    .await;

    // The worker sleeps until the next poll in a minute: only the new listener can wake it.
    commit_elsewhere(&store, "elsewhere-1").await;
    within_10s("delivered", async || {
        state_of(&store, "elsewhere-1").await == "delivered"
    })
    .await;
    notified(&a, 2).await;
    assert_eq!(a.sims.xiaomi.request_count(), 2);
}

#[tokio::test]
async fn leases_released_by_a_node_stopping_are_taken_at_once_by_another() {
    let url = fresh_database();
    let mut b = node(&url, "node-b").await;
    b.device("bob", "b", "xiaomi", "regid-bob").await;
    // b holds the row in flight: its vendor does not answer before b stops.
    b.sims.xiaomi.inject(
        pushway_mock::fault::Trigger::Times(1),
        pushway_mock::xiaomi::XiaomiFault::Latency(Duration::from_secs(30)),
    );
    let id = b.post_nowait("k1", message()).await;
    within_10s("b sends", async || b.sims.xiaomi.request_count() == 1).await;
    // a starts now: its first claim finds the row leased, and it polls again in a minute.
    let a = node(&url, "node-a").await;
    b.stop(Duration::from_millis(100)).await;
    let status = a
        .status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    assert_eq!(devices_of(&status, "bob")[0]["attempts"], 2);
    assert_eq!(a.sims.xiaomi.request_count(), 1);
}

#[tokio::test]
async fn the_registry_lists_running_nodes_and_forgets_one_stopped_gracefully() {
    let url = fresh_database();
    let a = node(&url, "node-a").await;
    let mut b = node(&url, "node-b").await;
    let store = PgStore::open(&url, 2).await.expect("store");
    let live = store
        .live_nodes(Duration::from_secs(30))
        .await
        .expect("nodes");
    let listed: Vec<(&str, String)> = live
        .iter()
        .map(|n| (n.id.as_str(), n.address.clone()))
        .collect();
    assert_eq!(
        listed,
        [
            ("node-a", a.gateway().addr().to_string()),
            ("node-b", b.gateway().addr().to_string())
        ]
    );
    assert!(live.iter().all(|n| n.started_at <= n.heartbeat_at));
    assert_eq!(cluster(&a).id(), "node-a");

    // The heartbeat moves on (every second here).
    let first = live[0].heartbeat_at;
    within_10s("a heartbeat", async || {
        let live = store
            .live_nodes(Duration::from_secs(30))
            .await
            .expect("nodes");
        live[0].heartbeat_at > first
    })
    .await;

    b.stop(Duration::from_secs(1)).await;
    let ids = |live: Vec<pushway_gateway::store::postgres::LiveNode>| {
        live.into_iter().map(|n| n.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store
            .live_nodes(Duration::from_secs(30))
            .await
            .expect("nodes")),
        ["node-a"]
    );
    // A node that died (dropped: no graceful stop) keeps its row, and stops counting as live
    // once its heartbeat is older than two of its intervals.
    drop(a);
    within_10s("a no longer live", async || {
        let live = store
            .live_nodes(Duration::from_secs(2))
            .await
            .expect("nodes");
        live.is_empty()
    })
    .await;
    let rows: i64 = sqlx::query("SELECT count(*) FROM nodes")
        .fetch_one(store.pool())
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_request_waiting_on_one_node_answers_once_another_node_records_the_outcome() {
    let url = fresh_database();
    let b = node(&url, "node-b").await;
    // Node a: a store whose writer is this test. Its message is due only in an hour, so no
    // worker claims it but this test's, which records the outcome as a's writer would.
    let a = PgStore::open(&url, 2).await.expect("store");
    let later = now_ms() + 3_600_000;
    commit_at(&a, "waited", "{}".to_owned(), later).await;
    let record = async {
        // Once b's request below is waiting (it reads the status first: not known yet).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let claimed = a.claim(later, later + 60_000, 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        let outcome = OutcomeRecord {
            delivery_id: claimed[0].id,
            state: DeliveryState::Delivered,
            run_at: later,
            outcome: "delivered".to_owned(),
            reason: None,
            retried: false,
        };
        let batch = WriteBatch {
            outcomes: vec![outcome],
            ..WriteBatch::default()
        };
        a.record(&batch, later).await.expect("record");
    };
    // Waits up to a minute (as `POST …?wait=60s` on b would): only a's notification can end
    // the wait before the 10 s deadline, b's own writer recorded nothing.
    let wait = b
        .gateway()
        .service()
        .status_within("demo", "waited", Duration::from_secs(60));
    let (status, ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(wait, record)
    })
    .await
    .expect("b's wait ended by a's commit, not by its own deadline");
    let status = serde_json::to_value(status.expect("the status")).expect("json");
    let device = &devices_of(&status, "bob")[0];
    assert_eq!(device["state"], "delivered", "{status:#}");
    assert_eq!(device["last_outcome"], "delivered", "{status:#}");
}
