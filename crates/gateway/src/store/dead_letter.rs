//! Dead letters: deliveries in state `dead`, as the admin API lists and replays them.

use pushway_core::{ApnsEnv, TokenKind};
use serde::{Deserialize, Serialize};

/// Which dead letters to take; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterFilter {
    /// The last outcome's label (`invalid_token`, `rejected`, `retry`, `expired`…) or the
    /// last reason exactly (`Unregistered`…).
    #[serde(default)]
    pub reason: Option<String>,
    /// Dead at or after this time (Unix ms).
    #[serde(default)]
    pub since_ms: Option<i64>,
    /// Dead before this time (Unix ms).
    #[serde(default)]
    pub until_ms: Option<i64>,
}

/// One dead delivery (the device's token is not shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The delivery row's id (what a replay names).
    pub id: i64,
    /// The message.
    pub message_id: String,
    /// The recipient.
    pub user_id: String,
    /// The device.
    pub device_id: String,
    /// The channel: `apns`, `xiaomi`, `huawei`, `fcm`, `daemon` (as devices are registered).
    #[serde(serialize_with = "super::device::api_kind")]
    pub kind: TokenKind,
    /// The APNs environment, for APNs devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apns_env: Option<ApnsEnv>,
    /// The credential name.
    pub credential: String,
    /// Sends made.
    pub attempts: u32,
    /// The last outcome's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    /// The last outcome's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<String>,
    /// When the message was accepted (Unix ms).
    pub created_at_ms: i64,
    /// When the delivery died (Unix ms).
    pub dead_at_ms: i64,
}

/// Why a dead letter was not replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotReplayed {
    /// The app has no delivery with this id (or it was pruned).
    Unknown,
    /// The delivery is not dead (delivered, pending, replayed already…).
    NotDead,
    /// The device is no longer registered.
    DeviceGone,
    /// The device registered another token (or kind, or credential) since.
    TokenChanged,
    /// The device is logged out or kicked: it gets no pushes.
    LoggedOut,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The rows made pending again, in the order asked.
    pub replayed: Vec<i64>,
    /// The rows left as they were, and why, in the order asked.
    pub not_replayed: Vec<(i64, NotReplayed)>,
}
