//! A message to commit with its rendered notifications and delivery rows, and the rows' states.

use pushway_core::TokenKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// The recipients of a message after its first ones, in parts, each sent as soon as it is
/// rendered: a store can write the first parts while the next are being read and rendered
/// (see [`Store::accept_streamed`](super::Store::accept_streamed)).
///
/// The parts end with [`MorePart::End`]; a stream that stops without it (its sender dropped: the
/// request was abandoned) or with [`MorePart::Failed`] must leave nothing stored.
#[derive(Debug)]
pub struct MoreRecipients(pub tokio::sync::mpsc::Receiver<MorePart>);

/// One part of [`MoreRecipients`].
#[derive(Debug)]
pub enum MorePart {
    /// More recipients, with the notifications first rendered for them: they take the next
    /// indices after those of [`NewMessage::notifications`] and the parts before.
    Recipients {
        /// Newly rendered notifications (JSON).
        notifications: Vec<String>,
        /// The recipients, in request order after those before.
        recipients: Vec<NewRecipient>,
    },
    /// Every recipient was sent.
    End,
    /// Rendering failed: nothing of the message may be stored.
    Failed(String),
}

impl MoreRecipients {
    /// The next part, waiting on this (non-async) thread; a stream that ended without
    /// [`MorePart::End`] answers [`MorePart::Failed`].
    pub fn blocking_next(&mut self) -> MorePart {
        self.0
            .blocking_recv()
            .unwrap_or_else(|| MorePart::Failed(ABANDONED.to_owned()))
    }

    /// The next part (as [`blocking_next`](Self::blocking_next), awaited).
    pub async fn next(&mut self) -> MorePart {
        self.0
            .recv()
            .await
            .unwrap_or_else(|| MorePart::Failed(ABANDONED.to_owned()))
    }

    /// Every remaining part added to `message`: its whole recipient list (what a store that
    /// writes parts as they come would have written).
    pub async fn collect_into(mut self, message: &mut NewMessage) -> Result<(), String> {
        loop {
            match self.next().await {
                MorePart::Recipients {
                    notifications,
                    recipients,
                } => {
                    message.notifications.extend(notifications);
                    message.recipients.extend(recipients);
                }
                MorePart::End => return Ok(()),
                MorePart::Failed(why) => return Err(why),
            }
        }
    }
}

/// Why a stream of recipients that stopped without its end stores nothing.
const ABANDONED: &str = "the message's recipients stopped before their end";

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not tried yet.
    Pending,
    /// Claimed by a worker under a lease.
    InFlight,
    /// The vendor accepted it (a daemon device acked it).
    Delivered,
    /// The daemon channel queued it for an offline device (or one that did not ack in time):
    /// `delivered` once the device acks it on a later connection, `dead` if a logout, kick or
    /// removal empties the queue first.
    Queued,
    /// Due again at its `run_at` (after a retryable outcome, or held while its route is
    /// paused).
    Retrying,
    /// Finished without knowing it arrived (the vendor's answer could not be told, or the
    /// token is stale): not tried again, the token kept.
    Failed,
    /// Will never arrive: dead token, refused, attempts or time exhausted, or taken out of a
    /// daemon queue unsent.
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

    /// Whether no worker will send the row again (a `queued` row may still turn `delivered`
    /// or `dead` when its daemon device acks it or its queue is emptied).
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
