//! Writes of the outbox: accepting a message with its delivery rows, claims under a lease,
//! outcomes, dead tokens and route pauses.

use sqlx::{Row, Sqlite, Transaction};

use super::{SqliteStore, err, kind_label, parse_kind};
use crate::store::{Accepted, Claimed, NewMessage, StoreError, WriteBatch};

fn u32_of(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

impl SqliteStore {
    pub(super) async fn find_idempotent_impl(
        &self,
        app: &str,
        key: &str,
    ) -> Result<Option<(String, [u8; 32])>, StoreError> {
        let row = sqlx::query(
            "SELECT id, request_hash FROM messages WHERE app_id = ? AND idempotency_key = ?",
        )
        .bind(app)
        .bind(key)
        .fetch_optional(&self.reader)
        .await
        .map_err(err)?;
        row.map(|row| {
            let hash: Vec<u8> = row.try_get(1).map_err(err)?;
            let hash = hash
                .try_into()
                .map_err(|_| StoreError::new("messages: a request hash is not 32 bytes"))?;
            Ok((row.try_get(0).map_err(err)?, hash))
        })
        .transpose()
    }

    pub(super) async fn accept_impl(
        &self,
        messages: &[NewMessage],
    ) -> Result<Vec<Accepted>, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut accepted = Vec::with_capacity(messages.len());
        for m in messages {
            accepted.push(insert_message(&mut tx, m).await?);
        }
        tx.commit().await.map_err(err)?;
        Ok(accepted)
    }

    pub(super) async fn claim_impl(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError> {
        // One statement: rows are leased atomically, so two workers never claim the same row
        // while its lease holds. (Postgres: `FOR UPDATE SKIP LOCKED` in the subquery.)
        let rows = sqlx::query(
            "UPDATE deliveries SET state = 'in_flight', attempts = attempts + 1,
                    lease_until = ?2, run_at = ?2, updated_at = ?1
             WHERE id IN (
               SELECT d.id FROM deliveries d
               WHERE d.state IN ('pending', 'retrying', 'in_flight') AND d.run_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM paused_routes p
                                 WHERE p.app_id = d.app_id AND p.kind = d.kind
                                   AND p.credential = d.credential AND p.until > ?1)
               ORDER BY d.run_at LIMIT ?3)
             RETURNING id, app_id, notification_id, kind, credential, token, attempts,
                       expires_at, last_reason, retries",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|row| {
                let kind: String = row.try_get(3).map_err(err)?;
                Ok(Claimed {
                    id: row.try_get(0).map_err(err)?,
                    app: row.try_get(1).map_err(err)?,
                    notification_id: row.try_get(2).map_err(err)?,
                    kind: parse_kind(&kind)?,
                    credential: row.try_get(4).map_err(err)?,
                    token: row.try_get(5).map_err(err)?,
                    attempts: u32_of(row.try_get(6).map_err(err)?),
                    retries: u32_of(row.try_get(9).map_err(err)?),
                    expires_at: row.try_get(7).map_err(err)?,
                    last_reason: row.try_get(8).map_err(err)?,
                })
            })
            .collect()
    }

    pub(super) async fn notifications_impl(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let list = serde_json::to_string(ids).map_err(StoreError::new)?;
        let rows = sqlx::query(
            "SELECT id, body FROM notifications WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(list)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|row| Ok((row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?)))
            .collect()
    }

    pub(super) async fn record_impl(&self, batch: &WriteBatch, now: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        for o in &batch.outcomes {
            sqlx::query(
                "UPDATE deliveries SET state = ?, run_at = ?, lease_until = NULL,
                        last_outcome = ?, last_reason = ?, updated_at = ?, retries = retries + ?
                 WHERE id = ? AND state = 'in_flight'",
            )
            .bind(o.state.as_str())
            .bind(o.run_at)
            .bind(&o.outcome)
            .bind(&o.reason)
            .bind(now)
            .bind(i64::from(o.retried))
            .bind(o.delivery_id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        for d in &batch.dead {
            // A registration updated after the vendor's `since` is a new life of the token.
            let removed = sqlx::query(
                "DELETE FROM devices WHERE app_id = ?1 AND kind = ?2 AND credential = ?3
                   AND token = ?4 AND (?5 IS NULL OR updated_at <= ?5)
                 RETURNING user_id, device_id",
            )
            .bind(&d.app)
            .bind(kind_label(d.kind))
            .bind(&d.credential)
            .bind(&d.token)
            .bind(d.since)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            let (user, device): (Option<String>, Option<String>) = match &removed {
                Some(row) => (row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?),
                None => (None, None),
            };
            sqlx::query(
                "INSERT INTO dead_tokens (app_id, user_id, device_id, kind, credential, token,
                   reason, removed, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&d.app)
            .bind(user)
            .bind(device)
            .bind(kind_label(d.kind))
            .bind(&d.credential)
            .bind(&d.token)
            .bind(&d.reason)
            .bind(removed.is_some())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        for p in &batch.pauses {
            sqlx::query(
                "INSERT INTO paused_routes (app_id, kind, credential, until, reason)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (app_id, kind, credential) DO UPDATE SET
                   until = excluded.until, reason = excluded.reason",
            )
            .bind(&p.app)
            .bind(kind_label(p.kind))
            .bind(&p.credential)
            .bind(p.until)
            .bind(&p.reason)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        super::daemon::record_daemon(&mut tx, &batch.daemon, now).await?;
        tx.commit().await.map_err(err)
    }

    pub(super) async fn release_impl(&self, ids: &[i64], now: i64) -> Result<u64, StoreError> {
        let list = serde_json::to_string(ids).map_err(StoreError::new)?;
        let mut tx = self.write_tx().await?;
        let released = sqlx::query(
            "UPDATE deliveries SET state = 'retrying', run_at = ?, lease_until = NULL,
                    updated_at = ?
             WHERE state = 'in_flight' AND id IN (SELECT value FROM json_each(?))",
        )
        .bind(now)
        .bind(now)
        .bind(list)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        tx.commit().await.map_err(err)?;
        Ok(released)
    }
}

/// One message with its rows, inside the caller's transaction; when its idempotency key is
/// taken (by an earlier transaction or an earlier message of this batch), nothing.
async fn insert_message(
    tx: &mut Transaction<'static, Sqlite>,
    m: &NewMessage,
) -> Result<Accepted, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO messages
               (id, app_id, idempotency_key, request_hash, body, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (app_id, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(&m.id)
    .bind(&m.app)
    .bind(&m.idempotency_key)
    .bind(&m.request_hash[..])
    .bind(&m.body)
    .bind(m.created_at)
    .bind(m.expires_at)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    if inserted.is_none() {
        // The key was taken between the caller's lookup and this transaction.
        let id: String =
            sqlx::query("SELECT id FROM messages WHERE app_id = ? AND idempotency_key = ?")
                .bind(&m.app)
                .bind(&m.idempotency_key)
                .fetch_one(&mut **tx)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(err)?;
        return Ok(Accepted {
            message_id: id,
            created: false,
        });
    }
    let mut notification_ids = Vec::with_capacity(m.notifications.len());
    for body in &m.notifications {
        let id: i64 =
            sqlx::query("INSERT INTO notifications (message_id, body) VALUES (?, ?) RETURNING id")
                .bind(&m.id)
                .bind(body)
                .fetch_one(&mut **tx)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(err)?;
        notification_ids.push(id);
    }
    for (position, r) in m.recipients.iter().enumerate() {
        sqlx::query(
            "INSERT INTO recipients (message_id, position, user_id, unread, suppressed)
                 VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&m.id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&r.user)
        .bind(i64::from(r.unread))
        .bind(&r.suppressed)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
        for (device, reason) in &r.suppressed_devices {
            sqlx::query(
                "INSERT INTO suppressed_devices (message_id, user_id, device_id, reason)
                     VALUES (?, ?, ?, ?)",
            )
            .bind(&m.id)
            .bind(&r.user)
            .bind(device)
            .bind(reason)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
        }
        for d in &r.deliveries {
            let notification = notification_ids
                .get(d.notification)
                .copied()
                .ok_or_else(|| StoreError::new("delivery refers to no notification"))?;
            sqlx::query(
                "INSERT INTO deliveries (message_id, app_id, user_id, device_id,
                       notification_id, kind, credential, token, state, attempts, run_at,
                       expires_at, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
            )
            .bind(&m.id)
            .bind(&m.app)
            .bind(&r.user)
            .bind(&d.device_id)
            .bind(notification)
            .bind(kind_label(d.kind))
            .bind(&d.credential)
            .bind(&d.token)
            .bind(m.created_at)
            .bind(m.expires_at)
            .bind(m.created_at)
            .bind(m.created_at)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
        }
    }
    Ok(Accepted {
        message_id: m.id.clone(),
        created: true,
    })
}
