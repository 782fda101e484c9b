//! The chaos scenario in one run: three `pushway serve` nodes on one Postgres, 50,000
//! deliveries posted over them; mid-load node 0 is killed with `kill -9` and started again, then
//! Postgres crashes (`pg_ctl stop -m immediate`) and comes back, all during the one load.
//! Every acknowledged (message, device) reaches its simulator; the only deliveries sent twice
//! are those the killed node held, each exactly twice, one of the two sends the killed node's.
//!
//! **Which node sent what.** Each node process has simulators of its own (a simulator process
//! per node, and one more for node 0 once started again), so the simulators' records say which
//! process sent every request: set 0 is the killed node, sets 1 and 2 the live nodes, set 3 the
//! restarted node 0 (the same configuration but for the simulators' addresses). A pair sent by
//! two live processes would be a delivery two live nodes had claimed; the test asserts there is
//! none: every pair sent twice has one of its sends in set 0.
//!
//! **What the killed node held** is read from the store right after the kill, by lease, as in the
//! SQLite crash test but among nodes: the killed node's lease is [`KILLED_LEASE_SECS`], the
//! others' [`LIVE_LEASE_SECS`]; at the snapshot (time s) every live lease ends by s +
//! [`LIVE_LEASE_SECS`] (+ [`MARGIN_MS`] for the statement's own time), the killed node's rows,
//! claimed shortly before the kill, later. Those rows go out again once their lease runs out.
//!
//! **Why the Postgres crash adds no duplicate.** While Postgres is down ([`OUTAGE`]), the nodes'
//! outcome writers retry (each attempt waits up to the pool's 10-second acquire timeout), and a
//! row leased just before the crash stays leased until [`LIVE_LEASE_SECS`] after it, longer than
//! the outage and a writer's attempt: the outcome lands before anyone may claim the row again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};

use crate::children::{GatewayProcess, SimulatorProcess};
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
/// The lease of node 0 (killed, then started again with the same configuration).
const KILLED_LEASE_SECS: u64 = 40;
/// The lease of the other nodes: longer than the Postgres outage plus a writer's attempt (see
/// the module docs), far shorter than the killed node's.
const LIVE_LEASE_SECS: u64 = 25;
/// Slack for the snapshot statement's own time.
const MARGIN_MS: i64 = 1_000;
/// The simulators' added latency, so deliveries are in flight at the kill and at the crash.
const LATENCY_MS: u64 = 50;
/// The added latency of node 0's first simulators: its claimed rows stay in flight longer, so
/// the kill finds some held (with 50 ms, node 0 was seen between two claims at the kill).
const KILLED_LATENCY_MS: u64 = 400;
/// The kill comes once APNs (all simulator sets) has received this many requests, of 20,000
/// (APNs has two of the five channels).
const KILL_AFTER_APNS_REQUESTS: u64 = 3_000;
/// Postgres crashes once the restarted node is up and APNs has received this many requests.
const CRASH_AFTER_APNS_REQUESTS: u64 = 8_000;
/// How long Postgres stays down: longer than the pool's acquire timeout (10 s), so requests
/// meet the outage and get `503`.
const OUTAGE: Duration = Duration::from_secs(11);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_node_killed_then_postgres_restarted_in_one_load() {
    let started = Instant::now();
    let (postgres, url, dir, files) = support::ground().await;
    // A simulator process per node process: 0, 1, 2, and 3 for node 0 started again.
    let mut sims = Vec::new();
    for _ in 0..=NODES {
        sims.push(SimulatorProcess::start(dir.path()).await);
    }
    let controls: Vec<Control> = sims.iter().map(|s| Control::new(&s.urls.control)).collect();
    let mut configs = Vec::new();
    for (n, sim) in sims.iter().enumerate() {
        // Set 3 is node 0's second life: node 0's lease.
        let lease = if n % NODES == 0 {
            KILLED_LEASE_SECS
        } else {
            LIVE_LEASE_SECS
        };
        let name = format!("node{n}");
        let config = support::node_config(&sim.urls, &files, &url, dir.path(), &name, lease);
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config).expect("write a config");
        configs.push(path);
    }
    let mut nodes = Vec::new();
    for config in &configs[..NODES] {
        nodes.push(GatewayProcess::start(config).await);
    }
    crate::traffic::register_everyone(&crate::traffic::Api::new(&nodes[1].base)).await;
    for (set, control) in controls.iter().enumerate() {
        let latency = if set == 0 {
            KILLED_LATENCY_MS
        } else {
            LATENCY_MS
        };
        for simulator in SIMULATORS {
            control
                .set_faults(simulator, &[&format!("latency={latency}")])
                .await;
        }
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
    wait_for_apns(&controls, KILL_AFTER_APNS_REQUESTS).await;
    // And until node 0 holds rows (a lease longer than any live node's), so the kill finds some.
    let deadline = Instant::now() + WAIT;
    loop {
        let node0_lease =
            support::now_ms() + i64::try_from(LIVE_LEASE_SECS * 1000).expect("ms") + MARGIN_MS;
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE state = 'in_flight' AND lease_until > $1",
        )
        .bind(node0_lease)
        .fetch_one(&pool)
        .await
        .expect("count node 0's rows");
        if held > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "node 0 never held rows");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The kill, what node 0 held, and node 0 started again.
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
    let restarted = GatewayProcess::start(&configs[NODES]).await;
    poster.bases.lock().expect("lock")[0] = restarted.base.clone();
    nodes.insert(0, restarted);
    pool.close().await;

    // The Postgres crash, once the restarted node is in the load.
    wait_for_apns(&controls, CRASH_AFTER_APNS_REQUESTS).await;
    let crashed_at = started.elapsed();
    let acked_at_crash = acked.lock().expect("lock").len();
    let before_crash = poster.answers.lock().expect("lock").clone();
    let pg = Arc::new(postgres);
    let stopper = pg.clone();
    tokio::task::spawn_blocking(move || stopper.stop(true))
        .await
        .expect("join")
        .expect("pg_ctl stop -m immediate");
    let apns_at_crash = apns_requests(&controls).await;
    tokio::time::sleep(OUTAGE).await;
    let during = poster.answers.lock().expect("lock").clone();
    let starter = pg.clone();
    tokio::task::spawn_blocking(move || starter.start_again())
        .await
        .expect("join")
        .expect("Postgres starts again");

    for sender in senders {
        sender.await.expect("a sender");
    }
    assert_eq!(acked.lock().expect("lock").len(), MESSAGES);
    let pool = PgPool::connect(&url)
        .await
        .expect("connect to the store again");
    support::wait_all_delivered(&pool, DELIVERIES).await;

    // Every send, by the simulator set (node process) it reached.
    let mut sends: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut by_set = Vec::new();
    for (set, control) in controls.iter().enumerate() {
        let (counts, _) = support::received(control).await;
        by_set.push(counts.values().sum::<usize>());
        for (pair, n) in counts {
            sends
                .entry(pair)
                .or_default()
                .extend(std::iter::repeat_n(set, n));
        }
    }
    let counts: BTreeMap<(String, String), usize> = sends
        .iter()
        .map(|(pair, sets)| (pair.clone(), sets.len()))
        .collect();
    let expected = support::expected(MESSAGES);
    assert_eq!(expected.len(), DELIVERIES);
    support::assert_exactly(&counts, &expected);
    let received: usize = counts.values().sum();
    let duplicates = received - counts.len();
    let twice: Vec<_> = sends.iter().filter(|(_, sets)| sets.len() > 1).collect();
    let answers = poster.answers.lock().expect("lock").clone();

    println!("one run: {NODES} nodes, {MESSAGES} messages, {DELIVERIES} deliveries");
    println!(
        "  kill -9 of node 0 after {:.1} s: {acked_at_kill}/{MESSAGES} acknowledged; rows by state {at_kill:?}",
        killed_at.as_secs_f64()
    );
    println!(
        "  in flight at the kill {}, of them held by the killed node {}",
        in_flight.len(),
        held.len()
    );
    println!(
        "  Postgres crashed after {:.1} s with {acked_at_crash}/{MESSAGES} acknowledged, APNs requests {apns_at_crash} of {}; down {:.1} s",
        crashed_at.as_secs_f64(),
        DELIVERIES * 2 / 5,
        OUTAGE.as_secs_f64()
    );
    println!(
        "  answers before the crash {before_crash:?}, by its end {during:?}, in all {answers:?}"
    );
    println!(
        "  received {received} (by node process: killed {}, node 1 {}, node 2 {}, restarted {}), distinct {} = acknowledged {DELIVERIES}",
        by_set[0],
        by_set[1],
        by_set[2],
        by_set[3],
        counts.len()
    );
    println!(
        "  duplicates {duplicates} <= held by the killed node {}",
        held.len()
    );
    println!("  took {:.1} s", started.elapsed().as_secs_f64());
    for (pair, sets) in &twice {
        assert_eq!(sets.len(), 2, "{pair:?} sent by node processes {sets:?}");
        assert!(
            sets.contains(&0),
            "{pair:?} sent by two live node processes {sets:?}"
        );
        assert!(
            held.contains(*pair),
            "{pair:?} sent twice ({sets:?}), not held by the killed node"
        );
    }
    assert!(duplicates <= held.len());
    // Each event landed mid-load: the kill with rows held and deliveries left, the crash with
    // requests met (answered 503, retried) and deliveries left.
    assert!(
        !held.is_empty(),
        "the kill landed with nothing held: {at_kill:?}"
    );
    assert!(
        at_kill.get("delivered").copied().unwrap_or(0) < DELIVERIES,
        "the kill landed after the end: {at_kill:?}"
    );
    assert!(
        during.unavailable > before_crash.unavailable,
        "no request met the outage: {during:?}"
    );
    assert!(
        apns_at_crash < u64::try_from(DELIVERIES * 2 / 5).expect("a count"),
        "the crash landed after the last APNs send"
    );
    assert!(by_set[NODES] > 0, "the restarted node sent nothing");
    assert_eq!(answers.accepted, MESSAGES);
    pool.close().await;
    drop(nodes);
    drop(sims);
    drop(pg);
}

/// APNs requests received so far, all simulator sets.
async fn apns_requests(controls: &[Control]) -> u64 {
    let mut total = 0;
    for control in controls {
        total += control.requests("apns").await;
    }
    total
}

/// Waits (bounded) until APNs has received `n` requests, all simulator sets.
async fn wait_for_apns(controls: &[Control], n: u64) {
    let deadline = Instant::now() + WAIT;
    while apns_requests(controls).await < n {
        assert!(Instant::now() < deadline, "APNs never got {n} requests");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
