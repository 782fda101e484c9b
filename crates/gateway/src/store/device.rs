//! Devices, login states and per-user settings as the store keeps them.

use pushway_core::{ReceiveRules, TokenKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A device's login state (seed: a logged-out or kicked device gets no pushes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Login {
    /// Logged in (the default for a device never told otherwise).
    LoggedIn,
    /// Logged out by the user.
    LoggedOut,
    /// Kicked offline.
    Kicked,
}

impl Login {
    /// The stored label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Login::LoggedIn => "logged_in",
            Login::LoggedOut => "logged_out",
            Login::Kicked => "kicked",
        }
    }

    /// Parses a stored label; anything unknown counts as logged in.
    pub fn parse(label: &str) -> Login {
        match label {
            "logged_out" => Login::LoggedOut,
            "kicked" => Login::Kicked,
            _ => Login::LoggedIn,
        }
    }
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The app.
    pub app: String,
    /// The user it belongs to.
    pub user: String,
    /// The app-chosen device id, unique per user.
    pub device_id: String,
    /// The token kind (the APNs environment is part of it).
    pub kind: TokenKind,
    /// The credential name it registered under.
    pub credential: String,
    /// The token.
    pub token: String,
    /// The device's locale, which picks the placeholder table.
    pub locale: Option<String>,
}

/// A device with its login state and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// The device.
    pub device: Device,
    /// Its login state.
    pub login: Login,
    /// When it was first registered.
    pub created_at: i64,
    /// When it was last registered or updated.
    pub updated_at: i64,
}

/// What registering a device did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutDevice {
    /// Whether the device id was new for the user.
    pub created: bool,
    /// The registrations the token moved away from: (user, device id).
    pub moved_from: Vec<(String, String)>,
}

/// A user's push settings as set (seed: `TIMOfflinePushSettings`); unset fields are `None`
/// (the system default) and read back as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PushSettings)]
pub struct StoredSettings {
    /// Whether the user wants offline pushes; absent: the default (yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The C2C sound (an app-resource URI, 1 to 256 bytes); absent: the system default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub c2c_sound: Option<String>,
    /// The group sound (an app-resource URI, 1 to 256 bytes); absent: the system default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub group_sound: Option<String>,
    /// The user's locale (BCP 47, 1 to 35 bytes), which picks the placeholder table for devices
    /// that registered none; absent: the default table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 35, pattern = r"^[A-Za-z0-9_-]+$")]
    pub locale: Option<String>,
    /// Receive options (global, per peer, per group) and a do-not-disturb window; absent: every
    /// message may be pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::ReceiveRulesSchema>)]
    pub receive: Option<ReceiveRules>,
}

/// What accepting a message needs to know of one recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientState {
    /// Their settings as set; `None` when never set.
    pub settings: Option<StoredSettings>,
    /// Their devices with login states, by device id.
    pub devices: Vec<DeviceState>,
}

/// Serialises a token kind as the API names it: `"apns"` for both APNs environments (the
/// environment is a field of its own, `apns_env`), the kind's label otherwise.
pub(crate) fn api_kind<S: serde::Serializer>(kind: &TokenKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match kind.apns_env() {
        Some(_) => "apns",
        None => kind.as_str(),
    })
}
