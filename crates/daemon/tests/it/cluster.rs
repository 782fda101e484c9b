//! Several hubs (nodes) on one Postgres database: pushes accepted by one node reach the device
//! on another, in order; presence and revocations are cluster-wide; a lost listener loses
//! nothing.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::{Outcome, Presence, PushProvider};
use pushway_daemon::protocol::ServerFrame;
use pushway_daemon::{
    ClusterOptions, DeviceKey, HubBuilder, NewPush, PgCluster, PgStore, QueueStore,
};

use crate::support::{
    RawWs, TestHub, USER, assert_closed_with, device, eventually, key, next_frame, notification,
    raw_authenticated, send_text, within,
};

/// One node: a hub over its own pool and listener on the shared database.
struct Node {
    t: TestHub,
    store: PgStore,
    cluster: PgCluster,
}

impl Node {
    async fn start(url: &str, name: &str) -> Node {
        Node::start_with(url, ClusterOptions::new(name)).await
    }

    async fn start_with(url: &str, options: ClusterOptions) -> Node {
        Node::start_built(url, options, |b| b).await
    }

    async fn start_built(
        url: &str,
        options: ClusterOptions,
        build: impl FnOnce(HubBuilder) -> HubBuilder,
    ) -> Node {
        let store = PgStore::connect(url, "app").await.unwrap();
        let cluster = store
            .start_cluster(
                options
                    .heartbeat(Duration::from_millis(100))
                    .stale_after(Duration::from_secs(1)),
            )
            .await
            .unwrap();
        let t = TestHub::start(|b| build(b.store(store.clone()).cluster(cluster.clone()))).await;
        Node { t, store, cluster }
    }

    /// Whether this node sees `id` (of [`USER`]) connected, here or elsewhere.
    fn sees(&self, id: &str) -> bool {
        Presence::is_connected(&self.t.hub, &device(id))
    }

    async fn send(&self, id: &str, to: &str) -> Vec<Outcome> {
        self.t.provider.send(&notification(id), &[device(to)]).await
    }
}

fn database() -> String {
    pushway_mock::postgres::shared_database().unwrap()
}

/// The id of the next push on `ws` (pings skipped).
async fn next_push(ws: &mut RawWs) -> String {
    loop {
        match next_frame(ws).await {
            Some(ServerFrame::Push { id, .. }) => return id,
            Some(ServerFrame::Ping) => send_text(ws, r#"{"type":"pong"}"#).await,
            other => panic!("expected a push, got {other:?}"),
        }
    }
}

async fn ack(ws: &mut RawWs, id: &str) {
    send_text(ws, &format!(r#"{{"type":"ack","id":"{id}"}}"#)).await;
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

#[tokio::test]
async fn a_push_sent_through_node_b_reaches_the_device_on_node_a_in_order() {
    let url = database();
    let a = Node::start(&url, "a").await;
    let b = Node::start(&url, "b").await;
    let mut ws = raw_authenticated(&a.t.url(), &a.t.token("phone")).await;
    // Presence is cluster-wide: node b sees the device on node a.
    eventually(async || b.sees("phone")).await;
    assert!(a.t.hub.is_connected(USER, "phone"));
    assert!(!b.t.hub.is_connected(USER, "phone"));

    for id in ids(0..20) {
        // Not connected to b: queued there, delivered by a.
        assert_eq!(b.send(&id, "phone").await, [Outcome::Queued]);
    }
    let mut got = Vec::new();
    for _ in 0..20 {
        let id = within(next_push(&mut ws)).await;
        ack(&mut ws, &id).await;
        got.push(id);
    }
    assert_eq!(got, ids(0..20));
    eventually(async || b.t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    assert_eq!(
        a.t.hub.stats().delivered,
        0,
        "a only replays from the queue"
    );

    drop(ws);
    eventually(async || !b.sees("phone") && !a.sees("phone")).await;
}

/// A push appended on node b rides in its wake-up: node a sends it without reading the queue
/// when nothing before it is unsent, and reads the queue when something is (here: a push that
/// did not fit the in-flight window of two) or when the push is too long to carry.
#[tokio::test]
async fn node_a_sends_a_push_from_its_wake_up_when_it_follows_on_and_reads_otherwise() {
    let url = database();
    let a = Node::start_built(&url, ClusterOptions::new("a"), |b| b.max_in_flight(2)).await;
    let b = Node::start(&url, "b").await;
    let mut ws = raw_authenticated(&a.t.url(), &a.t.token("phone")).await;
    eventually(async || b.sees("phone")).await;
    // The first push may race the connection's first read: counted from the second on.
    b.send("m0", "phone").await;
    assert_eq!(within(next_push(&mut ws)).await, "m0");
    ack(&mut ws, "m0").await;
    eventually(async || b.t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    let before = a.t.hub.stats().sent_carried;

    // Each acked before the next is sent: each follows on.
    for id in ids(1..6) {
        assert_eq!(b.send(&id, "phone").await, [Outcome::Queued]);
        assert_eq!(within(next_push(&mut ws)).await, id);
        ack(&mut ws, &id).await;
    }
    assert_eq!(a.t.hub.stats().sent_carried - before, 5);

    // m6 and m7 fill the window and follow on; m8 does not fit and waits in the queue; m9's
    // wake-up comes while m8 is unsent: both are read as acks make room.
    for id in ids(6..10) {
        b.send(&id, "phone").await;
    }
    let mut got = Vec::new();
    for _ in 6..10 {
        let id = within(next_push(&mut ws)).await;
        ack(&mut ws, &id).await;
        got.push(id);
    }
    assert_eq!(got, ids(6..10));
    assert_eq!(a.t.hub.stats().sent_carried - before, 7);

    // Too long to carry (a notification payload stays under 8,000 bytes): woken by name, read.
    eventually(async || b.t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    let mut long = notification("m10");
    long.body = "x".repeat(9_000);
    assert_eq!(
        b.t.provider.send(&long, &[device("phone")]).await,
        [Outcome::Queued]
    );
    let Some(ServerFrame::Push { id, notification }) = within(next_frame(&mut ws)).await else {
        panic!("expected the long push");
    };
    assert_eq!((id.as_str(), notification.body.len()), ("m10", 9_000));
    assert_eq!(a.t.hub.stats().sent_carried - before, 7);
}

#[tokio::test]
async fn a_device_moving_from_node_a_to_node_b_gets_its_queue_in_order() {
    let url = database();
    let a = Node::start(&url, "a").await;
    let b = Node::start(&url, "b").await;
    let mut ws = raw_authenticated(&a.t.url(), &a.t.token("phone")).await;
    b.send("m0", "phone").await;
    b.send("m1", "phone").await;
    assert_eq!(next_push(&mut ws).await, "m0");
    ack(&mut ws, "m0").await;
    // m1 arrives and is never acked: it stays queued.
    assert_eq!(next_push(&mut ws).await, "m1");
    drop(ws);
    eventually(async || !a.t.hub.is_connected(USER, "phone")).await;
    for id in ["m2", "m3"] {
        assert_eq!(a.send(id, "phone").await, [Outcome::Queued]);
    }

    let mut ws = raw_authenticated(&b.t.url(), &b.t.token("phone")).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let id = next_push(&mut ws).await;
        ack(&mut ws, &id).await;
        got.push(id);
    }
    assert_eq!(got, ["m1", "m2", "m3"]);
    eventually(async || a.t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    eventually(async || a.sees("phone")).await;
}

#[tokio::test]
async fn a_dead_nodes_devices_stop_counting_and_a_left_or_restarted_nodes_at_once() {
    let url = database();
    let a = Node::start(&url, "a").await;
    let b = Node::start(&url, "b").await;
    let c = Node::start(&url, "c").await;
    let _on_a = raw_authenticated(&a.t.url(), &a.t.token("on-a")).await;
    let _on_c = raw_authenticated(&c.t.url(), &c.t.token("on-c")).await;
    eventually(async || b.sees("on-a") && b.sees("on-c")).await;
    // Node a stops writing, as if killed: its heartbeat goes stale.
    a.cluster.halt();
    eventually(async || !b.sees("on-a")).await;
    assert!(b.sees("on-c"));
    // Node a starts again with the same id: its old entries are cleared, not live again. (Its
    // new device's connect is notified after that clearing, so once b sees it, b has seen
    // the clearing too.)
    let again = Node::start(&url, "a").await;
    let _fresh = raw_authenticated(&again.t.url(), &again.t.token("fresh")).await;
    eventually(async || b.sees("fresh")).await;
    assert!(!b.sees("on-a"));
    // Node c leaves cleanly: its entries go at once.
    c.cluster.leave().await.unwrap();
    eventually(async || !b.sees("on-c")).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM daemon_presence WHERE node = 'c'")
        .fetch_one(b.store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn a_revocation_on_node_b_closes_the_connection_on_node_a() {
    let url = database();
    let a = Node::start(&url, "a").await;
    let b = Node::start(&url, "b").await;
    let mut ws = raw_authenticated(&a.t.url(), &a.t.token("phone")).await;
    assert_eq!(b.t.hub.revoke_device(USER, "phone").await.unwrap(), 1);
    assert_closed_with(&mut ws, 4009, "auth_revoked").await;
    eventually(async || !b.sees("phone")).await;
}

/// The listener's connection is killed while pushes are being sent: the pushes committed while
/// it was away are found by the re-check after it reconnects. On one connection a push is sent
/// once (its cursor only moves forward), so each arrives exactly once.
#[tokio::test]
async fn pushes_sent_while_the_listener_is_away_still_arrive_once() {
    let url = database();
    // A pause before reconnecting, so pushes land while no listener is there.
    let a = Node::start_with(
        &url,
        ClusterOptions::new("a")
            .reconnect_backoff(Duration::from_millis(300), Duration::from_secs(1)),
    )
    .await;
    let b = Node::start(&url, "b").await;
    let mut ws = raw_authenticated(&a.t.url(), &a.t.token("phone")).await;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 60 {
            let id = next_push(&mut ws).await;
            ack(&mut ws, &id).await;
            got.push(id);
        }
        got
    });
    for id in ids(0..30) {
        b.send(&id, "phone").await;
    }
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'pushway-daemon listener a'",
    )
    .fetch_all(b.store.pool())
    .await
    .unwrap();
    assert_eq!(killed, [true]);
    // The last pushes are sent right away: their notifications find no listener.
    for id in ids(30..60) {
        b.send(&id, "phone").await;
    }
    let got = within(reader).await.unwrap();
    assert_eq!(got, ids(0..60));
    assert_eq!(a.cluster.listener_connections(), 2);
    eventually(async || b.t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
}

/// Two stores append to one device at once while a reader follows the queue with a cursor, as
/// a connection does: it misses nothing (a device's pushes commit in sequence order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_misses_nothing_while_two_nodes_append_to_one_device() {
    let url = database();
    let stores = [
        PgStore::connect(&url, "app").await.unwrap(),
        PgStore::connect(&url, "app").await.unwrap(),
    ];
    let frame: Arc<str> = Arc::from("{}");
    let per_task = 25;
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        for t in 0..3 {
            let (store, frame) = (store.clone(), frame.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..per_task {
                    let id = format!("s{n}-t{t}-{i}");
                    let push = NewPush {
                        id: &id,
                        frame: &frame,
                        expires_at_ms: u64::MAX / 2,
                    };
                    store.append(&key("phone"), push, 10_000).await.unwrap();
                }
            }));
        }
    }
    let total = tasks.len() * per_task;
    let reader = &stores[0];
    let (mut cursor, mut seen) = (0, Vec::new());
    within(async {
        while seen.len() < total {
            let page = reader
                .pending(&key("phone"), cursor, 0, 1000)
                .await
                .unwrap();
            for push in page.pushes {
                cursor = push.seq;
                seen.push(push.id);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    for task in tasks {
        task.await.unwrap();
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (total, total));
    let key = DeviceKey::new(USER, "phone").unwrap();
    assert_eq!(reader.len(&key).await.unwrap(), total);
}
