//! What the console shows of the outbox and routes as a whole, and of one user's recent
//! deliveries.

use pushway_core::TokenKind;

use super::DeliveryState;

/// One app's outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// The app.
    pub app: String,
    /// Rows not finished: pending, retrying or in flight.
    pub depth: i64,
    /// Of those, rows due now (a lease that ran out counts as due).
    pub due: i64,
    /// When the oldest due row became due (Unix ms).
    pub oldest_due_at: Option<i64>,
    /// Rows in state dead (dead letters).
    pub dead: i64,
}

/// A route paused because the vendor refused its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedRoute {
    /// The app.
    pub app: String,
    /// The token kind.
    pub kind: TokenKind,
    /// The credential name.
    pub credential: String,
    /// Until when (Unix ms).
    pub until: i64,
    /// The refusal.
    pub reason: String,
}

/// One recent delivery to a user (no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentDelivery {
    /// The row id.
    pub id: i64,
    /// The message.
    pub message_id: String,
    /// The device.
    pub device_id: String,
    /// The token kind.
    pub kind: TokenKind,
    /// The state.
    pub state: DeliveryState,
    /// Sends so far.
    pub attempts: u32,
    /// The last outcome's label.
    pub last_outcome: Option<String>,
    /// The last outcome's reason.
    pub last_reason: Option<String>,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}
