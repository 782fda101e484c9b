//! What the FCM simulator records about each `messages:send` request, in a bounded log.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::{RecordedRequest, Recording};

/// One request to the send side as the simulator received and answered it.
#[derive(Debug, Clone)]
pub struct FcmRequest {
    /// Method, path, version, every header and the body bytes, as received.
    pub request: RecordedRequest,
    /// Which connection it came on (1, 2, … in accept order).
    pub connection_id: u64,
    /// What the simulator did.
    pub outcome: FcmOutcome,
}

/// What the simulator did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FcmOutcome {
    /// Answered with this status. `accepted` is true for a 200 that was not `validate_only`:
    /// the message counts as sent.
    Answered {
        /// The HTTP status.
        status: u16,
        /// Whether the message was accepted for delivery.
        accepted: bool,
        /// `name` of a 200 (`projects/<p>/messages/<id>`).
        name: Option<String>,
    },
    /// Refused without processing (`REFUSED_STREAM`, or after a GOAWAY).
    Refused,
    /// The connection was dropped without an answer.
    Dropped,
}

impl FcmRequest {
    /// The value of a request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        self.request.json()
    }

    /// The answered status, if answered.
    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            FcmOutcome::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the message was accepted (200, not `validate_only`).
    pub fn accepted(&self) -> bool {
        matches!(self.outcome, FcmOutcome::Answered { accepted: true, .. })
    }
}

/// A bounded log: the most recent requests under a [`Recording`] bound, and a total count.
#[derive(Debug)]
pub(crate) struct Log<T> {
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    mode: Recording,
    total: u64,
    kept: VecDeque<T>,
}

impl<T: Clone> Log<T> {
    pub fn new(mode: Recording) -> Self {
        Log {
            inner: Mutex::new(Inner {
                mode,
                total: 0,
                kept: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an entry and keeps it within the bound; `make` runs only when it is kept.
    pub fn record_with(&self, make: impl FnOnce() -> T) {
        let mut inner = self.lock();
        inner.total += 1;
        if let Recording::Last(n) = inner.mode
            && n > 0
        {
            if inner.kept.len() >= n {
                inner.kept.pop_front();
            }
            let entry = make();
            inner.kept.push_back(entry);
        }
    }

    pub fn entries(&self) -> Vec<T> {
        self.lock().kept.iter().cloned().collect()
    }

    pub fn total(&self) -> u64 {
        self.lock().total
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.kept.clear();
        inner.total = 0;
    }

    pub fn set_mode(&self, mode: Recording) {
        let mut inner = self.lock();
        inner.mode = mode;
        let bound = match mode {
            Recording::Off => 0,
            Recording::Last(n) => n,
        };
        while inner.kept.len() > bound {
            inner.kept.pop_front();
        }
    }
}
