//! The gateway's crash test (issue 14): `kill -9` at any moment loses nothing that was
//! acknowledged with `202`.
//!
//! Three processes:
//! - this test, playing an IM back end through the HTTP API only;
//! - the `pushway` binary (`pushway serve --config FILE`, `CARGO_BIN_EXE_pushway`), killed with
//!   SIGKILL mid-flight and started again on the same SQLite file;
//! - the vendor simulators (APNs over TLS, Xiaomi, Huawei, FCM over TLS) with `pushway_mock::control`'s
//!   endpoint, the one the `pushway-mock` binary serves, so the test reads what each simulator
//!   received from outside its process (`/_control/received`) and slows them down
//!   (`latency=MS` through `/_control/faults`) so the kill lands while deliveries are in flight.
//!
//! The simulator process is this test binary run again with `--exact crash_simulators
//! --ignored` ([`crash_simulators`], which does nothing unless [`children::SIMULATORS_ENV`] is
//! set): Cargo gives a test only the paths of its own package's binaries, and `pushway-mock`
//! belongs to another package, so it is not built by `cargo nextest run -p pushway`; re-running
//! this binary works the same under `-p pushway` and `--workspace`, with nothing to build or
//! locate. The child serves until its stdin closes, so it cannot outlive the test.
//!
//! What is asserted (counts, never timings): after the restart and a bounded wait for every
//! delivery's status to be final, every acknowledged (message, device) reached its simulator
//! (the set of distinct (message, token) pairs received equals the acknowledged deliveries,
//! exactly [`traffic::DELIVERIES`]); every status is `delivered`; APNs answered every request 200
//! and each `apns-id` is the one pushway derives from the message id and the token; the
//! duplicates are at most the rows leased (`in_flight` in the store) at the kill, read from the
//! SQLite file between the kill and the restart, which is itself at most what one worker can
//! hold: `claim_batch × (max_in_flight + 1)` (one claim being handed out, and one group of at
//! most a claim per dispatch slot).
//!
//! The app also has a signed webhook posting to a receiver in this process ([`webhooks`]):
//! after the restart every delivery has exactly one `delivered` event (one event id), each
//! request's signature verifies, and the events posted twice are at most those unanswered in the
//! store at the kill.

#![cfg(unix)]

mod children;
mod simulators;
mod traffic;
mod webhooks;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pushway_mock::apns::TestKey;
use serde_json::Value;
use sqlx::Row;

use children::{Files, GatewayProcess, SimulatorProcess, SimulatorUrls};
use simulators::Control;
use traffic::{APP, Api, DELIVERIES, MESSAGES, USERS};

/// Rows a claim takes (`worker.claim_batch`).
const CLAIM_BATCH: usize = 100;
/// Dispatches in flight at once (`worker.max_in_flight`).
const MAX_IN_FLIGHT: usize = 8;
/// Leases outlive the slowest send by far (200 ms here), so only the crash re-sends.
const LEASE_SECS: u64 = 5;
/// The simulators' added latency before the kill: deliveries stay in flight that long.
const LATENCY_MS: u64 = 200;
/// The kill comes once APNs has received this many requests (of about 4,000).
const KILL_AFTER_APNS_REQUESTS: u64 = 300;
/// Concurrent senders of messages.
const SENDERS: usize = 2;
/// The bound on each wait (the kill's trigger, settling after the restart).
const WAIT: Duration = Duration::from_secs(90);
/// Every vendor channel's simulator, by its control name.
const SIMULATORS: [&str; 4] = ["apns", "xiaomi", "huawei", "fcm"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_flight_loses_no_acknowledged_delivery() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = Files::in_dir(dir.path());
    let key = TestKey::generate();
    std::fs::write(&files.apns_key, key.private_key_pem()).expect("write the APNs key");
    std::fs::write(&files.apns_public_key, key.public_key_pem()).expect("write its public key");
    let sims = SimulatorProcess::start(dir.path()).await;
    let (receiver, hook_url) = webhooks::Receiver::start().await;
    let config = config(&sims.urls, &files) + &webhooks::config_section(APP, &hook_url);
    std::fs::write(&files.config, config).expect("write the config");
    let control = Control::new(&sims.urls.control);

    let gateway = GatewayProcess::start(&files.config).await;
    let api = Api::new(&gateway.base);
    traffic::register_everyone(&api).await;
    for simulator in SIMULATORS {
        control
            .set_faults(simulator, &[&format!("latency={LATENCY_MS}")])
            .await;
    }

    // Send every message, acknowledged ids kept; keep sending until the kill cuts us off.
    let acked: Arc<Mutex<BTreeMap<usize, String>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (api, acked, next) = (api.clone(), acked.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let m = next.fetch_add(1, Ordering::SeqCst);
                    if m >= MESSAGES {
                        return;
                    }
                    match api.post(m).await {
                        Ok(id) => {
                            acked.lock().expect("lock").insert(m, id);
                        }
                        // The gateway died: this message is retried after the restart.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    while control.requests("apns").await < KILL_AFTER_APNS_REQUESTS {
        assert!(
            Instant::now() < deadline,
            "APNs never got {KILL_AFTER_APNS_REQUESTS} requests"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let acked_at_kill = acked.lock().expect("lock").len();
    let killed_at = started.elapsed();
    gateway.kill9().await;
    for sender in senders {
        sender.await.expect("a sender");
    }
    let at_kill = states_in(&files.db).await;
    let leased = at_kill.get("in_flight").copied().unwrap_or(0);
    let delivered_at_kill = at_kill.get("delivered").copied().unwrap_or(0);
    let events_at_kill = webhooks::unanswered_in(&files.db).await;

    // The same SQLite file, a new process; the simulators at full speed again.
    let gateway = GatewayProcess::start(&files.config).await;
    let api = Api::new(&gateway.base);
    control.clear_faults().await;
    // A message acknowledged before the kill, sent again: the same id (its key survived).
    let (first, first_id) = {
        let acked = acked.lock().expect("lock");
        let (m, id) = acked
            .iter()
            .next()
            .expect("a message acknowledged before the kill");
        (*m, id.clone())
    };
    let mut acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert_eq!(api.post(first).await.expect("202"), first_id);
    // Messages never acknowledged (the answer lost in the kill, or never sent): sent again under
    // their Idempotency-Key, as a back end retries; one whose commit survived keeps its id.
    let mut resent = 0;
    for m in 0..MESSAGES {
        if let std::collections::btree_map::Entry::Vacant(entry) = acked.entry(m) {
            entry.insert(api.post(m).await.expect("202 after the restart"));
            resent += 1;
        }
    }

    // Settled: every delivery's status is final (bounded), and all of them are delivered.
    let deadline = Instant::now() + WAIT;
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for id in acked.values() {
        let final_states = loop {
            let now = traffic::device_states(&api.status(id).await);
            if now
                .iter()
                .all(|s| ["delivered", "queued", "failed", "dead"].contains(&s.as_str()))
            {
                break now;
            }
            assert!(
                Instant::now() < deadline,
                "message {id} never settled: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for state in final_states {
            *states.entry(state).or_default() += 1;
        }
    }
    assert_eq!(
        states,
        BTreeMap::from([("delivered".to_owned(), DELIVERIES)])
    );

    // What the simulators received: every acknowledged (message, device), duplicates bounded.
    let ids_by_label: HashMap<String, &String> = acked
        .iter()
        .map(|(m, id)| (traffic::label(*m), id))
        .collect();
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut per_simulator = Vec::new();
    for simulator in SIMULATORS {
        let entries = control.received(simulator).await;
        per_simulator.push((simulator, entries.len()));
        for entry in entries {
            let token = entry["token"].as_str().expect("a token").to_owned();
            let label = entry["data"]["ext"]
                .as_str()
                .expect("the message's ext")
                .to_owned();
            // APNs and FCM recordings keep the answer: every send was answered 200 (both record
            // it before the added latency, so a send whose connection died in the kill reads 200).
            if matches!(simulator, "apns" | "fcm") {
                assert_eq!(entry["status"], 200, "{simulator}: {entry}");
            }
            if simulator == "apns" {
                let id = ids_by_label.get(&label).expect("a known message");
                let derived = pushway::apns::request::apns_id(id, &token).to_string();
                assert_eq!(entry["apns_id"], Value::String(derived), "{entry}");
            }
            *counts.entry((label, token)).or_default() += 1;
        }
    }
    // The webhook: one `delivered` event per delivery, none lost in the kill.
    let mut deliveries = BTreeSet::new();
    for (m, id) in &acked {
        for i in traffic::recipients_of(*m) {
            for device in traffic::devices_of(i) {
                deliveries.insert((id.clone(), device.user, device.id));
            }
        }
    }
    assert_eq!(deliveries.len(), DELIVERIES);
    let events = receiver.until(DELIVERIES, WAIT).await;
    let event_duplicates = webhooks::assert_one_event_per_delivery(&events, &deliveries);

    let received: usize = counts.values().sum();
    let distinct: BTreeSet<(String, String)> = counts.keys().cloned().collect();
    let expected = traffic::expected();
    assert_eq!(expected.len(), DELIVERIES);
    let missing: Vec<_> = expected.difference(&distinct).collect();
    let unexpected: Vec<_> = distinct.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged (message, token) pairs never received, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        unexpected.is_empty(),
        "{} pairs received that were never sent, e.g. {:?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(5)]
    );
    assert_eq!(distinct.len(), DELIVERIES);
    let duplicates = received - distinct.len();
    let config_bound = CLAIM_BATCH * (MAX_IN_FLIGHT + 1);

    println!("gateway crash test: {USERS} users, {MESSAGES} messages, {DELIVERIES} deliveries");
    println!(
        "  kill -9 after {:.1} s: {acked_at_kill}/{MESSAGES} messages acknowledged; rows by state {at_kill:?}",
        killed_at.as_secs_f64()
    );
    println!(
        "  after the restart: {MESSAGES}/{MESSAGES} acknowledged ({resent} sent again under their key)"
    );
    println!(
        "  received {received} ({per_simulator:?}), distinct {} = acknowledged {DELIVERIES}",
        distinct.len()
    );
    println!(
        "  duplicates {duplicates} <= leased at the kill {leased} <= claim_batch {CLAIM_BATCH} x (max_in_flight {MAX_IN_FLIGHT} + 1) = {config_bound}"
    );
    println!(
        "  webhook: {} events in {} requests, {event_duplicates} posted again <= unanswered at the kill {events_at_kill}",
        events.len(),
        receiver.requests()
    );
    println!("  took {:.1} s", started.elapsed().as_secs_f64());
    // Checked last, so that a gateway that marks rows done before sending them fails above on
    // what was lost, not here on a kill that seemed to land with nothing in flight.
    assert!(
        leased > 0,
        "the kill landed with nothing in flight: {at_kill:?}"
    );
    assert!(
        delivered_at_kill < DELIVERIES,
        "the kill landed after the end: {at_kill:?}"
    );
    assert!(
        duplicates <= leased,
        "{duplicates} duplicates, {leased} leased at the kill"
    );
    assert!(
        events_at_kill > 0,
        "the kill landed with no webhook event unanswered"
    );
    assert!(
        event_duplicates <= events_at_kill,
        "{event_duplicates} events posted again, {events_at_kill} unanswered at the kill"
    );
    assert!(
        leased <= config_bound,
        "{leased} leased, bound {config_bound}"
    );
    drop(gateway);
    drop(sims);
}

/// The simulator process of [`kill_9_mid_flight_loses_no_acknowledged_delivery`]: run by that
/// test (see the crate docs); does nothing when run any other way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the simulator process of kill_9_mid_flight_loses_no_acknowledged_delivery"]
async fn crash_simulators() {
    let Some(dir) = std::env::var_os(children::SIMULATORS_ENV) else {
        eprintln!("crash_simulators is the child process of another test; nothing to do alone");
        return;
    };
    simulators::serve(Path::new(&dir)).await;
}

/// Delivery rows by state, read from the store's file (the gateway is dead).
async fn states_in(db: &Path) -> BTreeMap<String, usize> {
    // Read-write, so SQLite recovers the write-ahead log the killed process left.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("open the store");
    let rows = sqlx::query("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        .fetch_all(&pool)
        .await
        .expect("count rows");
    pool.close().await;
    rows.iter()
        .map(|row| {
            let state: String = row.get(0);
            let n: i64 = row.get(1);
            (state, usize::try_from(n).expect("a count"))
        })
        .collect()
}

/// The gateway's configuration: the SQLite store, the worker, the app on the simulators.
fn config(urls: &SimulatorUrls, files: &Files) -> String {
    let store_and_worker = format!(
        r#"[store]
path = {db}

[worker]
lease_secs = {LEASE_SECS}
poll_interval_ms = 50
claim_batch = {CLAIM_BATCH}
max_in_flight = {MAX_IN_FLIGHT}
max_attempts = 1000
backoff_base_ms = 100
backoff_max_ms = 1000
"#,
        db = children::toml_str(&files.db.to_string_lossy()),
    );
    children::gateway_config(urls, files, &store_and_worker)
}
