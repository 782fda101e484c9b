//! The wire protocol: versioned JSON frames in WebSocket text messages, and the close reasons.
//! `PROTOCOL.md` at the crate root is the prose version of this file.

use std::fmt;

use pushway_core::Notification;
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks, sent in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest WebSocket message the server sends (a `push` frame). A push whose frame would be
/// larger is refused with `Outcome::Rejected` (`payload_too_large`) before it is queued.
pub const MAX_PUSH_FRAME_BYTES: usize = 64 * 1024;

/// The largest WebSocket message a device may send. Devices only send `hello` (a JWT of a few
/// hundred bytes), `ack`, `ping` and `pong`; anything larger is closed with
/// [`CloseReason::FrameTooLarge`]. Keeping it small keeps the server's read buffer small.
pub const MAX_DEVICE_FRAME_BYTES: usize = 4 * 1024;

/// The longest push id the server accepts; the id is echoed in every `ack`.
pub const MAX_PUSH_ID_BYTES: usize = 256;

/// A frame a device sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeviceFrame {
    /// The first frame: the protocol version and the device's JWT.
    Hello {
        /// The protocol version the device speaks.
        v: u32,
        /// The JWT issued by the server (see [`DeviceAuth`](crate::DeviceAuth)). A missing
        /// token reads as empty and is refused with [`CloseReason::AuthMissing`].
        #[serde(default)]
        token: String,
    },
    /// The device has shown (or de-duplicated) the push with this id.
    Ack {
        /// The push id.
        id: String,
    },
    /// Asks the server for a `pong`.
    Ping,
    /// Answers the server's `ping`.
    Pong,
}

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerFrame {
    /// Authentication succeeded.
    Welcome {
        /// The protocol version the server speaks.
        v: u32,
        /// The device id the token names: the only device whose pushes this connection carries.
        device_id: String,
        /// How often the server pings; a device that hears nothing for about three times this
        /// long should reconnect.
        ping_interval_ms: u64,
    },
    /// A push for this device. The device acks it by id; the same id may arrive more than once
    /// (a replay after a lost ack), so the device shows it once.
    Push {
        /// The push id (the message id).
        id: String,
        /// The rendered notification.
        notification: Box<Notification>,
    },
    /// Asks the device for a `pong`.
    Ping,
    /// Answers the device's `ping`.
    Pong,
    /// Sent just before the server closes the connection with the same code.
    Error {
        /// The close code ([`CloseReason::code`]).
        code: u16,
        /// The close reason ([`CloseReason::as_str`]).
        reason: String,
        /// A human-readable detail; not for matching.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

/// The id of an `ack` in its canonical form, `{"type":"ack","id":"<id>"}` with an id that has
/// no escapes, read without a JSON parser or an allocation; `None` for anything else (which then
/// goes through [`DeviceFrame`]'s full, strict parse). Every ack costs one of these, so it is
/// the hot path of a connection's input.
pub(crate) fn fast_ack_id(text: &str) -> Option<&str> {
    let id = text
        .strip_prefix(r#"{"type":"ack","id":""#)?
        .strip_suffix(r#""}"#)?;
    // A quote or backslash means escapes (or a different shape): leave it to serde. Control
    // characters are invalid in JSON strings, so serde must reject those.
    (!id.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)).then_some(id)
}

/// Encodes a push frame once, to be sent as is to every device of a batch.
pub(crate) fn encode_push(id: &str, notification: &Notification) -> Result<String, String> {
    #[derive(Serialize)]
    struct PushRef<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: &'a str,
        notification: &'a Notification,
    }
    serde_json::to_string(&PushRef {
        kind: "push",
        id,
        notification,
    })
    .map_err(|e| e.to_string())
}

/// Why the server closed a connection: the WebSocket close code and reason it sends (after an
/// `error` frame carrying the same two values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// 1000: a normal close.
    Normal,
    /// 1001: the server is shutting down; reconnect later.
    GoingAway,
    /// 1009: a device frame was larger than [`MAX_DEVICE_FRAME_BYTES`].
    FrameTooLarge,
    /// 1013: too many connections are waiting to authenticate; this one, the oldest, was shed.
    /// Reconnect with backoff.
    TryAgainLater,
    /// 4000: a frame was not valid JSON, not a known frame, binary, or out of place.
    ProtocolError,
    /// 4001: no `hello` with a token arrived in time.
    AuthMissing,
    /// 4002: the token's signature, format or claims are wrong (including a lifetime over the
    /// maximum, or an `iat` in the future).
    AuthInvalid,
    /// 4003: the token has expired; fetch a new one before reconnecting.
    AuthExpired,
    /// 4004: the `hello` asked for a protocol version the server does not speak.
    UnsupportedVersion,
    /// 4005: another connection for the same device, with a token at least as new, replaced
    /// this one.
    Replaced,
    /// 4006: nothing was heard from the device for the idle timeout (a dead connection).
    IdleTimeout,
    /// 4007: the device did not read its frames in time, or acked nothing for the write timeout
    /// with pushes in flight (a stalled connection).
    TooSlow,
    /// 4008: a connection of the same device authenticated with a newer token is live; this
    /// one, with an older token (an earlier generation or `iat`), may not replace it.
    Superseded,
    /// 4009: the device's tokens were revoked; this token's generation is older than the
    /// device's current one.
    AuthRevoked,
}

impl CloseReason {
    /// Every reason, for documentation and tests.
    pub const ALL: [CloseReason; 14] = [
        CloseReason::Normal,
        CloseReason::GoingAway,
        CloseReason::FrameTooLarge,
        CloseReason::TryAgainLater,
        CloseReason::ProtocolError,
        CloseReason::AuthMissing,
        CloseReason::AuthInvalid,
        CloseReason::AuthExpired,
        CloseReason::UnsupportedVersion,
        CloseReason::Replaced,
        CloseReason::IdleTimeout,
        CloseReason::TooSlow,
        CloseReason::Superseded,
        CloseReason::AuthRevoked,
    ];

    /// The WebSocket close code.
    pub const fn code(self) -> u16 {
        match self {
            CloseReason::Normal => 1000,
            CloseReason::GoingAway => 1001,
            CloseReason::FrameTooLarge => 1009,
            CloseReason::TryAgainLater => 1013,
            CloseReason::ProtocolError => 4000,
            CloseReason::AuthMissing => 4001,
            CloseReason::AuthInvalid => 4002,
            CloseReason::AuthExpired => 4003,
            CloseReason::UnsupportedVersion => 4004,
            CloseReason::Replaced => 4005,
            CloseReason::IdleTimeout => 4006,
            CloseReason::TooSlow => 4007,
            CloseReason::Superseded => 4008,
            CloseReason::AuthRevoked => 4009,
        }
    }

    /// The close reason text: a stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            CloseReason::Normal => "normal",
            CloseReason::GoingAway => "going_away",
            CloseReason::FrameTooLarge => "frame_too_large",
            CloseReason::TryAgainLater => "try_again_later",
            CloseReason::ProtocolError => "protocol_error",
            CloseReason::AuthMissing => "auth_missing",
            CloseReason::AuthInvalid => "auth_invalid",
            CloseReason::AuthExpired => "auth_expired",
            CloseReason::UnsupportedVersion => "unsupported_version",
            CloseReason::Replaced => "replaced",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::TooSlow => "too_slow",
            CloseReason::Superseded => "superseded",
            CloseReason::AuthRevoked => "auth_revoked",
        }
    }

    /// The reason for a close code, if it is one of ours.
    pub fn from_code(code: u16) -> Option<CloseReason> {
        CloseReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether a device client should stop reconnecting after this close: retrying with the
    /// same token or against the connection that replaced it cannot help.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            CloseReason::AuthMissing
                | CloseReason::AuthInvalid
                | CloseReason::AuthExpired
                | CloseReason::UnsupportedVersion
                | CloseReason::Replaced
                | CloseReason::Superseded
                | CloseReason::AuthRevoked
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for reason in CloseReason::ALL {
            assert_eq!(CloseReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(CloseReason::from_code(4999), None);
    }

    /// PROTOCOL.md's table of close codes lists every reason, with its code and text.
    #[test]
    fn the_protocol_document_lists_every_close_reason() {
        let doc = include_str!("../PROTOCOL.md");
        for reason in CloseReason::ALL {
            let row = format!("| {} | `{}` |", reason.code(), reason.as_str());
            assert!(doc.contains(&row), "PROTOCOL.md lacks {row}");
        }
    }

    #[test]
    fn device_frames_parse_exactly() {
        let hello: DeviceFrame =
            serde_json::from_str(r#"{"type":"hello","v":1,"token":"t"}"#).unwrap();
        assert_eq!(
            hello,
            DeviceFrame::Hello {
                v: 1,
                token: "t".into()
            }
        );
        let ack: DeviceFrame = serde_json::from_str(r#"{"type":"ack","id":"m1"}"#).unwrap();
        assert_eq!(ack, DeviceFrame::Ack { id: "m1".into() });
        assert!(serde_json::from_str::<DeviceFrame>(r#"{"type":"ack"}"#).is_err());
        assert!(serde_json::from_str::<DeviceFrame>(r#"{"type":"push","id":"x"}"#).is_err());
        assert!(serde_json::from_str::<DeviceFrame>(r#"{"type":"ack","id":"m1","x":1}"#).is_err());
    }

    #[test]
    fn fast_ack_agrees_with_the_full_parse() {
        assert_eq!(fast_ack_id(r#"{"type":"ack","id":"m1"}"#), Some("m1"));
        assert_eq!(fast_ack_id(r#"{"type":"ack","id":""}"#), Some(""));
        for other in [
            r#"{"type":"ack","id":"m\"1"}"#,
            r#"{"type":"ack","id":"m\\1"}"#,
            r#"{"type":"ack","id":"m1","x":1}"#,
            r#"{"type":"ack","id":"a","id":"b"}"#,
            r#"{"type":"ack","id":"m1"} "#,
            r#"{"id":"m1","type":"ack"}"#,
            "{\"type\":\"ack\",\"id\":\"a\u{1}\"}",
        ] {
            assert_eq!(fast_ack_id(other), None, "{other}");
        }
        // Whatever the fast path accepts, the full parse reads the same way.
        let text = r#"{"type":"ack","id":"é-42"}"#;
        assert_eq!(
            serde_json::from_str::<DeviceFrame>(text).unwrap(),
            DeviceFrame::Ack {
                id: fast_ack_id(text).unwrap().to_owned()
            }
        );
    }

    #[test]
    fn encoded_push_decodes_as_server_frame() {
        let n = pushway_core::testing::sample_notification();
        let text = encode_push("m1", &n).unwrap();
        let frame: ServerFrame = serde_json::from_str(&text).unwrap();
        assert_eq!(
            frame,
            ServerFrame::Push {
                id: "m1".into(),
                notification: Box::new(n)
            }
        );
    }
}
