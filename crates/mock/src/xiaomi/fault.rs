//! Faults the Xiaomi simulator can inject.

use std::time::Duration;

use http::StatusCode;

use crate::fault::FaultKind;
use crate::http_server::Reply;

use super::response;

/// A fault injected into matching `/message/regid` requests (see [`crate::fault::Trigger`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum XiaomiFault {
    /// HTTP 200, code 10027 "app api call too frequently" (the documented rate-limit code).
    RateLimited,
    /// HTTP 200, code 200001 "exceed quota, …" (daily quota used up).
    QuotaExceeded,
    /// This HTTP status (e.g. 500, 502, 503) with an empty body, which the official SDK retries.
    Status(u16),
    /// An arbitrary answer, e.g. a 502 with an HTML page or a 200 whose body is not JSON.
    Raw {
        /// HTTP status.
        status: u16,
        /// `Content-Type` header; empty for none.
        content_type: String,
        /// The body, sent as is.
        body: String,
    },
    /// Answers normally, this much later. Latencies of several matching rules add up.
    Latency(Duration),
    /// Closes the connection without answering.
    DropConnection,
}

impl FaultKind for XiaomiFault {
    fn latency(&self) -> Option<Duration> {
        match self {
            XiaomiFault::Latency(d) => Some(*d),
            _ => None,
        }
    }
}

impl XiaomiFault {
    /// The answer for a fault that is not a latency. `quota` is the configured daily quota.
    pub(crate) fn reply(&self, seq: u64, quota: u64, acked: u64) -> Reply {
        match self {
            XiaomiFault::RateLimited => response::rate_limited(seq),
            XiaomiFault::QuotaExceeded => response::quota_exceeded(seq, quota, acked),
            XiaomiFault::Status(status) => Reply::empty(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ),
            XiaomiFault::Raw {
                status,
                content_type,
                body,
            } => Reply::raw(*status, content_type, body),
            XiaomiFault::DropConnection => Reply::Drop,
            // Never chosen as an action by the rule engine; answer like a server error if it is.
            XiaomiFault::Latency(_) => Reply::empty(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}
