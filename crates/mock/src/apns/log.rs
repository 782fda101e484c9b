//! What the simulator records about each request, in a bounded log.
//!
//! The crate's [`Recorder`](crate::Recorder) keeps only [`RecordedRequest`]s; an APNs request also
//! carries its decoded provider token, connection and outcome, so this log keeps an
//! [`ApnsRequest`] (which contains the `RecordedRequest`) under the same [`Recording`] bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::jwt::DecodedJwt;
use super::reason::ApnsReason;
use crate::{RecordedRequest, Recording};

/// One request as the APNs simulator received and answered it.
#[derive(Debug, Clone)]
pub struct ApnsRequest {
    /// Method, path, version, every header and the body bytes, as received.
    pub request: RecordedRequest,
    /// Which connection it came on (1, 2, … in accept order).
    pub connection_id: u64,
    /// Its HTTP/2 stream id.
    pub stream_id: u32,
    /// The device token of the path, when the path is `/3/device/<token>`.
    pub device_token: Option<String>,
    /// The provider token as decoded, when it could be decoded.
    pub jwt: Option<Arc<DecodedJwt>>,
    /// The team and key the connection was bound to after this request, if any.
    pub binding: Option<ConnectionBinding>,
    /// What the simulator did.
    pub outcome: ApnsOutcome,
}

impl ApnsRequest {
    /// The value of a request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// The answered status, if the request was answered.
    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            ApnsOutcome::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The answered reason, if the request was answered with an error.
    pub fn reason(&self) -> Option<ApnsReason> {
        match &self.outcome {
            ApnsOutcome::Answered { reason, .. } => *reason,
            _ => None,
        }
    }
}

/// The team, key and provider token a connection is bound to (§2.1: APNs binds a connection on its
/// first valid request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionBinding {
    /// The team (`iss`) of the connection's first valid token.
    pub team_id: Arc<str>,
    /// The key id (`kid`) of the connection's first valid token.
    pub key_id: Arc<str>,
    /// The provider token currently in use on the connection.
    pub token: Arc<str>,
}

/// What the simulator did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApnsOutcome {
    /// Answered with a status (`reason` is `None` for 200).
    Answered {
        /// The `:status`.
        status: u16,
        /// The error reason, if not 200.
        reason: Option<ApnsReason>,
        /// The `apns-id` answered (echoed or generated).
        apns_id: String,
    },
    /// Reset with `REFUSED_STREAM` (scripted, over the advertised stream limit, or after a GOAWAY).
    Refused,
    /// Its connection was dropped before an answer (scripted `DropConnection`).
    Dropped,
}

/// A bounded, shared log of [`ApnsRequest`]s.
#[derive(Debug, Clone)]
pub(crate) struct RequestLog {
    inner: Arc<LogInner>,
}

#[derive(Debug)]
struct LogInner {
    keeping: AtomicBool,
    total: AtomicU64,
    kept: Mutex<(Recording, VecDeque<ApnsRequest>)>,
}

impl RequestLog {
    pub fn new(mode: Recording) -> RequestLog {
        RequestLog {
            inner: Arc::new(LogInner {
                keeping: AtomicBool::new(keeps(mode)),
                total: AtomicU64::new(0),
                kept: Mutex::new((mode, VecDeque::new())),
            }),
        }
    }

    /// Counts a request; builds and keeps its record only when recording.
    pub fn record_with(&self, make: impl FnOnce() -> ApnsRequest) {
        self.inner.total.fetch_add(1, Ordering::Relaxed);
        if !self.inner.keeping.load(Ordering::Relaxed) {
            return;
        }
        let request = make();
        let mut kept = self
            .inner
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Recording::Last(n) = kept.0 else { return };
        while kept.1.len() >= n {
            kept.1.pop_front();
        }
        kept.1.push_back(request);
    }

    pub fn requests(&self) -> Vec<ApnsRequest> {
        self.inner
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .iter()
            .cloned()
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    pub fn clear(&self) {
        self.inner
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clear();
        self.inner.total.store(0, Ordering::Relaxed);
    }

    pub fn set_mode(&self, mode: Recording) {
        let mut kept = self
            .inner
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        kept.0 = mode;
        let bound = match mode {
            Recording::Off => 0,
            Recording::Last(n) => n,
        };
        while kept.1.len() > bound {
            kept.1.pop_front();
        }
        self.inner.keeping.store(keeps(mode), Ordering::Relaxed);
    }
}

fn keeps(mode: Recording) -> bool {
    matches!(mode, Recording::Last(n) if n > 0)
}
