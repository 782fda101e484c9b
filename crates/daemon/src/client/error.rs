//! The device client's error.

use std::fmt;

use crate::protocol::CloseReason;

/// Why a device connection could not be made or ended.
#[derive(Debug)]
pub struct ClientError {
    kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// The URL is not `ws://` or `wss://` with a host.
    Url(String),
    /// TCP connect, TLS or WebSocket handshake failed, or the transport broke.
    Transport(String),
    /// A connect, handshake, write or heartbeat wait timed out.
    Timeout(&'static str),
    /// The server closed the connection.
    Closed {
        code: u16,
        reason: String,
        detail: Option<String>,
    },
    /// The server sent something the protocol does not allow.
    Protocol(String),
}

impl ClientError {
    pub(crate) fn new(kind: Kind) -> Self {
        ClientError { kind }
    }

    pub(crate) fn transport(error: impl fmt::Display) -> Self {
        ClientError::new(Kind::Transport(error.to_string()))
    }

    /// The close code, when the server closed the connection.
    pub fn close_code(&self) -> Option<u16> {
        match &self.kind {
            Kind::Closed { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The documented close reason, when the server closed with one of ours.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close_code().and_then(CloseReason::from_code)
    }

    /// The detail of the server's `error` frame, if it sent one.
    pub fn detail(&self) -> Option<&str> {
        match &self.kind {
            Kind::Closed { detail, .. } => detail.as_deref(),
            _ => None,
        }
    }

    /// Whether a wait timed out (including a server that stopped answering pings).
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, Kind::Timeout(_))
    }

    /// Whether reconnecting cannot help: a bad URL, or a close whose reason
    /// [is terminal](CloseReason::is_terminal) (auth refused, expired or revoked, replaced,
    /// superseded by a newer token, unsupported version).
    pub fn is_terminal(&self) -> bool {
        matches!(self.kind, Kind::Url(_))
            || self.close_reason().is_some_and(CloseReason::is_terminal)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Url(detail) => write!(f, "bad daemon URL: {detail}"),
            Kind::Transport(detail) => write!(f, "daemon connection failed: {detail}"),
            Kind::Timeout(what) => write!(f, "daemon {what} timed out"),
            Kind::Closed {
                code,
                reason,
                detail,
            } => {
                write!(f, "daemon server closed the connection: {code} {reason}")?;
                if let Some(detail) = detail {
                    write!(f, " ({detail})")?;
                }
                Ok(())
            }
            Kind::Protocol(detail) => write!(f, "daemon protocol error: {detail}"),
        }
    }
}

impl std::error::Error for ClientError {}
