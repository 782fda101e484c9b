//! Writes of the outbox: accepting a message with its delivery rows, claims under a lease,
//! outcomes, dead tokens and route pauses.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::raw::raw_err;
use super::{SqliteStore, kind_label, parse_kind};
use crate::store::{Claimed, OutcomeRecord, StoreError, WebhookFilter, WriteBatch};

fn u32_of(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

impl SqliteStore {
    pub(super) async fn find_idempotent_impl(
        &self,
        app: &str,
        key: &str,
    ) -> Result<Option<(String, [u8; 32])>, StoreError> {
        let mut found = self
            .find_idempotent_many_impl(app, &[key.to_owned()])
            .await?;
        Ok(found.remove(key))
    }

    pub(super) async fn find_idempotent_many_impl(
        &self,
        app: &str,
        keys: &[String],
    ) -> Result<HashMap<String, (String, [u8; 32])>, StoreError> {
        let list = serde_json::to_string(keys).map_err(StoreError::new)?;
        let app = app.to_owned();
        self.hot_reader
            .run(move |conn| {
                let mut read = conn
                    .prepare_cached(
                        "SELECT idempotency_key, id, request_hash FROM messages
                         WHERE app_id = ?1
                           AND idempotency_key IN (SELECT value FROM json_each(?2))",
                    )
                    .map_err(raw_err)?;
                let mut rows = read.query(params![app, list]).map_err(raw_err)?;
                let mut found = HashMap::new();
                while let Some(row) = rows.next().map_err(raw_err)? {
                    let hash: Vec<u8> = row.get(2).map_err(raw_err)?;
                    let hash = hash
                        .try_into()
                        .map_err(|_| StoreError::new("messages: a request hash is not 32 bytes"))?;
                    found.insert(
                        row.get(0).map_err(raw_err)?,
                        (row.get(1).map_err(raw_err)?, hash),
                    );
                }
                Ok(found)
            })
            .await
    }

    pub(super) async fn claim_impl(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError> {
        // Read and leased in one write transaction (the writer connection is the only one
        // that writes, so nothing changes between the two statements). (Postgres: `UPDATE ...
        // WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`.)
        self.hot
            .transaction(false, move |conn| claim(conn, now, lease_until, limit))
            .await
    }

    pub(super) async fn notifications_impl(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let ids = ids.to_vec();
        self.hot_reader
            .run(move |conn| {
                let mut read = conn
                    .prepare_cached("SELECT id, body FROM notifications WHERE id = ?1")
                    .map_err(raw_err)?;
                let mut found = Vec::with_capacity(ids.len());
                for id in ids {
                    let body: Option<String> = read
                        .query_row(params![id], |row| row.get(1))
                        .optional()
                        .map_err(raw_err)?;
                    if let Some(body) = body {
                        found.push((id, body));
                    }
                }
                Ok(found)
            })
            .await
    }

    pub(super) async fn record_impl(&self, batch: &WriteBatch, now: i64) -> Result<(), StoreError> {
        // Outcomes lost in a power cut make their rows due again (see `relaxed_tx`); dead
        // tokens are reported again by the vendor on the re-send.
        let webhooks = self.webhook_filter();
        let batch = batch.clone();
        self.hot
            .transaction(false, move |conn| record(conn, &batch, now, &webhooks))
            .await
    }

    pub(super) async fn release_impl(&self, ids: &[i64], now: i64) -> Result<u64, StoreError> {
        let ids = ids.to_vec();
        self.hot
            .transaction(true, move |conn| {
                let mut release = conn
                    .prepare_cached(
                        "UPDATE deliveries SET state = 'retrying', run_at = ?1,
                                lease_until = NULL, updated_at = ?1
                         WHERE state = 'in_flight' AND id = ?2",
                    )
                    .map_err(raw_err)?;
                let mut released = 0;
                for id in &ids {
                    released += release.execute(params![now, id]).map_err(raw_err)? as u64;
                }
                Ok(released)
            })
            .await
    }
}

/// The due rows a claim takes, in the order of `deliveries_due`, which it reads.
pub(super) const CLAIM_DUE: &str =
    "SELECT id, app_id, notification_id, kind, credential, token, attempts + 1, retries,
                    expires_at, last_reason, message_id, created_at
             FROM deliveries d
             WHERE (d.state = 'pending' OR d.state = 'retrying' OR d.state = 'in_flight')
               AND d.run_at <= ?1
               AND NOT EXISTS (SELECT 1 FROM paused_routes p
                               WHERE p.app_id = d.app_id AND p.kind = d.kind
                                 AND p.credential = d.credential AND p.until > ?1)
             ORDER BY d.run_at, d.notification_id LIMIT ?2";

/// Due rows, oldest first and a rendered notification's rows together, leased until
/// `lease_until`.
fn claim(
    conn: &Connection,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<Claimed>, StoreError> {
    let mut due = conn.prepare_cached(CLAIM_DUE).map_err(raw_err)?;
    let rows = due
        .query_map(params![now, limit], |row| {
            Ok((
                Claimed {
                    id: row.get(0)?,
                    app: row.get(1)?,
                    notification_id: row.get(2)?,
                    kind: pushway_core::TokenKind::Daemon,
                    credential: row.get(4)?,
                    token: row.get(5)?,
                    attempts: u32_of(row.get(6)?),
                    retries: u32_of(row.get(7)?),
                    expires_at: row.get(8)?,
                    last_reason: row.get(9)?,
                    message_id: row.get(10)?,
                    accepted_at: row.get(11)?,
                },
                row.get::<_, String>(3)?,
            ))
        })
        .map_err(raw_err)?;
    let mut claimed = Vec::new();
    for row in rows {
        let (mut row, kind) = row.map_err(raw_err)?;
        row.kind = parse_kind(&kind)?;
        claimed.push(row);
    }
    let mut lease = conn
        .prepare_cached(
            "UPDATE deliveries SET state = 'in_flight', attempts = attempts + 1,
                    lease_until = ?2, run_at = ?2, updated_at = ?1
             WHERE id = ?3",
        )
        .map_err(raw_err)?;
    for row in &claimed {
        lease
            .execute(params![now, lease_until, row.id])
            .map_err(raw_err)?;
    }
    Ok(claimed)
}

/// A writer batch: events first (they read the rows as they were), then outcomes, dead
/// tokens, route pauses and daemon updates.
fn record(
    conn: &Connection,
    batch: &WriteBatch,
    now: i64,
    webhooks: &WebhookFilter,
) -> Result<(), StoreError> {
    super::webhooks::record_events(conn, batch, now, webhooks)?;
    record_outcomes(conn, &batch.outcomes, now)?;
    for d in &batch.dead {
        // A registration updated after the vendor's `since` is a new life of the token.
        let removed: Option<(String, String)> = conn
            .query_row(
                "DELETE FROM devices WHERE app_id = ?1 AND kind = ?2 AND credential = ?3
                   AND token = ?4 AND (?5 IS NULL OR updated_at <= ?5)
                 RETURNING user_id, device_id",
                params![d.app, kind_label(d.kind), d.credential, d.token, d.since],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(raw_err)?;
        let (user, device) = match &removed {
            Some((user, device)) => (Some(user), Some(device)),
            None => (None, None),
        };
        conn.execute(
            "INSERT INTO dead_tokens (app_id, user_id, device_id, kind, credential, token,
               reason, removed, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                d.app,
                user,
                device,
                kind_label(d.kind),
                d.credential,
                d.token,
                d.reason,
                removed.is_some(),
                now
            ],
        )
        .map_err(raw_err)?;
    }
    for p in &batch.pauses {
        conn.execute(
            "INSERT INTO paused_routes (app_id, kind, credential, until, reason)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (app_id, kind, credential) DO UPDATE SET
               until = excluded.until, reason = excluded.reason",
            params![p.app, kind_label(p.kind), p.credential, p.until, p.reason],
        )
        .map_err(raw_err)?;
    }
    super::webhooks::daemon_events(conn, &batch.daemon, now, webhooks)?;
    super::daemon::record_daemon(conn, &batch.daemon, now)
}

/// The outcomes of a batch. A row is updated only while in flight, and only by its first
/// outcome in the batch.
///
/// Rows of consecutive ids with the same outcome are updated by one statement over their id
/// range: a dispatch's rows are a rendered notification's, which the accept wrote together
/// (`accept.rs`), so a dispatch whose sends all succeeded is one range. That costs SQLite a step
/// to the next row instead of a search from the root and a statement per row (half of the
/// records' time in a replica of a 25,000-row message). A range holds only the batch's ids: it
/// ends at the first id missing from the batch.
fn record_outcomes(
    conn: &Connection,
    outcomes: &[OutcomeRecord],
    now: i64,
) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut update = conn
        .prepare_cached(
            "UPDATE deliveries SET state = ?2, run_at = ?3, lease_until = NULL,
                    last_outcome = ?4, last_reason = ?5, updated_at = ?1,
                    retries = retries + ?6
             WHERE id BETWEEN ?7 AND ?8 AND state = 'in_flight'",
        )
        .map_err(raw_err)?;
    let rows = OutcomeRecord::firsts_by_id(outcomes);
    for run in rows
        .chunk_by(|a, b| a.delivery_id.checked_add(1) == Some(b.delivery_id) && a.same_values(b))
    {
        let (first, last) = (run[0], run[run.len() - 1]);
        update
            .execute(params![
                now,
                first.state.as_str(),
                first.run_at,
                first.outcome,
                first.reason,
                i64::from(first.retried),
                first.delivery_id,
                last.delivery_id
            ])
            .map_err(raw_err)?;
    }
    Ok(())
}
