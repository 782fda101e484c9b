//! What daemon hubs report after a send's outcome (acks on later connections, pushes taken out
//! of a queue unsent), written in the writer's transaction.

use std::collections::HashSet;

use serde_json::{Value, json};
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
    if updates.is_empty() {
        return Ok(());
    }
    // One statement for the batch. Both states an update sets are final, so of several updates
    // of one row only the first applies, as it would row by row.
    let mut seen = HashSet::with_capacity(updates.len());
    let rows: Vec<Value> = updates
        .iter()
        .filter(|u| seen.insert((&u.app, &u.message_id, &u.user, &u.device_id)))
        .map(|u| {
            json!([
                u.message_id,
                u.user,
                u.device_id,
                u.app,
                u.state.as_str(),
                u.outcome,
                u.reason
            ])
        })
        .collect();
    // The unique (message_id, user_id, device_id) index finds each row.
    sqlx::query(
        "UPDATE deliveries SET state = u.value ->> 4, last_outcome = u.value ->> 5,
                last_reason = u.value ->> 6, lease_until = NULL, run_at = ?1, updated_at = ?1
         FROM json_each(?2) AS u
         WHERE deliveries.message_id = u.value ->> 0 AND deliveries.user_id = u.value ->> 1
           AND deliveries.device_id = u.value ->> 2 AND deliveries.app_id = u.value ->> 3
           AND deliveries.kind = 'daemon'
           AND deliveries.state IN ('pending', 'in_flight', 'retrying', 'queued')",
    )
    .bind(now)
    .bind(Value::Array(rows).to_string())
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}
