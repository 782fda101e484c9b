//! What daemon hubs report after a send's outcome (acks on later connections, pushes taken out
//! of a queue unsent), written in the writer's transaction.

use sqlx::{Sqlite, Transaction};

use super::err;
use crate::store::{DaemonUpdate, StoreError};

/// Applies `updates` to their (message, device) rows, inside the writer's transaction. A row
/// already finished otherwise (delivered, failed, dead) keeps its state; an in-flight row
/// finished here keeps it too, as the outcome of its send is recorded only over `in_flight`.
pub(super) async fn record_daemon(
    tx: &mut Transaction<'static, Sqlite>,
    updates: &[DaemonUpdate],
    now: i64,
) -> Result<(), StoreError> {
    for u in updates {
        // The unique (message_id, user_id, device_id) index finds the row.
        sqlx::query(
            "UPDATE deliveries SET state = ?, last_outcome = ?, last_reason = ?,
                    lease_until = NULL, run_at = ?, updated_at = ?
             WHERE message_id = ? AND user_id = ? AND device_id = ? AND app_id = ?
               AND kind = 'daemon'
               AND state IN ('pending', 'in_flight', 'retrying', 'queued')",
        )
        .bind(u.state.as_str())
        .bind(&u.outcome)
        .bind(&u.reason)
        .bind(now)
        .bind(now)
        .bind(&u.message_id)
        .bind(&u.user)
        .bind(&u.device_id)
        .bind(&u.app)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    Ok(())
}
