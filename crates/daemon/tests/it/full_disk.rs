//! A full or unwritable disk under the SQLite store: a push is `Queued` only when it is stored,
//! a store error is `Retry`, and the store works again without a restart once the disk does.

use pushway_core::{Notification, Outcome, PushProvider};
use pushway_daemon::{DaemonProvider, Hub, REASON_STORE, SqliteStore};

use crate::support::*;
use crate::tinyfs::TinyFs;

fn big(id: &str) -> Notification {
    let mut n = notification(id);
    // A few pages per push, so a full disk is hit within a few appends.
    n.body = format!("{id}:{}", "x".repeat(6000));
    n
}

/// Sends `ids` one by one to an offline device; returns the ids reported `Queued` and how many
/// were `Retry` (`queue_store`). Anything else fails the test.
async fn send_all(
    provider: &DaemonProvider,
    ids: impl Iterator<Item = String>,
) -> (Vec<String>, usize) {
    let mut queued = Vec::new();
    let mut retried = 0;
    for id in ids {
        match within(provider.send(&big(&id), &[device("phone-1")]))
            .await
            .as_slice()
        {
            [Outcome::Queued] => queued.push(id),
            [Outcome::Retry { reason, .. }] if reason.code() == REASON_STORE => retried += 1,
            other => panic!("{id}: unexpected outcome {other:?}"),
        }
    }
    (queued, retried)
}

/// Every push reported `Queued` is in the store, in order, and nothing else is.
async fn assert_stored_exactly(store: &SqliteStore, queued: &[String]) {
    use pushway_daemon::QueueStore;
    let pending = store.pending(&key("phone-1"), 0, 0, 10_000).await.unwrap();
    let stored: Vec<String> = pending.pushes.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        stored, queued,
        "the pushes reported Queued are exactly the stored ones"
    );
}

async fn check_disk_trouble(fs: &TinyFs, break_disk: impl Fn(&TinyFs), fix_disk: impl Fn(&TinyFs)) {
    let path = fs.path().join("queue.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let hub = Hub::builder(auth()).store(store.clone()).build();
    let provider = hub.provider();

    let (mut queued, retried) = send_all(&provider, (0..4).map(|i| format!("before-{i}"))).await;
    assert_eq!((queued.len(), retried), (4, 0));

    break_disk(fs);
    let (during, retried) = send_all(&provider, (0..34).map(|i| format!("during-{i}"))).await;
    assert!(
        retried > 0,
        "the disk is full or read-only: some appends must fail"
    );
    queued.extend(during);

    // Space (or write access) returns: appends succeed again, without a restart.
    fix_disk(fs);
    let (after, retried) = send_all(&provider, (0..10).map(|i| format!("after-{i}"))).await;
    assert_eq!((after.len(), retried), (10, 0), "the store recovered");
    queued.extend(after);
    assert_stored_exactly(&store, &queued).await;

    // And they survive a restart.
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_stored_exactly(&store, &queued).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_never_reports_queued_for_a_push_it_did_not_store() {
    let fs = TinyFs::mount("full", 768);
    check_disk_trouble(&fs, TinyFs::fill, TinyFs::free).await;
}

/// A database file that is unwritable when the store's connections open it (as after a wrong
/// permission): SQLite opens it read-only and every append fails (`Retry`). Once the file is
/// writable again, appends succeed without a restart: the connections that failed were closed,
/// not kept read-only in the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_database_file_never_reports_queued_and_recovers() {
    let fs = TinyFs::mount("unwritable", 4096);
    let path = fs.path().join("queue.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let (mut queued, _) = send_all(&store_hub(&store), (0..2).map(|i| format!("before-{i}"))).await;
    assert_eq!(queued.len(), 2);
    store.close().await;

    fs.make_unwritable(&path);
    let store = SqliteStore::open(&path).await.unwrap();
    let provider = store_hub(&store);
    let (during, retried) = send_all(&provider, (0..5).map(|i| format!("during-{i}"))).await;
    assert_eq!((during.len(), retried), (0, 5), "nothing can be stored");

    fs.make_writable(&path);
    let (after, retried) = send_all(&provider, (0..5).map(|i| format!("after-{i}"))).await;
    assert_eq!((after.len(), retried), (5, 0), "the store recovered");
    queued.extend(after);
    assert_stored_exactly(&store, &queued).await;
    store.close().await;
}

fn store_hub(store: &SqliteStore) -> DaemonProvider {
    Hub::builder(auth()).store(store.clone()).build().provider()
}
