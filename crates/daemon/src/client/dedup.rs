//! Remembering the ids of recent pushes, so a push re-sent after a lost ack is shown once.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// The default number of push ids a client remembers.
pub const DEFAULT_DEDUP_CAPACITY: usize = 4096;

/// The last `capacity` push ids seen, oldest forgotten first.
#[derive(Debug)]
pub struct RecentIds {
    set: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
    capacity: usize,
}

impl RecentIds {
    /// Remembers up to `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        RecentIds {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `id`; `true` when it was not seen recently (show the push), `false` for a
    /// duplicate (ack it again, do not show it).
    pub fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        let id: Arc<str> = Arc::from(id);
        self.set.insert(id.clone());
        self.order.push_back(id);
        true
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::RecentIds;

    #[test]
    fn duplicates_are_refused_until_forgotten() {
        let mut ids = RecentIds::new(2);
        assert!(ids.insert("a"));
        assert!(!ids.insert("a"));
        assert!(ids.insert("b"));
        assert!(ids.insert("c")); // forgets "a"
        assert_eq!(ids.len(), 2);
        assert!(!ids.insert("b"));
        assert!(ids.insert("a"));
    }
}
