//! The same contract for every queue store.

use std::sync::Arc;

use pushway_daemon::{
    Appended, DeviceKey, MemoryStore, NewPush, Pending, PgStore, QueueStore, SqliteStore,
    StoreError,
};

use crate::support::key;

fn push<'a>(id: &'a str, frame: &'a Arc<str>, expires_at_ms: u64) -> NewPush<'a> {
    NewPush {
        id,
        frame,
        expires_at_ms,
    }
}

async fn check_contract(store: &dyn QueueStore) {
    let frame: Arc<str> = Arc::from(r#"{"type":"push"}"#);
    let never = u64::MAX / 2;
    let a1 = store
        .append(&key("d"), push("a1", &frame, never), 10)
        .await
        .unwrap();
    let b1 = store
        .append(&key("other"), push("b1", &frame, never), 10)
        .await
        .unwrap();
    let a2 = store
        .append(&key("d"), push("a2", &frame, 500), 10)
        .await
        .unwrap();
    let a3 = store
        .append(&key("d"), push("a3", &frame, never), 10)
        .await
        .unwrap();
    assert!(a1.seq < b1.seq && b1.seq < a2.seq && a2.seq < a3.seq);
    assert_eq!(a3.dropped, 0);
    assert_eq!(store.len(&key("d")).await.unwrap(), 3);

    // In order, per device, after the cursor, up to the limit.
    let all = store.pending(&key("d"), 0, 100, 10).await.unwrap();
    let ids: Vec<_> = all.pushes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    assert_eq!(&*all.pushes[0].frame, &*frame);
    assert_eq!(all.expired, 0);
    let after_first = store.pending(&key("d"), a1.seq, 100, 1).await.unwrap();
    assert_eq!(after_first.pushes.len(), 1);
    assert_eq!(after_first.pushes[0].id, "a2");

    // Expired pushes are removed and counted when looking at the queue.
    let later = store.pending(&key("d"), 0, 500, 10).await.unwrap();
    let ids: Vec<_> = later.pushes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a3"]);
    assert_eq!(later.expired, 1);
    assert_eq!(store.len(&key("d")).await.unwrap(), 2);

    // Removal is by device and id.
    assert_eq!(store.remove(&key("other"), "a1").await.unwrap(), 0);
    assert_eq!(store.remove(&key("d"), "a1").await.unwrap(), 1);
    assert_eq!(store.remove(&key("d"), "a1").await.unwrap(), 0);
    assert_eq!(store.len(&key("d")).await.unwrap(), 1);
    assert_eq!(store.len(&key("other")).await.unwrap(), 1);

    // The bound drops the oldest.
    for (i, id) in ["c1", "c2", "c3", "c4"].into_iter().enumerate() {
        let appended = store
            .append(&key("bounded"), push(id, &frame, never), 2)
            .await
            .unwrap();
        assert_eq!(appended.dropped, u64::from(i >= 2));
    }
    let bounded = store.pending(&key("bounded"), 0, 0, 10).await.unwrap();
    let ids: Vec<_> = bounded.pushes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["c3", "c4"]);

    // Clearing empties one device's queue (expired pushes included), each id once, oldest
    // first; other devices keep theirs.
    for (id, expires_at_ms) in [("e1", never), ("e2", 1), ("e1", never), ("e3", never)] {
        store
            .append(&key("cleared"), push(id, &frame, expires_at_ms), 10)
            .await
            .unwrap();
    }
    assert_eq!(
        store.clear(&key("cleared")).await.unwrap(),
        ["e1", "e2", "e3"]
    );
    assert_eq!(store.len(&key("cleared")).await.unwrap(), 0);
    assert_eq!(
        store.clear(&key("cleared")).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.len(&key("bounded")).await.unwrap(), 2);

    // Token generations: 0 until bumped, per device.
    assert_eq!(store.token_generation(&key("d")).await.unwrap(), 0);
    assert_eq!(store.bump_token_generation(&key("d")).await.unwrap(), 1);
    assert_eq!(store.bump_token_generation(&key("d")).await.unwrap(), 2);
    assert_eq!(store.token_generation(&key("d")).await.unwrap(), 2);
    assert_eq!(store.token_generation(&key("other")).await.unwrap(), 0);
    assert_eq!(
        store
            .pending(&key("nobody"), 0, 0, 10)
            .await
            .unwrap()
            .pushes
            .len(),
        0
    );
}

/// Appends p1, q1 (another device), p2, then removes p2 and appends p3: the sequence numbers,
/// and the push before each in its device's queue as the store tells it.
async fn prevs(store: &dyn QueueStore) -> ([u64; 4], [Option<u64>; 4]) {
    let frame: Arc<str> = Arc::from(r#"{"type":"push"}"#);
    let never = u64::MAX / 2;
    let mut appended = Vec::new();
    for (device, id) in [("p", "p1"), ("q", "q1"), ("p", "p2"), ("p", "p3")] {
        if id == "p3" {
            assert_eq!(store.remove(&key("p"), "p2").await.unwrap(), 1);
        }
        let a = store
            .append(&key(device), push(id, &frame, never), 10)
            .await
            .unwrap();
        appended.push(a);
    }
    (
        [0, 1, 2, 3].map(|i| appended[i].seq),
        [0, 1, 2, 3].map(|i| appended[i].prev),
    )
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    check_contract(&MemoryStore::new()).await;
    let (seqs, prevs) = prevs(&MemoryStore::new()).await;
    assert_eq!(prevs, [Some(0), Some(0), Some(seqs[0]), Some(seqs[0])]);
}

/// A store that keeps only the required methods: `clear` is the trait's default.
struct Minimal(MemoryStore);

#[async_trait::async_trait]
impl QueueStore for Minimal {
    async fn append(
        &self,
        device: &DeviceKey,
        push: NewPush<'_>,
        max_len: usize,
    ) -> Result<Appended, StoreError> {
        self.0.append(device, push, max_len).await
    }
    async fn pending(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Pending, StoreError> {
        self.0.pending(device, after, now_ms, limit).await
    }
    async fn remove(&self, device: &DeviceKey, id: &str) -> Result<u64, StoreError> {
        self.0.remove(device, id).await
    }
    async fn len(&self, device: &DeviceKey) -> Result<usize, StoreError> {
        self.0.len(device).await
    }
    async fn token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        self.0.token_generation(device).await
    }
    async fn bump_token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        self.0.bump_token_generation(device).await
    }
}

#[tokio::test]
async fn a_store_with_the_default_clear_keeps_the_contract() {
    check_contract(&Minimal(MemoryStore::new())).await;
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_contract() {
    let path = crate::restart::temp_db("contract");
    let store = SqliteStore::open(&path).await.unwrap();
    check_contract(&store).await;
    let (seqs, prevs) = prevs(&store).await;
    assert_eq!(prevs, [Some(0), Some(0), Some(seqs[0]), Some(seqs[0])]);
    store.close().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn the_postgres_store_keeps_the_contract() {
    let url = pushway_mock::postgres::shared_database().unwrap();
    let store = PgStore::connect(&url, "app").await.unwrap();
    check_contract(&store).await;
    // The Postgres store tells the push before an append to the other nodes only.
    assert_eq!(prevs(&store).await.1, [None; 4]);
    // Another scope of the same tables sees none of it; opening again changes nothing.
    let other = PgStore::connect(&url, "other-app").await.unwrap();
    assert_eq!(other.len(&key("bounded")).await.unwrap(), 0);
    assert_eq!(other.token_generation(&key("d")).await.unwrap(), 0);
    let again = PgStore::connect(&url, "app").await.unwrap();
    assert_eq!(again.len(&key("bounded")).await.unwrap(), 2);
    for store in [store, other, again] {
        store.close().await;
    }
}
