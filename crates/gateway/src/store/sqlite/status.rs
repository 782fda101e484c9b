//! A message's status and the dead-token feed, and their pruning after the retention.

use rusqlite::{OptionalExtension, params};
use sqlx::Row;

use super::raw::raw_err;
use super::{SqliteStore, err};
use crate::store::rows;
use crate::store::{
    DeadTokenEntry, DeliveryCounts, DeliveryState, MessageStatus, MessageSummary, StoreError,
};

impl SqliteStore {
    pub(super) async fn prune_impl(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        // The message's recipients, notifications and deliveries go with it (ON DELETE CASCADE).
        let messages = sqlx::query(
            "DELETE FROM messages WHERE id IN (
               SELECT m.id FROM messages m WHERE m.created_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id
                                   AND (d.state = 'pending' OR d.state = 'retrying'
                                        OR d.state = 'in_flight'))
               LIMIT ?2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        sqlx::query("DELETE FROM dead_tokens WHERE at < ?")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(messages)
    }

    pub(super) async fn summary_impl(
        &self,
        app: &str,
        message: &str,
    ) -> Result<Option<MessageSummary>, StoreError> {
        // One statement, one row, one pass over the message's deliveries (the per-state sums
        // and the last update are read together; a `GROUP BY state` would sort them first).
        const STATES: [DeliveryState; 7] = [
            DeliveryState::Pending,
            DeliveryState::InFlight,
            DeliveryState::Delivered,
            DeliveryState::Queued,
            DeliveryState::Retrying,
            DeliveryState::Failed,
            DeliveryState::Dead,
        ];
        let (app, message) = (app.to_owned(), message.to_owned());
        self.hot_reader
            .run(move |conn| {
                let row = conn
                    .prepare_cached(
                        "SELECT m.created_at,
                           (SELECT count(*) FROM recipients r WHERE r.message_id = m.id),
                           (SELECT count(*) FROM recipients r
                             WHERE r.message_id = m.id AND r.suppressed IS NOT NULL),
                           (SELECT count(*) FROM suppressed_devices s WHERE s.message_id = m.id),
                           d.pending, d.in_flight, d.delivered, d.queued, d.retrying, d.failed,
                           d.dead, d.last
                         FROM messages m,
                           (SELECT coalesce(sum(state = 'pending'), 0) AS pending,
                                   coalesce(sum(state = 'in_flight'), 0) AS in_flight,
                                   coalesce(sum(state = 'delivered'), 0) AS delivered,
                                   coalesce(sum(state = 'queued'), 0) AS queued,
                                   coalesce(sum(state = 'retrying'), 0) AS retrying,
                                   coalesce(sum(state = 'failed'), 0) AS failed,
                                   coalesce(sum(state = 'dead'), 0) AS dead,
                                   max(updated_at) AS last
                            FROM deliveries WHERE message_id = ?1) d
                         WHERE m.id = ?1 AND m.app_id = ?2",
                    )
                    .map_err(raw_err)?
                    .query_row(params![message, app], |row| {
                        let mut counts = [0i64; 7];
                        for (i, count) in counts.iter_mut().enumerate() {
                            *count = row.get(4 + i)?;
                        }
                        Ok((
                            row.get::<_, i64>(0)?,
                            [row.get::<_, i64>(1)?, row.get(2)?, row.get(3)?],
                            counts,
                            row.get::<_, Option<i64>>(11)?,
                        ))
                    })
                    .optional()
                    .map_err(raw_err)?;
                let Some((created_at_ms, [recipients, suppressed, devices], counts, last)) = row
                else {
                    return Ok(None);
                };
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                let mut deliveries = DeliveryCounts::default();
                for (state, n) in STATES.into_iter().zip(counts) {
                    deliveries.add(state, count(n));
                }
                Ok(Some(MessageSummary {
                    message_id: message,
                    created_at_ms,
                    recipients: count(recipients),
                    suppressed_recipients: count(suppressed),
                    suppressed_devices: count(devices),
                    settled: deliveries.is_settled(),
                    deliveries,
                    last_updated_at_ms: last,
                }))
            })
            .await
    }

    pub(super) async fn status_impl(
        &self,
        app: &str,
        message: &str,
        now: i64,
    ) -> Result<Option<MessageStatus>, StoreError> {
        let Some(created_at) =
            sqlx::query("SELECT created_at FROM messages WHERE id = ? AND app_id = ?")
                .bind(message)
                .bind(app)
                .fetch_optional(&self.reader)
                .await
                .map_err(err)?
        else {
            return Ok(None);
        };
        let created_at_ms: i64 = created_at.try_get(0).map_err(err)?;
        let recipients = sqlx::query(
            "SELECT user_id, suppressed FROM recipients WHERE message_id = ? ORDER BY position",
        )
        .bind(message)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        let deliveries = sqlx::query(
            "SELECT d.user_id, d.device_id, d.kind, d.credential, d.state, d.attempts,
                    d.last_outcome, d.last_reason, d.run_at, d.created_at, d.updated_at,
                    p.until, p.reason
             FROM deliveries d LEFT JOIN paused_routes p
               ON p.app_id = d.app_id AND p.kind = d.kind AND p.credential = d.credential
                  AND p.until > ?2
             WHERE d.message_id = ?1 ORDER BY d.user_id, d.device_id",
        )
        .bind(message)
        .bind(now)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        let suppressed = sqlx::query(
            "SELECT user_id, device_id, reason FROM suppressed_devices
             WHERE message_id = ? ORDER BY user_id, device_id",
        )
        .bind(message)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
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
             FROM dead_tokens WHERE app_id = ? AND cursor > ? ORDER BY cursor LIMIT ?",
        )
        .bind(app)
        .bind(cursor)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        rows.iter().map(rows::dead_token).collect()
    }
}
