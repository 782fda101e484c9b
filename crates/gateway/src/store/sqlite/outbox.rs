//! Writes of the outbox: accepting a message with its delivery rows, claims under a lease,
//! outcomes, dead tokens and route pauses.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use sqlx::{Row, Sqlite, Transaction};

use super::{SqliteStore, err, json_rows, kind_label, parse_kind};
use crate::store::{Claimed, OutcomeRecord, StoreError, WriteBatch};

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

    pub(super) async fn find_idempotent_many_impl(
        &self,
        app: &str,
        keys: &[String],
    ) -> Result<HashMap<String, (String, [u8; 32])>, StoreError> {
        let list = serde_json::to_string(keys).map_err(StoreError::new)?;
        let rows = sqlx::query(
            "SELECT idempotency_key, id, request_hash FROM messages
             WHERE app_id = ? AND idempotency_key IN (SELECT value FROM json_each(?))",
        )
        .bind(app)
        .bind(list)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let hash: Vec<u8> = row.try_get(2).map_err(err)?;
            let hash = hash
                .try_into()
                .map_err(|_| StoreError::new("messages: a request hash is not 32 bytes"))?;
            found.insert(
                row.try_get(0).map_err(err)?,
                (row.try_get(1).map_err(err)?, hash),
            );
        }
        Ok(found)
    }

    pub(super) async fn claim_impl(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError> {
        // Read and leased in one write transaction (the writer connection is the only one
        // that writes, so nothing changes between the two statements). The rows come back as
        // one JSON value, not row by row. (Postgres: `UPDATE ... WHERE id IN (SELECT ... FOR
        // UPDATE SKIP LOCKED) RETURNING`.)
        let mut tx = self.relaxed_tx().await?;
        let row = sqlx::query(
            "SELECT json_group_array(json_array(id, app_id, notification_id, kind, credential,
                      token, attempts + 1, retries, expires_at, last_reason, message_id, created_at))
             FROM (
               SELECT d.* FROM deliveries d
               WHERE d.state IN ('pending', 'retrying', 'in_flight') AND d.run_at <= ?1
                 AND NOT EXISTS (SELECT 1 FROM paused_routes p
                                 WHERE p.app_id = d.app_id AND p.kind = d.kind
                                   AND p.credential = d.credential AND p.until > ?1)
               ORDER BY d.run_at, d.notification_id LIMIT ?2)",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        type Due = (
            i64,
            String,
            i64,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            Option<String>,
            String,
            i64,
        );
        let due: Vec<Due> = json_rows(&row)?;
        if due.is_empty() {
            tx.rollback().await.map_err(err)?;
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(&due.iter().map(|d| d.0).collect::<Vec<i64>>())
            .map_err(StoreError::new)?;
        sqlx::query(
            "UPDATE deliveries SET state = 'in_flight', attempts = attempts + 1,
                    lease_until = ?2, run_at = ?2, updated_at = ?1
             WHERE id IN (SELECT value FROM json_each(?3))",
        )
        .bind(now)
        .bind(lease_until)
        .bind(ids)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        due.into_iter()
            .map(
                |(
                    id,
                    app,
                    notification_id,
                    kind,
                    credential,
                    token,
                    attempts,
                    retries,
                    expires_at,
                    last_reason,
                    message_id,
                    accepted_at,
                )| {
                    Ok(Claimed {
                        id,
                        app,
                        notification_id,
                        kind: parse_kind(&kind)?,
                        credential,
                        token,
                        attempts: u32_of(attempts),
                        retries: u32_of(retries),
                        expires_at,
                        last_reason,
                        message_id,
                        accepted_at,
                    })
                },
            )
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
        // Outcomes lost in a power cut make their rows due again (see `relaxed_tx`); dead
        // tokens are reported again by the vendor on the re-send.
        let mut tx = self.relaxed_tx().await?;
        let webhooks = self.webhook_filter();
        super::webhooks::record_events(&mut tx, batch, now, &webhooks).await?;
        record_outcomes(&mut tx, &batch.outcomes, now).await?;
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
        super::webhooks::daemon_events(&mut tx, &batch.daemon, now, &webhooks).await?;
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

/// The outcomes of a batch in one statement (see `accept.rs` for why one). A row is updated only
/// while in flight, and only by its first outcome in the batch (as row-by-row updates would).
async fn record_outcomes(
    tx: &mut Transaction<'static, Sqlite>,
    outcomes: &[OutcomeRecord],
    now: i64,
) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(outcomes.len());
    let rows: Vec<Value> = outcomes
        .iter()
        .filter(|o| seen.insert(o.delivery_id))
        .map(|o| {
            json!([
                o.delivery_id,
                o.state.as_str(),
                o.run_at,
                o.outcome,
                o.reason,
                i64::from(o.retried)
            ])
        })
        .collect();
    sqlx::query(
        "UPDATE deliveries SET state = o.value ->> 1, run_at = o.value ->> 2, lease_until = NULL,
                last_outcome = o.value ->> 3, last_reason = o.value ->> 4, updated_at = ?1,
                retries = retries + (o.value ->> 5)
         FROM json_each(?2) AS o
         WHERE deliveries.id = o.value ->> 0 AND deliveries.state = 'in_flight'",
    )
    .bind(now)
    .bind(Value::Array(rows).to_string())
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}
