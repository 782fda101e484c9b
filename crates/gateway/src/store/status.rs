//! A message's status as the API shows it.

use pushway_core::{ApnsEnv, TokenKind};
use serde::Serialize;
use utoipa::ToSchema;

use super::DeliveryState;

/// A message's status: every recipient, suppressed or with their devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

    /// Whether every delivery has an outcome to report: finished, tried and due again, or held
    /// by a paused route.
    pub fn is_known(&self) -> bool {
        self.recipients.iter().flat_map(|r| &r.devices).all(|d| {
            d.state.is_final()
                || (d.state == DeliveryState::Retrying && d.attempts > 0)
                || (d.route_paused.is_some() && d.state != DeliveryState::InFlight)
        })
    }
}

/// A message's status in counts: what `GET .../summary` answers, one aggregate read however
/// many recipients the message has (a group message's full status lists every delivery).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageSummary {
    /// The message id.
    pub message_id: String,
    /// When it was accepted (Unix ms).
    pub created_at_ms: i64,
    /// Recipients named by the message.
    pub recipients: u64,
    /// Recipients that get nothing as a whole (settings, no devices…).
    pub suppressed_recipients: u64,
    /// Devices left out (logged out, kicked, no credential, or not chosen by the app's
    /// `daemon_first` strategy).
    pub suppressed_devices: u64,
    /// Deliveries (one per device that gets the push), by state.
    pub deliveries: DeliveryCounts,
    /// Whether every delivery has an outcome that will not change.
    pub settled: bool,
    /// The latest change of any delivery (Unix ms); `None` without deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_at_ms: Option<i64>,
}

/// Deliveries by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryCounts {
    /// Every delivery.
    pub total: u64,
    /// Not tried yet.
    pub pending: u64,
    /// Being sent.
    pub in_flight: u64,
    /// Due again later.
    pub retrying: u64,
    /// Queued by the daemon channel for an offline device.
    pub queued: u64,
    /// Accepted by the vendor (acked by a daemon device).
    pub delivered: u64,
    /// Finished without knowing it arrived.
    pub failed: u64,
    /// Will never arrive.
    pub dead: u64,
}

impl DeliveryCounts {
    /// Counts `n` deliveries in `state`.
    pub fn add(&mut self, state: DeliveryState, n: u64) {
        self.total += n;
        *match state {
            DeliveryState::Pending => &mut self.pending,
            DeliveryState::InFlight => &mut self.in_flight,
            DeliveryState::Retrying => &mut self.retrying,
            DeliveryState::Queued => &mut self.queued,
            DeliveryState::Delivered => &mut self.delivered,
            DeliveryState::Failed => &mut self.failed,
            DeliveryState::Dead => &mut self.dead,
        } += n;
    }

    /// Whether every delivery is in a final state.
    pub fn is_settled(&self) -> bool {
        self.pending + self.in_flight + self.retrying == 0
    }
}

/// One recipient's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecipientStatus {
    /// The user.
    pub user_id: String,
    /// Why the recipient gets nothing, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    /// The devices the push goes to.
    pub devices: Vec<DeliveryStatus>,
    /// The devices that get nothing, with the reason: `logged_out`, `kicked`, `no_credential`,
    /// or, under the app's `daemon_first` strategy, `daemon_live` / `vendor_preferred`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed_devices: Vec<SuppressedDevice>,
}

/// A device left out of a message, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SuppressedDevice {
    /// The device id.
    pub device_id: String,
    /// Why.
    pub reason: String,
}

/// One delivery row's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryStatus {
    /// The device id.
    pub device_id: String,
    /// The channel: `apns`, `xiaomi`, `huawei`, `fcm`, `daemon` (as devices are registered).
    #[serde(serialize_with = "super::device::api_kind")]
    #[schema(value_type = crate::service::KindIn)]
    pub kind: TokenKind,
    /// The APNs environment, for APNs devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::service::ApnsEnvSchema>)]
    pub apns_env: Option<ApnsEnv>,
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
    /// The row's route is paused (its credential was refused): the row is held, not dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_paused: Option<RoutePaused>,
    /// When the row was created.
    pub created_at_ms: i64,
    /// When it last changed.
    pub updated_at_ms: i64,
}

/// Why and until when a delivery's route is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoutePaused {
    /// Until when (Unix ms); the row is tried again then.
    pub until_ms: i64,
    /// The refusal that paused it (outcome and reason).
    pub reason: String,
}
