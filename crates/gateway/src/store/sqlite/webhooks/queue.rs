//! The webhook worker's side: due events claimed per app under a lease, answered ones
//! deleted, failed ones due again or dead, dead ones pruned after the retention.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::Row;

use super::super::{SqliteStore, err};
use crate::store::rows;
use crate::store::{
    ClaimedEvent, EventCounts, EventMessage, EventRetry, StoreError, WebhookFilter, WebhookStore,
};

#[async_trait]
impl WebhookStore for SqliteStore {
    fn set_webhook_filter(&self, filter: WebhookFilter) {
        let filter = Arc::new(filter);
        match self.webhooks.write() {
            Ok(mut current) => *current = filter,
            Err(poisoned) => *poisoned.into_inner() = filter,
        }
    }

    async fn apps_with_due_events(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT app_id FROM webhook_events
             WHERE state IN ('pending', 'in_flight') AND run_at <= ?",
        )
        .bind(now)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        rows.iter().map(|row| row.try_get(0).map_err(err)).collect()
    }

    async fn claim_events(
        &self,
        app: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedEvent>, StoreError> {
        // Relaxed: a claim forgotten in a power cut only makes its events due again.
        let mut tx = self.relaxed_tx().await?;
        let rows = sqlx::query(
            "UPDATE webhook_events SET state = 'in_flight', attempts = attempts + 1,
                    run_at = ?3, updated_at = ?2
             WHERE id IN (
               SELECT id FROM webhook_events
               WHERE app_id = ?1 AND state IN ('pending', 'in_flight') AND run_at <= ?2
               ORDER BY run_at, id LIMIT ?4)
             RETURNING id, body, attempts",
        )
        .bind(app)
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        rows::claimed_events(&rows)
    }

    async fn events_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        let list = serde_json::to_string(ids).map_err(StoreError::new)?;
        let mut tx = self.relaxed_tx().await?;
        sqlx::query("DELETE FROM webhook_events WHERE id IN (SELECT value FROM json_each(?))")
            .bind(list)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn events_failed(
        &self,
        retries: &[EventRetry],
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let rows: Vec<Value> = retries.iter().map(|r| json!([r.id, r.run_at])).collect();
        let mut tx = self.relaxed_tx().await?;
        sqlx::query(
            "UPDATE webhook_events
             SET state = CASE WHEN r.value ->> 1 IS NULL THEN 'dead' ELSE 'pending' END,
                 run_at = coalesce(r.value ->> 1, webhook_events.run_at),
                 last_error = ?1, updated_at = ?2
             FROM json_each(?3) AS r
             WHERE webhook_events.id = r.value ->> 0 AND webhook_events.state = 'in_flight'",
        )
        .bind(error)
        .bind(now)
        .bind(Value::Array(rows).to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn event_messages(
        &self,
        app: &str,
        ids: &[String],
    ) -> Result<Vec<EventMessage>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(ids).map_err(StoreError::new)?;
        // One primary-key lookup per message of the batch (at most 100), on the reader pool.
        let rows = sqlx::query(
            "SELECT id, body ->> '$.sender.user_id', body ->> '$.conversation.type',
                    body ->> '$.conversation.id', idempotency_key, created_at
             FROM messages
             WHERE id IN (SELECT value FROM json_each(?2)) AND app_id = ?1",
        )
        .bind(app)
        .bind(list)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        rows.iter().map(rows::event_message).collect()
    }

    async fn event_counts(&self, app: &str) -> Result<EventCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM webhook_events WHERE app_id = ? GROUP BY state",
        )
        .bind(app)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        rows::event_counts(&rows)
    }

    async fn prune_events(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let mut tx = self.relaxed_tx().await?;
        let deleted = sqlx::query(
            "DELETE FROM webhook_events WHERE id IN (
               SELECT id FROM webhook_events WHERE state = 'dead' AND updated_at < ? LIMIT ?)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        tx.commit().await.map_err(err)?;
        Ok(deleted)
    }
}
