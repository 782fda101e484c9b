//! The store: everything the gateway keeps, behind one trait so SQLite (the embedded default)
//! and Postgres (several nodes on one database) serve the same service and workers.
//!
//! Queries live in the back ends only; the service and workers speak in the types below. Times
//! are Unix milliseconds (`i64`), passed in by the caller so tests control the clock.

mod dead_letter;
mod device;
mod message;
mod open;
mod outbox;
mod overview;
pub mod postgres;
mod rows;
pub mod sqlite;
mod stats;
mod status;
mod webhook;

use std::collections::HashMap;

use async_trait::async_trait;
use pushway_core::TokenKind;

pub use dead_letter::{DeadLetter, DeadLetterFilter, NotReplayed, Replayed};
pub use device::{Device, DeviceState, Login, PutDevice, RecipientState, StoredSettings};
pub use message::{
    Accepted, DeliveryState, MorePart, MoreRecipients, NewDelivery, NewMessage, NewRecipient,
};
pub use open::AnyStore;
pub use outbox::{
    AcceptLease, Claimed, DaemonUpdate, DeadTokenEntry, DeadTokenRecord, LeasedAtAccept,
    OutcomeRecord, RoutePause, WriteBatch,
};
pub use overview::{OutboxStats, PausedRoute, RecentDelivery};
pub use stats::Backlog;
pub use status::{
    DeliveryCounts, DeliveryStatus, MessageStatus, MessageSummary, RecipientStatus, RoutePaused,
    SuppressedDevice,
};

// The webhook worker's side of the store (its own trait: the events are written by `record`
// and `accept` themselves).
pub use webhook::{
    ClaimedEvent, EventCounts, EventMessage, EventRetry, EventType, WebhookFilter, WebhookStore,
};

/// A store failure (the database is unreachable, full, corrupt…): a 5xx, never the caller's
/// fault.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(String);

impl StoreError {
    pub(crate) fn new(error: impl std::fmt::Display) -> Self {
        StoreError(error.to_string())
    }
}

/// What the gateway keeps. Every method is one short transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Makes the stored apps and their key hashes exactly `apps` (keys of apps not listed are
    /// removed; the apps' data is kept).
    async fn sync_apps(&self, apps: &[(String, Vec<[u8; 32]>)], now: i64)
    -> Result<(), StoreError>;

    /// Every stored key hash and the app it reaches.
    async fn api_keys(&self) -> Result<Vec<([u8; 32], String)>, StoreError>;

    /// Registers or updates a device. A token registered for another user or device of the app
    /// moves here (the other registration is removed).
    async fn put_device(&self, device: &Device, now: i64) -> Result<PutDevice, StoreError>;

    /// Removes a device; whether it existed.
    async fn delete_device(&self, app: &str, user: &str, device: &str) -> Result<bool, StoreError>;

    /// A user's devices with their login states, by device id.
    async fn devices(&self, app: &str, user: &str) -> Result<Vec<DeviceState>, StoreError>;

    /// The settings, devices and login states of each of `users` (users with neither are
    /// absent), as one consistent read for accepting a message.
    async fn recipients(
        &self,
        app: &str,
        users: &[String],
    ) -> Result<HashMap<String, RecipientState>, StoreError>;

    /// Stores a user's push settings exactly as given.
    async fn put_settings(
        &self,
        app: &str,
        user: &str,
        settings: &StoredSettings,
        now: i64,
    ) -> Result<(), StoreError>;

    /// A user's push settings as stored; `None` when never set.
    async fn settings(&self, app: &str, user: &str) -> Result<Option<StoredSettings>, StoreError>;

    /// Sets the login state of one device, or of every registered device of the user when
    /// `device` is `None`; returns how many devices it set.
    async fn set_login(
        &self,
        app: &str,
        user: &str,
        device: Option<&str>,
        state: Login,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// The message accepted earlier under `key`, with the hash of its request.
    async fn find_idempotent(
        &self,
        app: &str,
        key: &str,
    ) -> Result<Option<(String, [u8; 32])>, StoreError>;

    /// The messages accepted earlier under any of `keys`, with the hash of each one's request,
    /// by key: [`find_idempotent`](Store::find_idempotent) for many requests in one read (the
    /// accept path batches the lookups of concurrent requests).
    async fn find_idempotent_many(
        &self,
        app: &str,
        keys: &[String],
    ) -> Result<HashMap<String, (String, [u8; 32])>, StoreError>;

    /// Commits messages, each with its rendered notifications, recipients and delivery rows,
    /// in one transaction (the accept path's group commit: one fsync for all). A message whose
    /// idempotency key was taken meanwhile stores nothing and answers the earlier message.
    async fn accept(&self, messages: &[NewMessage]) -> Result<Vec<Accepted>, StoreError>;

    /// [`accept`](Store::accept), with up to `lease.rows` of the new delivery rows (of routes
    /// not paused) written leased to this process under `lease` and answered, instead of due:
    /// the worker's hand-off (`worker::Handoff`). A store without it leases none.
    async fn accept_leasing(
        &self,
        messages: Vec<NewMessage>,
        lease: Option<AcceptLease>,
    ) -> Result<(Vec<Accepted>, LeasedAtAccept), StoreError> {
        let _ = lease;
        Ok((self.accept(&messages).await?, LeasedAtAccept::default()))
    }

    /// [`accept_leasing`](Store::accept_leasing) of one message whose recipients after the
    /// first arrive in parts (`more`), in one transaction: nothing is stored unless every part
    /// came and the stream ended. A store may write the parts as they come (SQLite); by
    /// default they are collected first.
    async fn accept_streamed(
        &self,
        mut message: NewMessage,
        more: MoreRecipients,
        lease: Option<AcceptLease>,
    ) -> Result<(Accepted, LeasedAtAccept), StoreError> {
        more.collect_into(&mut message)
            .await
            .map_err(StoreError::new)?;
        let (mut accepted, leased) = self.accept_leasing(vec![message], lease).await?;
        let accepted = accepted
            .pop()
            .ok_or_else(|| StoreError::new("an accept answered no message"))?;
        Ok((accepted, leased))
    }

    /// A message's status as of `now` (which routes are paused); `None` when the app has no
    /// such message.
    async fn status(
        &self,
        app: &str,
        message: &str,
        now: i64,
    ) -> Result<Option<MessageStatus>, StoreError>;

    /// A message's status in counts; `None` when the app has no such message.
    async fn summary(&self, app: &str, message: &str)
    -> Result<Option<MessageSummary>, StoreError>;

    /// Claims up to `limit` due rows (pending or retrying with `run_at <= now`, or in flight
    /// with an expired lease) of routes not paused, leasing them until `lease_until`.
    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError>;

    /// Makes the given rows, where still in flight, due again now (their worker stopped before
    /// their outcome); returns how many it released.
    async fn release(&self, ids: &[i64], now: i64) -> Result<u64, StoreError>;

    /// Deletes up to `limit` messages accepted before `before` whose deliveries are all
    /// finished (with their rows; their idempotency keys are forgotten too), and dead-token
    /// feed entries older than `before`; returns how many messages it deleted.
    async fn prune(&self, before: i64, limit: u32) -> Result<u64, StoreError>;

    /// The rendered notifications (JSON) of the given ids.
    async fn notifications(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError>;

    /// Records a batch of outcomes, dead tokens and route pauses in one transaction (the
    /// writer's group commit).
    async fn record(&self, batch: &WriteBatch, now: i64) -> Result<(), StoreError>;

    /// The dead-token feed of an app after `cursor`, oldest first.
    async fn dead_tokens(
        &self,
        app: &str,
        cursor: i64,
        limit: u32,
    ) -> Result<Vec<DeadTokenEntry>, StoreError>;

    /// Up to `limit` dead deliveries of an app matching `filter`, with ids after `after`, in id
    /// order.
    async fn dead_letters(
        &self,
        app: &str,
        filter: &DeadLetterFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError>;

    /// Makes the given dead deliveries of an app pending again with a fresh attempt budget
    /// (no attempts, due at `now`, expiring after the message's time to live from `now`):
    /// those whose device is still registered with the same token and logged in. One
    /// transaction.
    async fn replay(&self, app: &str, ids: &[i64], now: i64) -> Result<Replayed, StoreError>;

    /// Every app's outbox as of `now` (apps with no rows are absent), by app id.
    async fn outbox_stats(&self, now: i64) -> Result<Vec<OutboxStats>, StoreError>;

    /// Routes paused as of `now`.
    async fn paused_routes(&self, now: i64) -> Result<Vec<PausedRoute>, StoreError>;

    /// A user's `limit` most recent deliveries, newest first.
    async fn recent_deliveries(
        &self,
        app: &str,
        user: &str,
        limit: u32,
    ) -> Result<Vec<RecentDelivery>, StoreError>;
    /// The outbox's backlog and paused routes as of `now`, for a metrics scrape.
    async fn backlog(&self, now: i64) -> Result<Backlog, StoreError>;

    /// The route's credential was added or replaced: lifts its pause and makes the rows it held
    /// (retrying after an `auth`, `misconfigured` or `unroutable` outcome) due at `now`;
    /// returns how many rows it made due.
    async fn resume_route(
        &self,
        app: &str,
        kind: TokenKind,
        credential: &str,
        now: i64,
    ) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    fn _dyn_compatible(_: Box<dyn super::Store>) {}
}
