//! The in-memory queue store.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use rustc_hash::FxHashMap;

use crate::key::DeviceKey;
use crate::queue::{Appended, NewPush, Pending, QueueStore, StoreError, StoredPush, unique};

/// Shards of the device map, so connections of different devices rarely share a lock.
const SHARDS: usize = 16;

/// Queues in process memory: fast, lost on restart. Devices with an empty queue take no memory.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Vec<Mutex<FxHashMap<DeviceKey, VecDeque<StoredPush>>>>,
    next_seq: AtomicU64,
    /// Token generations of the devices revoked at least once (forgotten on restart, like the
    /// queues: revocation outlives a restart only with a persistent store).
    generations: Mutex<FxHashMap<DeviceKey, u64>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FxHashMap::default()))
                .collect(),
            next_seq: AtomicU64::new(1),
            generations: Mutex::new(FxHashMap::default()),
        }
    }

    fn shard(
        &self,
        device: &DeviceKey,
    ) -> MutexGuard<'_, FxHashMap<DeviceKey, VecDeque<StoredPush>>> {
        // FxHash: keys come from verified tokens, so flooding one shard is not a concern.
        // Its high bits are the well-mixed ones.
        let hash = rustc_hash::FxBuildHasher.hash_one(device);
        let index = usize::try_from(hash >> 60).unwrap_or(0) % SHARDS;
        // A panic while holding the lock cannot leave a queue half-edited in a way that
        // matters more than losing the whole map, so poisoning is ignored.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl QueueStore for MemoryStore {
    async fn append(
        &self,
        device: &DeviceKey,
        push: NewPush<'_>,
        max_len: usize,
    ) -> Result<Appended, StoreError> {
        let mut shard = self.shard(device);
        // Sequence numbers are taken under the shard lock so a device's queue stays sorted.
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let prev = shard
            .get(device)
            .and_then(|queue| queue.back())
            .map_or(0, |last| last.seq);
        // Look up before inserting, so the common case does not allocate the key.
        if !shard.contains_key(device) {
            shard.insert(device.clone(), VecDeque::new());
        }
        let Some(queue) = shard.get_mut(device) else {
            return Err(StoreError::new("the device queue vanished under its lock"));
        };
        queue.push_back(StoredPush {
            seq,
            id: push.id.to_owned(),
            frame: push.frame.clone(),
            expires_at_ms: push.expires_at_ms,
        });
        let mut dropped = 0;
        while queue.len() > max_len {
            queue.pop_front();
            dropped += 1;
        }
        if queue.is_empty() {
            shard.remove(device);
        }
        Ok(Appended {
            seq,
            dropped,
            prev: Some(prev),
        })
    }

    async fn pending(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Pending, StoreError> {
        let mut shard = self.shard(device);
        let Some(queue) = shard.get_mut(device) else {
            return Ok(Pending::default());
        };
        let before = queue.len();
        queue.retain(|p| p.expires_at_ms > now_ms);
        let expired = (before - queue.len()) as u64;
        let start = queue.partition_point(|p| p.seq <= after);
        let pushes = queue.range(start..).take(limit).cloned().collect();
        if queue.is_empty() {
            shard.remove(device);
        }
        Ok(Pending { pushes, expired })
    }

    async fn remove(&self, device: &DeviceKey, id: &str) -> Result<u64, StoreError> {
        let mut shard = self.shard(device);
        let Some(queue) = shard.get_mut(device) else {
            return Ok(0);
        };
        let before = queue.len();
        queue.retain(|p| p.id != id);
        let removed = (before - queue.len()) as u64;
        if queue.is_empty() {
            shard.remove(device);
        }
        Ok(removed)
    }

    async fn clear(&self, device: &DeviceKey) -> Result<Vec<String>, StoreError> {
        let queue = self.shard(device).remove(device).unwrap_or_default();
        Ok(unique(queue.into_iter().map(|p| p.id)))
    }

    async fn len(&self, device: &DeviceKey) -> Result<usize, StoreError> {
        Ok(self.shard(device).get(device).map_or(0, VecDeque::len))
    }

    async fn token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        let generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(generations.get(device).copied().unwrap_or(0))
    }

    async fn bump_token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let generation = generations.entry(device.clone()).or_insert(0);
        *generation += 1;
        Ok(*generation)
    }
}
