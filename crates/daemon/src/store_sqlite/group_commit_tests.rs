//! Group commit: concurrent writes share transactions, are applied in the order they were
//! handed over, and every write that returned survives a reopen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::SqliteStore;
use super::commit::MAX_BATCH;
use crate::key::DeviceKey;
use crate::queue::{NewPush, QueueStore};

const NEVER: u64 = u64::MAX / 2;

fn temp_db(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "pushway-daemon-{name}-{}-{nanos}.db",
        std::process::id()
    ))
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// Takes the database's write lock from another connection, so the store's writer cannot commit
/// until [`unlock`]: what is handed over meanwhile waits, and the batching is then deterministic.
fn lock(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

fn unlock(conn: Connection) {
    conn.execute_batch("COMMIT").unwrap();
}

/// Waits until `n` writes were handed to the writer (no timing: it counts them).
async fn handed_over(store: &SqliteStore, n: u64) {
    while store.committer.handed_over() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// 1,000 concurrent appends to 100 devices: a handful of transactions, not 1,000; every one
/// durable after a reopen, each device's pushes in the order of the sequence numbers returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_transactions_and_survive_a_reopen() {
    const DEVICES: usize = 100;
    const PUSHES: usize = 1000;
    let path = temp_db("group-commit");
    let store = SqliteStore::open(&path).await.unwrap();
    let locked = lock(&path);
    let frame: Arc<str> = Arc::from(r#"{"type":"push"}"#);
    let tasks: Vec<_> = (0..PUSHES)
        .map(|i| {
            let (store, frame) = (store.clone(), frame.clone());
            tokio::spawn(async move {
                let device = DeviceKey::new("alice", &format!("d{}", i % DEVICES)).unwrap();
                let id = format!("m{i}");
                let push = NewPush {
                    id: &id,
                    frame: &frame,
                    expires_at_ms: NEVER,
                };
                let appended = store.append(&device, push, PUSHES).await.unwrap();
                assert_eq!(appended.dropped, 0);
                (device, appended.seq, id)
            })
        })
        .collect();
    handed_over(&store, PUSHES as u64).await;
    unlock(locked);
    let mut expected: HashMap<DeviceKey, Vec<(u64, String)>> = HashMap::new();
    for task in tasks {
        let (device, seq, id) = task.await.unwrap();
        expected.entry(device).or_default().push((seq, id));
    }
    // The writes the writer took before the lock was free, then full batches of the rest: with
    // batches of `MAX_BATCH`, 3 at most; without group commit, 1,000. The bound is a fixed
    // number, not computed from `MAX_BATCH`, so batches of one write fail it.
    let most = 1 + (PUSHES - 1).div_ceil(MAX_BATCH);
    let transactions = store.committer.transactions();
    assert!(
        transactions <= most as u64 && transactions <= (PUSHES / 100) as u64,
        "{transactions} transactions for {PUSHES} appends (at most {most})"
    );
    store.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(expected.len(), DEVICES);
    for (device, mut pushes) in expected {
        pushes.sort_unstable();
        assert_eq!(pushes.len(), PUSHES / DEVICES);
        let stored = store.pending(&device, 0, 0, PUSHES).await.unwrap();
        let stored: Vec<(u64, String)> = stored.pushes.into_iter().map(|p| (p.seq, p.id)).collect();
        assert_eq!(stored, pushes, "{device:?}");
    }
    store.close().await;
    remove_db(&path);
}

/// An append, a remove of the same id and a clear handed over in that order, committed in one
/// transaction: the remove sees the append, the clear sees what the remove left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_in_one_transaction_apply_in_the_order_handed_over() {
    let path = temp_db("group-order");
    let store = SqliteStore::open(&path).await.unwrap();
    let device = DeviceKey::new("alice", "phone-1").unwrap();
    let frame: Arc<str> = Arc::from("{}");
    let locked = lock(&path);
    let before = store.committer.transactions();
    // `join!` polls in order, and a first poll hands the write over (the channel has room).
    let push = |id| NewPush {
        id,
        frame: &frame,
        expires_at_ms: NEVER,
    };
    let unlocking = async {
        handed_over(&store, 4).await;
        unlock(locked);
    };
    let (a, b, removed, cleared, ()) = tokio::join!(
        store.append(&device, push("a"), 10),
        store.append(&device, push("b"), 10),
        store.remove(&device, "a"),
        store.clear(&device),
        unlocking,
    );
    assert!(a.unwrap().seq < b.unwrap().seq);
    assert_eq!(removed.unwrap(), 1);
    assert_eq!(cleared.unwrap(), ["b"]);
    // The first write may have been taken alone before the lock was free; not one each.
    assert!(store.committer.transactions() - before <= 2);
    assert_eq!(store.len(&device).await.unwrap(), 0);
    store.close().await;
    remove_db(&path);
}

/// A run of appends to two devices, one over its bound, and a run of removes with a repeated
/// pair, each committed as one statement: the over-full device keeps its newest pushes and its
/// last append counts what it lost; a repeated remove removes nothing the second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_appends_and_removes_answer_as_one_by_one() {
    let path = temp_db("group-runs");
    let store = SqliteStore::open(&path).await.unwrap();
    let x = DeviceKey::new("alice", "x").unwrap();
    let y = DeviceKey::new("bob", "y").unwrap();
    let frame: Arc<str> = Arc::from(r#"{"type":"push"}"#);
    let push = |id| NewPush {
        id,
        frame: &frame,
        expires_at_ms: NEVER,
    };
    store.append(&x, push("x-old"), 3).await.unwrap();
    let locked = lock(&path);
    let unlocking = async {
        handed_over(&store, 9).await;
        unlock(locked);
    };
    let (x0, x1, x2, x3, y0, x4, y1, removed, again, removed_y, ()) = tokio::join!(
        store.append(&x, push("x0"), 3),
        store.append(&x, push("x1"), 3),
        store.append(&x, push("x2"), 3),
        store.append(&x, push("x3"), 3),
        store.append(&y, push("y0"), 3),
        store.append(&x, push("x4"), 3),
        store.append(&y, push("y1"), 3),
        store.remove(&x, "x4"),
        store.remove(&x, "x4"),
        store.remove(&y, "y0"),
        unlocking,
    );
    let appended = [x0, x1, x2, x3, y0, x4, y1].map(Result::unwrap);
    let seqs: Vec<u64> = appended.iter().map(|a| a.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // x held 6 with its bound 3: 3 lost, counted on its last append (x4).
    let dropped: Vec<u64> = appended.iter().map(|a| a.dropped).collect();
    assert_eq!(dropped, [0, 0, 0, 0, 0, 3, 0]);
    assert_eq!(
        [removed.unwrap(), again.unwrap(), removed_y.unwrap()],
        [1, 0, 1]
    );
    let ids = |pending: crate::queue::Pending| -> Vec<String> {
        pending.pushes.into_iter().map(|p| p.id).collect()
    };
    assert_eq!(
        ids(store.pending(&x, 0, 0, 10).await.unwrap()),
        ["x2", "x3"]
    );
    assert_eq!(ids(store.pending(&y, 0, 0, 10).await.unwrap()), ["y1"]);
    store.close().await;
    remove_db(&path);
}
