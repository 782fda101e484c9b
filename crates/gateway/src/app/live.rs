//! The running apps, swappable while the gateway runs: readers take a snapshot (an
//! `Arc<Apps>`) and keep it for as long as they use it, so a delivery in flight finishes on the
//! providers it started with while the next claim sees the new ones.

use std::sync::{Arc, PoisonError, RwLock};

use super::Apps;
use crate::auth::KeyHash;

/// The running apps: one snapshot at a time, replaced whole.
// An `RwLock<Arc<_>>` rather than a lock-free swap: a load is one uncontended read lock and an
// `Arc` clone, and swaps happen only on an operator's change.
#[derive(Debug)]
pub struct LiveApps {
    current: RwLock<Arc<Apps>>,
}

impl LiveApps {
    /// Starts with `apps`.
    pub fn new(apps: Apps) -> LiveApps {
        LiveApps {
            current: RwLock::new(Arc::new(apps)),
        }
    }

    /// The apps now: keep the snapshot for the whole of one use (a claim's dispatch, a request).
    pub fn load(&self) -> Arc<Apps> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every API key of every app, with the app it reaches.
    pub fn api_keys(&self) -> Vec<(KeyHash, String)> {
        self.load()
            .values()
            .flat_map(|app| app.keys.iter().map(|key| (*key, app.id.clone())))
            .collect()
    }

    /// Replaces the apps; returns the snapshot replaced.
    pub(crate) fn replace(&self, apps: Apps) -> Arc<Apps> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, Arc::new(apps))
    }
}
