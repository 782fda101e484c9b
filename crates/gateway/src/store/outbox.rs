//! What workers claim and what the writer commits.

use pushway_core::{ApnsEnv, TokenKind};
use serde::Serialize;
use utoipa::ToSchema;

use super::DeliveryState;

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
    /// Retryable failures before this send.
    pub retries: u32,
    /// When the row stops being tried.
    pub expires_at: i64,
    /// The last outcome's reason, for a row that dies unsent.
    pub last_reason: Option<String>,
    /// The message id (for traces).
    pub message_id: String,
    /// When the message was accepted (Unix ms; for the accept→outcome latency).
    pub accepted_at: i64,
}

/// The lease an accept's transaction writes on the delivery rows it hands to this process's
/// worker at once (see `worker::Handoff`), instead of leaving them due for a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptLease {
    /// The accept time.
    pub now: i64,
    /// Until when the rows are leased, as a claim at `now` would lease them.
    pub lease_until: i64,
    /// Rows to lease at most (the rest are written due).
    pub rows: usize,
}

/// Rows an accept wrote leased under an [`AcceptLease`], as a claim would answer them, with
/// the rendered notifications they refer to (so the worker does not read them back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeasedAtAccept {
    /// The leased rows, in the order written: messages in accept order, each message's rows
    /// grouped by notification (in recipient order within a notification).
    pub rows: Vec<Claimed>,
    /// `(notification id, its JSON)` of the notifications of `rows`.
    pub notifications: Vec<(i64, String)>,
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
    /// What daemon hubs learned after a send's outcome.
    pub daemon: Vec<DaemonUpdate>,
}

impl WriteBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
            && self.dead.is_empty()
            && self.pauses.is_empty()
            && self.daemon.is_empty()
    }
}

/// What a daemon hub learned about a push after the send that queued it: the device acked it
/// (on a later connection, or after the ack timeout), or it was taken out of the device's
/// queue unsent (logout, kick, removal). Applied to the (message, device) row while it is not
/// finished otherwise (pending, in flight, retrying, or queued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonUpdate {
    /// The app.
    pub app: String,
    /// The user.
    pub user: String,
    /// The device id.
    pub device_id: String,
    /// The message id (the push id).
    pub message_id: String,
    /// `Delivered` (acked) or `Dead` (taken out unsent).
    pub state: DeliveryState,
    /// The outcome's label (`delivered`, `dropped`).
    pub outcome: String,
    /// The reason, for a push taken out unsent.
    pub reason: Option<String>,
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
    /// Whether the outcome was a retryable failure (counts toward `max_attempts`).
    pub retried: bool,
}

impl OutcomeRecord {
    /// Of a batch's outcomes, each row's first, in id order: what the stores record (a later
    /// outcome of a row in the same batch is dropped, as row-by-row updates would leave it).
    pub(crate) fn firsts_by_id(outcomes: &[OutcomeRecord]) -> Vec<&OutcomeRecord> {
        let mut rows: Vec<&OutcomeRecord> = outcomes.iter().collect();
        // Stable: a row's first outcome stays ahead of its later ones, which the dedup drops.
        rows.sort_by_key(|o| o.delivery_id);
        rows.dedup_by_key(|o| o.delivery_id);
        rows
    }

    /// Whether `self` and `other` write the same values (their rows may share a statement).
    pub(crate) fn same_values(&self, other: &OutcomeRecord) -> bool {
        self.state == other.state
            && self.run_at == other.run_at
            && self.outcome == other.outcome
            && self.reason == other.reason
            && self.retried == other.retried
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeadTokenEntry {
    /// The feed cursor of this entry.
    pub cursor: i64,
    /// The user the registration belonged to, when it was still registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The device id, when it was still registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The channel: `apns`, `xiaomi`, `huawei`, `fcm`, `daemon` (as devices are registered).
    #[serde(serialize_with = "super::device::api_kind")]
    #[schema(value_type = crate::service::KindIn)]
    pub kind: TokenKind,
    /// The APNs environment, for APNs tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::service::ApnsEnvSchema>)]
    pub apns_env: Option<ApnsEnv>,
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
