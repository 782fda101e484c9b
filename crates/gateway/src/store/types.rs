//! The records the store takes and returns.

use pushway_core::TokenKind;
use serde::{Deserialize, Serialize};

/// A device's login state (seed: a logged-out or kicked device gets no pushes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSettings {
    /// Whether the user wants offline pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The C2C sound (an app-resource URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c2c_sound: Option<String>,
    /// The group sound (an app-resource URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_sound: Option<String>,
}

/// A message to commit, with everything rendered.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The gateway's message id.
    pub id: String,
    /// The app.
    pub app: String,
    /// The caller's idempotency key.
    pub idempotency_key: String,
    /// SHA-256 of the request body, to tell a replay from a reused key.
    pub request_hash: [u8; 32],
    /// The message as JSON.
    pub body: String,
    /// When it was accepted.
    pub created_at: i64,
    /// When its deliveries stop being tried.
    pub expires_at: i64,
    /// Distinct rendered notifications (JSON); deliveries refer to them by index.
    pub notifications: Vec<String>,
    /// Every recipient.
    pub recipients: Vec<NewRecipient>,
}

/// One recipient of a new message.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// The user.
    pub user: String,
    /// Their unread count including this message.
    pub unread: u32,
    /// Why the whole recipient gets nothing, if so.
    pub suppressed: Option<String>,
    /// One delivery per device that gets the push.
    pub deliveries: Vec<NewDelivery>,
    /// Devices that get nothing, with the reason.
    pub suppressed_devices: Vec<(String, String)>,
}

/// One delivery row to create.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The device id.
    pub device_id: String,
    /// The token kind.
    pub kind: TokenKind,
    /// The credential name.
    pub credential: String,
    /// The token, as registered at accept time.
    pub token: String,
    /// Index into [`NewMessage::notifications`].
    pub notification: usize,
}

/// The answer to an accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The message id.
    pub message_id: String,
    /// `false` when the idempotency key had been used: nothing was added.
    pub created: bool,
}

/// A delivery row's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not tried yet.
    Pending,
    /// Claimed by a worker under a lease.
    InFlight,
    /// The vendor accepted it.
    Delivered,
    /// The daemon channel queued it for an offline device.
    Queued,
    /// Due again at its `run_at` (after a retryable outcome, or held while its route is
    /// paused).
    Retrying,
    /// Finished without knowing it arrived (the vendor's answer could not be told, or the
    /// token is stale): not tried again, the token kept.
    Failed,
    /// Will never arrive: dead token, refused, attempts or time exhausted.
    Dead,
}

impl DeliveryState {
    /// The stored label.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::InFlight => "in_flight",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Queued => "queued",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Failed => "failed",
            DeliveryState::Dead => "dead",
        }
    }

    /// Parses a stored label.
    pub fn parse(label: &str) -> Option<DeliveryState> {
        Some(match label {
            "pending" => DeliveryState::Pending,
            "in_flight" => DeliveryState::InFlight,
            "delivered" => DeliveryState::Delivered,
            "queued" => DeliveryState::Queued,
            "retrying" => DeliveryState::Retrying,
            "failed" => DeliveryState::Failed,
            "dead" => DeliveryState::Dead,
            _ => return None,
        })
    }

    /// Whether nothing more will happen to the row.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Delivered
                | DeliveryState::Queued
                | DeliveryState::Failed
                | DeliveryState::Dead
        )
    }
}

/// A message's status: every recipient, suppressed or with their devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageStatus {
    /// The message id.
    pub message_id: String,
    /// When it was accepted (Unix ms).
    pub created_at_ms: i64,
    /// Every recipient, in the order given.
    pub recipients: Vec<RecipientStatus>,
}

impl MessageStatus {
    /// Whether every delivery has an outcome that will not change.
    pub fn is_settled(&self) -> bool {
        self.recipients
            .iter()
            .flat_map(|r| &r.devices)
            .all(|d| d.state.is_final())
    }

    /// Whether every delivery has been tried at least once and is not in flight.
    pub fn is_known(&self) -> bool {
        self.recipients
            .iter()
            .flat_map(|r| &r.devices)
            .all(|d| d.state.is_final() || (d.state == DeliveryState::Retrying && d.attempts > 0))
    }
}

/// One recipient's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientStatus {
    /// The user.
    pub user_id: String,
    /// Why the recipient gets nothing, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    /// The devices the push goes to.
    pub devices: Vec<DeliveryStatus>,
    /// The devices that get nothing (logged out, kicked), with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed_devices: Vec<SuppressedDevice>,
}

/// A device left out of a message, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuppressedDevice {
    /// The device id.
    pub device_id: String,
    /// Why.
    pub reason: String,
}

/// One delivery row's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryStatus {
    /// The device id.
    pub device_id: String,
    /// The token kind.
    pub kind: TokenKind,
    /// The credential name.
    pub credential: String,
    /// The state.
    pub state: DeliveryState,
    /// Sends so far.
    pub attempts: u32,
    /// The last outcome's label (`delivered`, `retry`, `invalid_token`…), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    /// The last outcome's reason, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<String>,
    /// When the row is due next (pending, retrying) or its lease ends (in flight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at_ms: Option<i64>,
    /// When the row was created.
    pub created_at_ms: i64,
    /// When it last changed.
    pub updated_at_ms: i64,
}

/// A row claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The row id.
    pub id: i64,
    /// The app.
    pub app: String,
    /// The rendered notification's id.
    pub notification_id: i64,
    /// The token kind.
    pub kind: TokenKind,
    /// The credential name.
    pub credential: String,
    /// The token.
    pub token: String,
    /// Sends including this one.
    pub attempts: u32,
    /// When the row stops being tried.
    pub expires_at: i64,
    /// The last outcome's reason, for a row that dies unsent.
    pub last_reason: Option<String>,
}

/// What the writer commits in one transaction.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// Outcomes of claimed rows.
    pub outcomes: Vec<OutcomeRecord>,
    /// Tokens reported dead by the hygiene layer.
    pub dead: Vec<DeadTokenRecord>,
    /// Routes to pause.
    pub pauses: Vec<RoutePause>,
}

impl WriteBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty() && self.dead.is_empty() && self.pauses.is_empty()
    }
}

/// The new state of one claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    /// The row id.
    pub delivery_id: i64,
    /// Its new state.
    pub state: DeliveryState,
    /// When it is due again (retrying).
    pub run_at: i64,
    /// The outcome's label.
    pub outcome: String,
    /// The outcome's reason.
    pub reason: Option<String>,
}

/// A token a vendor reported dead: its device registration is removed and a feed entry added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadTokenRecord {
    /// The app.
    pub app: String,
    /// The token kind.
    pub kind: TokenKind,
    /// The credential name.
    pub credential: String,
    /// The token.
    pub token: String,
    /// The vendor's reason.
    pub reason: String,
    /// Since when the vendor knows (Unix ms): a registration updated after it is kept.
    pub since: Option<i64>,
}

/// A paused route: its rows are held, not claimed, until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePause {
    /// The app.
    pub app: String,
    /// The token kind.
    pub kind: TokenKind,
    /// The credential name.
    pub credential: String,
    /// Paused until (Unix ms).
    pub until: i64,
    /// Why.
    pub reason: String,
}

/// One entry of the dead-token feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadTokenEntry {
    /// The feed cursor of this entry.
    pub cursor: i64,
    /// The user the registration belonged to, when it was still registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The device id, when it was still registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The token kind.
    pub kind: TokenKind,
    /// The credential name.
    pub credential: String,
    /// The token.
    pub token: String,
    /// The vendor's reason.
    pub reason: String,
    /// Whether a registration was removed (`false`: none, or re-registered since).
    pub removed: bool,
    /// When it was recorded (Unix ms).
    pub at_ms: i64,
}
