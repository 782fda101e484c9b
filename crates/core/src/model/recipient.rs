//! The recipient of a push, as the push server knows them at send time.

use serde::{Deserialize, Serialize};

use super::{ReceiveRules, UserPushSettings};

/// Everything about the recipient that rendering needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// The recipient's user id.
    pub user_id: String,
    /// Whether the recipient is still logged in (default: logged in).
    #[serde(default)]
    pub login: LoginState,
    /// The recipient's per-user push settings.
    #[serde(default)]
    pub settings: UserPushSettings,
    /// The recipient's unread count *including this message*, used as the iOS badge.
    #[serde(default)]
    pub unread: u32,
    /// The recipient's locale (BCP 47, such as `zh-CN` or `en-US`); picks the placeholder table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The recipient's receive options and do-not-disturb window (absent = none).
    #[serde(default, skip_serializing_if = "ReceiveRules::is_empty")]
    pub receive: ReceiveRules,
    /// The instant the push is rendered at (Unix milliseconds), which a do-not-disturb window
    /// is checked against: the renderer has no clock of its own. Required when `receive.dnd`
    /// is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now_ms: Option<i64>,
}

impl Recipient {
    /// A logged-in recipient with default settings, no unread messages and no locale.
    pub fn new(user_id: impl Into<String>) -> Self {
        Recipient {
            user_id: user_id.into(),
            login: LoginState::LoggedIn,
            settings: UserPushSettings::default(),
            unread: 0,
            locale: None,
            receive: ReceiveRules::default(),
            now_ms: None,
        }
    }
}

/// The recipient's session state. Only a logged-in user whose app is not running gets pushes;
/// a user who logged out or was kicked offline gets none (seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginState {
    /// Logged in (the app may have been closed by the system or the user).
    #[default]
    LoggedIn,
    /// Logged out by the user.
    LoggedOut,
    /// Kicked offline (for example by a login on another device).
    KickedOffline,
}
