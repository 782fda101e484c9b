//! The webhook worker's side: due events claimed per app under a lease, answered ones
//! deleted, failed ones due again or dead, dead ones pruned after the retention.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;

use super::super::{PgStore, err};
use crate::store::rows;
use crate::store::{
    ClaimedEvent, EventCounts, EventMessage, EventRetry, StoreError, WebhookFilter, WebhookStore,
};

#[async_trait]
impl WebhookStore for PgStore {
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
             WHERE state IN ('pending', 'in_flight') AND run_at <= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
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
        // As the outbox's claim: the rows taken are locked, and those another node's claim
        // holds are skipped, so two nodes never post one event at once.
        let rows = sqlx::query(
            "UPDATE webhook_events SET state = 'in_flight', attempts = attempts + 1,
                    run_at = $3, updated_at = $2
             WHERE id IN (
               SELECT id FROM webhook_events
               WHERE app_id = $1 AND state IN ('pending', 'in_flight') AND run_at <= $2
               ORDER BY run_at, id LIMIT $4
               FOR UPDATE SKIP LOCKED)
             RETURNING id, body, attempts",
        )
        .bind(app)
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows::claimed_events(&rows)
    }

    async fn events_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_events WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn events_failed(
        &self,
        retries: &[EventRetry],
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = retries.iter().map(|r| r.id).collect();
        let run_at: Vec<Option<i64>> = retries.iter().map(|r| r.run_at).collect();
        sqlx::query(
            "UPDATE webhook_events
             SET state = CASE WHEN r.run_at IS NULL THEN 'dead' ELSE 'pending' END,
                 run_at = coalesce(r.run_at, webhook_events.run_at),
                 last_error = $1, updated_at = $2
             FROM UNNEST($3::bigint[], $4::bigint[]) AS r(id, run_at)
             WHERE webhook_events.id = r.id AND webhook_events.state = 'in_flight'",
        )
        .bind(error)
        .bind(now)
        .bind(&ids)
        .bind(&run_at)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn event_messages(
        &self,
        app: &str,
        ids: &[String],
    ) -> Result<Vec<EventMessage>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The body is kept as text; parsed here for at most a batch's messages.
        let rows = sqlx::query(
            "SELECT id, body::jsonb #>> '{sender,user_id}', body::jsonb #>> '{conversation,type}',
                    body::jsonb #>> '{conversation,id}', idempotency_key, created_at
             FROM messages
             WHERE id = ANY($2) AND app_id = $1",
        )
        .bind(app)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(rows::event_message).collect()
    }

    async fn event_counts(&self, app: &str) -> Result<EventCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM webhook_events WHERE app_id = $1 GROUP BY state",
        )
        .bind(app)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows::event_counts(&rows)
    }

    async fn prune_events(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM webhook_events WHERE id IN (
               SELECT id FROM webhook_events WHERE state = 'dead' AND updated_at < $1
               LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(err)?
        .rows_affected();
        Ok(deleted)
    }
}
