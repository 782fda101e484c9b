//! What a metrics scrape reads from the store.

use pushway_core::TokenKind;

/// The outbox's backlog and the paused routes, as of one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Rows per (app, state) for the outstanding states `pending`, `retrying`, `in_flight`;
    /// pairs with no rows are absent.
    pub depth: Vec<(String, String, u64)>,
    /// Per app with a due row (`pending` or `retrying` with `run_at <= now`, or `in_flight`
    /// past its lease, outside paused routes): the oldest one's `run_at` (Unix ms).
    pub oldest_due: Vec<(String, i64)>,
    /// Routes paused now: app, token kind, credential.
    pub paused: Vec<(String, TokenKind, String)>,
}
