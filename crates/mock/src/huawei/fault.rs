//! Faults the Huawei simulator can inject.

use std::time::Duration;

use http::StatusCode;

use crate::fault::FaultKind;
use crate::http_server::Reply;

use super::ErrorStatus;
use super::response::{self, Code};

/// A fault injected into matching requests (see [`crate::fault::Trigger`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HuaweiFault {
    /// HTTP 503 with an empty body: Push Kit's flow control (§4; the body is undocumented, F9).
    FlowControl,
    /// Result code 81000001 "Inner Error." (HTTP 500, or 200 under [`ErrorStatus::AlwaysOk`]).
    InternalError,
    /// This HTTP status (e.g. 500, 502, 504) with an empty body.
    Status(u16),
    /// An arbitrary answer, e.g. a 503 with a non-JSON body.
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

impl FaultKind for HuaweiFault {
    fn latency(&self) -> Option<Duration> {
        match self {
            HuaweiFault::Latency(d) => Some(*d),
            _ => None,
        }
    }
}

impl HuaweiFault {
    /// The answer for a fault that is not a latency; `send` is false on the token endpoint,
    /// where 81000001 does not exist and an internal error is a bare HTTP 500.
    pub(crate) fn reply(&self, send: bool, seq: u64, mode: ErrorStatus) -> Reply {
        match self {
            HuaweiFault::FlowControl => Reply::empty(StatusCode::SERVICE_UNAVAILABLE),
            HuaweiFault::InternalError if send => response::send(Code::InternalError, seq, mode),
            HuaweiFault::InternalError => Reply::empty(StatusCode::INTERNAL_SERVER_ERROR),
            HuaweiFault::Status(status) => Reply::empty(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ),
            HuaweiFault::Raw {
                status,
                content_type,
                body,
            } => Reply::raw(*status, content_type, body),
            HuaweiFault::DropConnection => Reply::Drop,
            // Never chosen as an action by the rule engine.
            HuaweiFault::Latency(_) => Reply::empty(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}
