//! What the webhook worker reads and writes: durable events, claimed per app under a lease.
//!
//! Events are written by the back end itself, in the transaction of what caused them (the
//! writer's [`record`](super::Store::record), the accept's [`accept`](super::Store::accept)), for
//! the (app, event type) pairs of its [`WebhookFilter`]; nothing is written for the others.

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;

use super::StoreError;

/// An event type a webhook may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A delivery was accepted by the vendor (or acked by a daemon device).
    Delivered,
    /// A delivery will never arrive; `reason` says why.
    Dead,
    /// A vendor reported a device's token dead; the registration was removed.
    TokenInvalidated,
    /// A recipient or one of their devices got nothing (settings, login state, quiet rules).
    Suppressed,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 4] = [
        EventType::Delivered,
        EventType::Dead,
        EventType::TokenInvalidated,
        EventType::Suppressed,
    ];

    /// The label in the event's `type` and in `events = [...]`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Delivered => "delivered",
            EventType::Dead => "dead",
            EventType::TokenInvalidated => "token_invalidated",
            EventType::Suppressed => "suppressed",
        }
    }

    /// Parses a label.
    pub fn parse(label: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == label)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which events are kept: (app, type) pairs. Empty (the default) keeps none and costs nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookFilter {
    pairs: BTreeSet<(String, EventType)>,
}

impl WebhookFilter {
    /// Keeps `types` of `app` (in addition to what it keeps already).
    pub fn add(&mut self, app: &str, types: impl IntoIterator<Item = EventType>) {
        for t in types {
            self.pairs.insert((app.to_owned(), t));
        }
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Whether `app` keeps `t`.
    pub fn wants(&self, app: &str, t: EventType) -> bool {
        self.pairs.contains(&(app.to_owned(), t))
    }

    /// Whether any app keeps `t`.
    pub fn any(&self, t: EventType) -> bool {
        self.pairs.iter().any(|(_, kept)| *kept == t)
    }

    /// The pairs as a JSON array of `[app, type]`, for a query's filter.
    pub(crate) fn to_json(&self) -> String {
        let pairs: Vec<[&str; 2]> = self
            .pairs
            .iter()
            .map(|(app, t)| [app.as_str(), t.as_str()])
            .collect();
        serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// An event claimed for posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedEvent {
    /// The row id.
    pub id: i64,
    /// The event's JSON, fixed when the event was written.
    pub body: String,
    /// Posts including this one.
    pub attempts: u32,
}

/// What a posted event's message says, for shapes that carry more than the event itself (the
/// TIM format's sender, conversation and `MsgRandom`): read when a batch is posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMessage {
    /// The message id.
    pub id: String,
    /// The sender's user id, when the message names one.
    pub sender: Option<String>,
    /// The conversation type: `c2c` or `group`.
    pub conversation: Option<String>,
    /// The group id of a group conversation.
    pub group_id: Option<String>,
    /// The idempotency key the message was accepted under.
    pub idempotency_key: String,
    /// When it was accepted (Unix ms).
    pub created_at: i64,
}

/// What became of a claimed event's post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRetry {
    /// The row id.
    pub id: i64,
    /// Due again at (Unix ms); `None`: dead, never posted again.
    pub run_at: Option<i64>,
}

/// Events by state, for one app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Waiting to be posted (first time or again), or being posted.
    pub pending: u64,
    /// Given up after `max_attempts` posts.
    pub dead: u64,
}

/// The webhook events of a store.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Sets which events the store writes from now on.
    fn set_webhook_filter(&self, filter: WebhookFilter);

    /// Apps with events due at `now`.
    async fn apps_with_due_events(&self, now: i64) -> Result<Vec<String>, StoreError>;

    /// Claims up to `limit` due events of `app` (oldest first), leasing them until
    /// `lease_until`: a crash mid-post makes them due again then.
    async fn claim_events(
        &self,
        app: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedEvent>, StoreError>;

    /// Forgets events whose post was answered 2xx.
    async fn events_sent(&self, ids: &[i64]) -> Result<(), StoreError>;

    /// Records failed posts: each event due again at its `run_at`, or dead; `error` is kept.
    async fn events_failed(
        &self,
        retries: &[EventRetry],
        error: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// The messages of `app` among `ids` (those still kept; the others are left out).
    async fn event_messages(
        &self,
        app: &str,
        ids: &[String],
    ) -> Result<Vec<EventMessage>, StoreError>;

    /// `app`'s events by state.
    async fn event_counts(&self, app: &str) -> Result<EventCounts, StoreError>;

    /// Deletes up to `limit` dead events that died before `before`; returns how many.
    async fn prune_events(&self, before: i64, limit: u32) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    fn _dyn_compatible(_: Box<dyn super::WebhookStore>) {}
}
