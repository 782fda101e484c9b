//! TIM's reply envelope and the error codes pushway answers with (tim.md §1: codes of
//! `sendmsg` \[S1\] and `send_group_msg` \[S2\]).

use serde_json::{Value, json};

/// Bad JSON, a field of the wrong type, or a field pushway does not support.
pub const BAD_REQUEST: u32 = 90001;
/// `MsgBody` missing or not valid (an unknown element type, a wrong field).
pub const BAD_MSG_BODY: u32 = 90002;
/// No `To_Account`.
pub const NO_TO_ACCOUNT: u32 = 90003;
/// No `MsgRandom` (`Random` in a group send).
pub const NO_MSG_RANDOM: u32 = 90005;
/// More than [`MAX_TARGETS`] recipients.
pub const TOO_MANY_TARGETS: u32 = 90011;
/// `MsgLifeTime` over [`MAX_LIFETIME_SECS`].
pub const LIFETIME_TOO_LONG: u32 = 90026;
/// A C2C message over [`MAX_MESSAGE_BYTES`].
pub const C2C_TOO_LONG: u32 = 93000;
/// A group message over [`MAX_MESSAGE_BYTES`].
pub const GROUP_TOO_LONG: u32 = 80002;
/// The group cannot be identified: no `GroupId`, or no `Pushway_Members` (pushway does not keep
/// group memberships).
pub const GROUP_UNKNOWN: u32 = 10010;

/// Recipients of one `batchsendmsg` / `timpush/batch` at most (tim.md §8).
pub const MAX_TARGETS: usize = 500;
/// The longest `MsgLifeTime`: 7 days (tim.md §1.1).
pub const MAX_LIFETIME_SECS: u32 = 604_800;
/// The largest `MsgBody` (its JSON), in bytes: 12 KB in TIM's current docs (tim.md §8).
pub const MAX_MESSAGE_BYTES: usize = 12 * 1024;
/// The longest `DataId` (tim.md §9.1).
pub const MAX_DATA_ID_BYTES: usize = 64;

/// A refusal in TIM's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimError {
    pub(crate) code: u32,
    pub(crate) info: String,
}

impl TimError {
    pub(crate) fn new(code: u32, info: impl Into<String>) -> Self {
        TimError {
            code,
            info: info.into(),
        }
    }

    /// The `FAIL` envelope.
    pub(crate) fn envelope(&self) -> Value {
        json!({"ActionStatus": "FAIL", "ErrorCode": self.code, "ErrorInfo": self.info})
    }
}

/// The `OK` envelope with `extra` fields.
pub(crate) fn ok(extra: Value) -> Value {
    let mut reply = json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""});
    if let (Some(reply), Value::Object(extra)) = (reply.as_object_mut(), extra) {
        reply.extend(extra);
    }
    reply
}
