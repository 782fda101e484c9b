//! Three `pushway serve` nodes on one Postgres; messages posted spread over them; one node
//! killed with `kill -9` mid-load and started again. Every acknowledged (message, device)
//! reaches its simulator, and the only deliveries sent twice are those the killed node held.
//!
//! Which rows the killed node held is read from the store right after the kill, by their lease:
//! the killed node's lease is [`KILLED_LEASE_SECS`], the live nodes' [`LIVE_LEASE_SECS`]. A
//! live node's row leased at time t runs to t + 5 s, so at the snapshot (taken at s) every live
//! lease ends by s + 5 s (plus the statement's own time, [`MARGIN_MS`]); the killed node's rows,
//! claimed shortly before the kill, run to about kill + 15 s. So the in-flight rows whose lease
//! ends after s + 5 s + margin are the killed node's, and no other process sends them until
//! their lease runs out (the killed node's connections are gone, so their sends are over too).
//!
//! Why that shows no delivery was claimed by two live nodes at once: the simulators record every
//! send; a (message, token) pair sent twice is either one the killed node held (sent by it before
//! the kill, and again by whoever claims it once its lease runs out) or one that two processes
//! held leases on at once, which is the double claim `FOR UPDATE SKIP LOCKED` rules out. With
//! simulators that answer every send `200` (no retries) and leases far longer than a send, there
//! is no third way to be sent twice. So: every duplicate is a held pair, sent exactly twice, and
//! the duplicates are at most the held rows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pushway_mock::apns::TestKey;
use sqlx::{PgPool, Row};

use crate::children::{Files, GatewayProcess, SimulatorProcess};
use crate::simulators::Control;
use crate::support::{self, Poster, SIMULATORS, WAIT};

/// The nodes.
const NODES: usize = 3;
/// Messages posted: 50 deliveries each (20 recipients of 2.5 devices on average).
const MESSAGES: usize = 1_000;
/// The (message, device) deliveries of [`MESSAGES`].
const DELIVERIES: usize = 50_000;
/// Concurrent senders of messages.
const SENDERS: usize = 4;
/// The lease of the node that is killed (node 0).
const KILLED_LEASE_SECS: u64 = 15;
/// The lease of the other nodes: far longer than a send (the simulators' latency).
const LIVE_LEASE_SECS: u64 = 5;
/// Slack for the snapshot statement's own time (see the module docs).
const MARGIN_MS: i64 = 1_000;
/// The simulators' added latency, so deliveries are in flight when the node dies.
const LATENCY_MS: u64 = 50;
/// The kill comes once APNs has received this many requests (of 20,000: APNs has two of the
/// five channels).
const KILL_AFTER_APNS_REQUESTS: u64 = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_one_killed_lose_nothing_and_never_share_a_claim() {
    let started = Instant::now();
    let postgres = tokio::task::spawn_blocking(support::start_postgres)
        .await
        .expect("start Postgres");
    let url = postgres.create_database().expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = Files::in_dir(dir.path());
    let key = TestKey::generate();
    std::fs::write(&files.apns_key, key.private_key_pem()).expect("write the APNs key");
    std::fs::write(&files.apns_public_key, key.public_key_pem()).expect("write its public key");
    let sims = SimulatorProcess::start(dir.path()).await;
    let control = Control::new(&sims.urls.control);
    let mut configs = Vec::new();
    for n in 0..NODES {
        let lease = if n == 0 {
            KILLED_LEASE_SECS
        } else {
            LIVE_LEASE_SECS
        };
        let name = format!("node{n}");
        let config = support::node_config(&sims.urls, &files, &url, dir.path(), &name, lease);
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config).expect("write a config");
        configs.push(path);
    }
    let mut nodes = Vec::new();
    for config in &configs {
        nodes.push(GatewayProcess::start(config).await);
    }
    support::register_everyone(&nodes[1].base).await;
    for simulator in SIMULATORS {
        control
            .set_faults(simulator, &[&format!("latency={LATENCY_MS}")])
            .await;
    }

    let bases = nodes.iter().map(|n| n.base.clone()).collect();
    let poster = Arc::new(Poster::new(bases, Duration::from_secs(40)));
    let acked: Arc<std::sync::Mutex<BTreeMap<usize, String>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (poster, acked, next) = (poster.clone(), acked.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let m = next.fetch_add(1, Ordering::SeqCst);
                    if m >= MESSAGES {
                        return;
                    }
                    let id = poster.post(m, m % NODES).await;
                    acked.lock().expect("lock").insert(m, id);
                }
            })
        })
        .collect();
    let pool = PgPool::connect(&url).await.expect("connect to the store");
    let deadline = Instant::now() + WAIT;
    while control.requests("apns").await < KILL_AFTER_APNS_REQUESTS {
        assert!(
            Instant::now() < deadline,
            "APNs never got {KILL_AFTER_APNS_REQUESTS} requests"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let killed_at = started.elapsed();
    let acked_at_kill = acked.lock().expect("lock").len();
    nodes.remove(0).kill9().await;
    let snapshot_ms = support::now_ms();
    let in_flight = sqlx::query(
        "SELECT m.idempotency_key, d.token, d.lease_until FROM deliveries d
         JOIN messages m ON m.id = d.message_id WHERE d.state = 'in_flight'",
    )
    .fetch_all(&pool)
    .await
    .expect("the in-flight rows");
    let live_lease_end =
        snapshot_ms + i64::try_from(LIVE_LEASE_SECS * 1000).expect("ms") + MARGIN_MS;
    let held: BTreeSet<(String, String)> = in_flight
        .iter()
        .filter(|row| {
            row.get::<Option<i64>, _>(2)
                .is_some_and(|end| end > live_lease_end)
        })
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let at_kill = support::states(&pool).await;
    let restarted = GatewayProcess::start(&configs[0]).await;
    poster.bases.lock().expect("lock")[0] = restarted.base.clone();
    nodes.insert(0, restarted);

    for sender in senders {
        sender.await.expect("a sender");
    }
    assert_eq!(acked.lock().expect("lock").len(), MESSAGES);
    support::wait_all_delivered(&pool, DELIVERIES).await;

    let (counts, totals) = support::received(&control).await;
    let expected = support::expected(MESSAGES);
    assert_eq!(expected.len(), DELIVERIES);
    support::assert_exactly(&counts, &expected);
    let received: usize = counts.values().sum();
    let duplicates = received - counts.len();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let answers = poster.answers.lock().expect("lock").clone();

    println!("three nodes, one killed: {MESSAGES} messages, {DELIVERIES} deliveries");
    println!(
        "  kill -9 of node 0 after {:.1} s: {acked_at_kill}/{MESSAGES} acknowledged; rows by state {at_kill:?}",
        killed_at.as_secs_f64()
    );
    println!(
        "  in flight at the kill {}, of them held by the killed node {}",
        in_flight.len(),
        held.len()
    );
    println!("  answers: {answers:?}");
    println!(
        "  received {received} ({totals:?} by {SIMULATORS:?}), distinct {} = acknowledged {DELIVERIES}",
        counts.len()
    );
    println!(
        "  duplicates {duplicates} <= held by the killed node {}",
        held.len()
    );
    println!("  took {:.1} s", started.elapsed().as_secs_f64());
    for &(pair, n) in &twice {
        assert!(
            held.contains(pair),
            "{pair:?} sent {n} times, not held by the killed node"
        );
        assert_eq!(*n, 2, "{pair:?} sent {n} times");
    }
    assert!(duplicates <= held.len());
    assert!(
        !held.is_empty(),
        "the kill landed with nothing held: {at_kill:?}"
    );
    assert!(
        at_kill.get("delivered").copied().unwrap_or(0) < DELIVERIES,
        "the kill landed after the end: {at_kill:?}"
    );
    pool.close().await;
    drop(nodes);
    drop(sims);
    drop(postgres);
}
