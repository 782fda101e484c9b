//! What daemon hubs report after a send's outcome (acks on later connections, pushes taken out
//! of a queue unsent), written in the writer's transaction.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::raw::raw_err;
use crate::store::{DaemonUpdate, StoreError};

/// Applies `updates` to their (message, device) rows, inside the writer's transaction. A row
/// already finished otherwise (delivered, failed, dead) keeps its state; an in-flight row
/// finished here keeps it too, as the outcome of its send is recorded only over `in_flight`.
pub(super) fn record_daemon(
    conn: &Connection,
    updates: &[DaemonUpdate],
    now: i64,
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    // Both states an update sets are final, so of several updates of one row only the first
    // applies. The unique (message_id, user_id, device_id) index finds each row.
    let mut update = conn
        .prepare_cached(
            "UPDATE deliveries SET state = ?5, last_outcome = ?6, last_reason = ?7,
                    lease_until = NULL, run_at = ?8, updated_at = ?8
             WHERE message_id = ?1 AND user_id = ?2 AND device_id = ?3 AND app_id = ?4
               AND kind = 'daemon'
               AND (state = 'pending' OR state = 'in_flight' OR state = 'retrying'
                    OR state = 'queued')",
        )
        .map_err(raw_err)?;
    let mut seen = HashSet::with_capacity(updates.len());
    for u in updates {
        if !seen.insert((&u.app, &u.message_id, &u.user, &u.device_id)) {
            continue;
        }
        update
            .execute(params![
                u.message_id,
                u.user,
                u.device_id,
                u.app,
                u.state.as_str(),
                u.outcome,
                u.reason,
                now
            ])
            .map_err(raw_err)?;
    }
    Ok(())
}
