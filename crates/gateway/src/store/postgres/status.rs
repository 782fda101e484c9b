//! A message's status and the dead-token feed, and their pruning after the retention.

use sqlx::Row;

use super::{PgStore, err};
use crate::store::rows;
use crate::store::{
    DeadTokenEntry, DeliveryCounts, DeliveryState, MessageStatus, MessageSummary, StoreError,
};

impl PgStore {
    pub(super) async fn prune_impl(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let mut tx = self.tx().await?;
        // The message's recipients, notifications and open rows (`outbox`) go with it (ON
        // DELETE CASCADE). Two nodes pruning at once: SKIP LOCKED leaves each the messages the
        // other is not deleting. Open rows are only in `outbox` (`deliveries_due`).
        let messages: Vec<String> = sqlx::query_scalar(
            "DELETE FROM messages WHERE id IN (
               SELECT m.id FROM messages m WHERE m.created_at < $1
                 AND NOT EXISTS (SELECT 1 FROM outbox d WHERE d.message_id = m.id
                                   AND d.state IN ('pending', 'retrying', 'in_flight'))
               LIMIT $2 FOR UPDATE OF m SKIP LOCKED)
             RETURNING id",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        // Their finished rows (no foreign key there: see migration 0003), in a statement of its
        // own, so in a newer snapshot: a queued row a daemon ack moved out of `outbox` while
        // the cascade above waited for it has committed by now and is deleted here; one the
        // cascade deleted first is gone before the ack's move finds it.
        if !messages.is_empty() {
            sqlx::query("DELETE FROM outbox_finished WHERE message_id = ANY($1)")
                .bind(&messages)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        sqlx::query("DELETE FROM dead_tokens WHERE at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(u64::try_from(messages.len()).unwrap_or(u64::MAX))
    }

    pub(super) async fn summary_impl(
        &self,
        app: &str,
        message: &str,
    ) -> Result<Option<MessageSummary>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT m.created_at,
               (SELECT count(*) FROM recipients r WHERE r.message_id = m.id),
               (SELECT count(*) FROM recipients r
                 WHERE r.message_id = m.id AND r.suppressed IS NOT NULL),
               (SELECT count(*) FROM suppressed_devices s WHERE s.message_id = m.id),
               (SELECT array_agg(state ORDER BY state) FROM
                  (SELECT state, count(*) AS n FROM deliveries d WHERE d.message_id = m.id
                   GROUP BY state) s),
               (SELECT array_agg(n ORDER BY state) FROM
                  (SELECT state, count(*) AS n FROM deliveries d WHERE d.message_id = m.id
                   GROUP BY state) s),
               (SELECT max(updated_at) FROM deliveries d WHERE d.message_id = m.id)
             FROM messages m WHERE m.id = $1 AND m.app_id = $2",
        )
        .bind(message)
        .bind(app)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?
        else {
            return Ok(None);
        };
        let count = |i: usize| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<i64, _>(i).map_err(err)?).unwrap_or(0))
        };
        let counts: Option<Vec<i64>> = row.try_get(5).map_err(err)?;
        let states: Option<Vec<String>> = row.try_get(4).map_err(err)?;
        let mut deliveries = DeliveryCounts::default();
        for (label, n) in states
            .unwrap_or_default()
            .into_iter()
            .zip(counts.unwrap_or_default())
        {
            let state = DeliveryState::parse(&label)
                .ok_or_else(|| StoreError::new(format!("deliveries: unknown state {label:?}")))?;
            deliveries.add(state, u64::try_from(n).unwrap_or(0));
        }
        Ok(Some(MessageSummary {
            message_id: message.to_owned(),
            created_at_ms: row.try_get(0).map_err(err)?,
            recipients: count(1)?,
            suppressed_recipients: count(2)?,
            suppressed_devices: count(3)?,
            settled: deliveries.is_settled(),
            deliveries,
            last_updated_at_ms: row.try_get(6).map_err(err)?,
        }))
    }

    pub(super) async fn status_impl(
        &self,
        app: &str,
        message: &str,
        now: i64,
    ) -> Result<Option<MessageStatus>, StoreError> {
        // Three reads in one snapshot, so recipients, deliveries and suppressed devices agree.
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let Some(created_at) =
            sqlx::query("SELECT created_at FROM messages WHERE id = $1 AND app_id = $2")
                .bind(message)
                .bind(app)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?
        else {
            return Ok(None);
        };
        let created_at_ms: i64 = created_at.try_get(0).map_err(err)?;
        let recipients = sqlx::query(
            "SELECT user_id, suppressed FROM recipients WHERE message_id = $1 ORDER BY position",
        )
        .bind(message)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        let deliveries = sqlx::query(
            "SELECT d.user_id, d.device_id, d.kind, d.credential, d.state, d.attempts,
                    d.last_outcome, d.last_reason, d.run_at, d.created_at, d.updated_at,
                    p.until, p.reason
             FROM deliveries d LEFT JOIN paused_routes p
               ON p.app_id = d.app_id AND p.kind = d.kind AND p.credential = d.credential
                  AND p.until > $2
             WHERE d.message_id = $1 ORDER BY d.id",
        )
        .bind(message)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        let suppressed = sqlx::query(
            "SELECT user_id, device_id, reason FROM suppressed_devices
             WHERE message_id = $1 ORDER BY user_id, device_id",
        )
        .bind(message)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        rows::message_status(
            message,
            created_at_ms,
            &recipients,
            &deliveries,
            &suppressed,
        )
        .map(Some)
    }

    pub(super) async fn dead_tokens_impl(
        &self,
        app: &str,
        cursor: i64,
        limit: u32,
    ) -> Result<Vec<DeadTokenEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT cursor, user_id, device_id, kind, credential, token, reason, removed, at
             FROM dead_tokens WHERE app_id = $1 AND cursor > $2 ORDER BY cursor LIMIT $3",
        )
        .bind(app)
        .bind(cursor)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(rows::dead_token).collect()
    }
}
