//! The outbox's workers' side: idempotency lookups, claims under a lease, outcomes, dead tokens,
//! route pauses and daemon updates.

use std::collections::{HashMap, HashSet};

use sqlx::{Postgres, Row, Transaction};

use super::{PgStore, err, hash32, kind_label, parse_kind, u32_of};
use crate::store::{Claimed, DaemonUpdate, OutcomeRecord, StoreError, WriteBatch};

/// The claim: $1 now, $2 the lease's end, $3 the most rows, ($4, $5, $6) the key in claim
/// order (run_at, notification_id, id) where its walk starts. Public only for the cluster
/// bench, whose pgbench script runs this very text (examples/cluster_bench/pgbench.rs).
///
/// One statement: the inner SELECT locks the due rows it takes and skips rows another node's
/// claim has locked (SKIP LOCKED); a row another claim leased and committed meanwhile no longer
/// passes `run_at <= now` when re-checked, so it is left out too. An expired lease (in flight,
/// `run_at` = lease end <= now) is due like any other row. It walks `deliveries_due` (the
/// partial index of the open rows of `outbox`, on the claim order) from the start key; the rows
/// come back in the claim's order (run_at, notification_id, id), as in SQLite.
///
/// The start key (`claim_start.rs`) is the lower of the store's cursor (the first row its latest
/// claims took) and `now - WINDOW_MS`; every `SWEEP_MS` a claim starts at the index's start
/// instead. So the walk skips the entries every claim leaves behind (which a transaction held
/// open elsewhere keeps from being removed, each one a heap visit), and a due row is taken by
/// the next claim if its `run_at` is within the window or after the cursor, else by the next
/// sweep: at most `SWEEP_MS` (of the callers' clock) plus the time to the next claim after it
/// becomes visible.
#[doc(hidden)]
pub const CLAIM_SQL: &str = "WITH due AS (
  SELECT d.id, d.run_at, d.notification_id FROM outbox d
  WHERE d.state IN ('pending', 'retrying', 'in_flight') AND d.run_at <= $1
    AND (d.run_at, d.notification_id, d.id) >= ($4::bigint, $5::bigint, $6::bigint)
    AND NOT EXISTS (SELECT 1 FROM paused_routes p
                    WHERE p.app_id = d.app_id AND p.kind = d.kind
                      AND p.credential = d.credential AND p.until > $1)
  ORDER BY d.run_at, d.notification_id, d.id
  LIMIT $3
  FOR UPDATE OF d SKIP LOCKED),
leased AS (
  UPDATE outbox d SET state = 'in_flight', attempts = d.attempts + 1,
         lease_until = $2, run_at = $2, updated_at = $1
  FROM due WHERE d.id = due.id
  RETURNING d.id, d.app_id, d.notification_id, d.kind, d.credential, d.token,
            d.attempts, d.retries, d.expires_at, d.last_reason, d.message_id,
            d.created_at, due.run_at AS due_at)
SELECT * FROM leased ORDER BY due_at, notification_id, id";

/// A batch's outcomes: $1 now, then one array per column ($2 ids, $3 states, $4 run_at, $5
/// outcomes, $6 reasons, $7 retried 0/1). Public only for the cluster bench, as [`CLAIM_SQL`].
///
/// A row is written only while in flight. A row that stays open (retrying, queued) is updated
/// in place; a finished one (delivered, failed, dead) is deleted from `outbox` and inserted,
/// with its outcome, into `outbox_finished`: one statement, so the move is atomic and every
/// reader sees the row in exactly one table.
#[doc(hidden)]
pub const OUTCOMES_SQL: &str = "WITH o AS (
  SELECT * FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                       $7::bigint[]) AS o(id, state, run_at, outcome, reason, retried)),
open AS (
  UPDATE outbox SET state = o.state, run_at = o.run_at, lease_until = NULL,
         last_outcome = o.outcome, last_reason = o.reason, updated_at = $1,
         retries = outbox.retries + o.retried
  FROM o WHERE outbox.id = o.id AND outbox.state = 'in_flight'
    AND o.state NOT IN ('delivered', 'failed', 'dead')),
moved AS (
  DELETE FROM outbox USING o
  WHERE outbox.id = o.id AND outbox.state = 'in_flight'
    AND o.state IN ('delivered', 'failed', 'dead')
  RETURNING outbox.id, outbox.message_id, outbox.app_id, outbox.user_id, outbox.device_id,
            outbox.notification_id, outbox.kind, outbox.credential, outbox.token, o.state,
            outbox.attempts, outbox.retries + o.retried AS retries, o.run_at,
            outbox.expires_at, o.outcome, o.reason, outbox.created_at)
INSERT INTO outbox_finished (id, message_id, app_id, user_id, device_id, notification_id, kind,
                             credential, token, state, attempts, retries, run_at, lease_until,
                             expires_at, last_outcome, last_reason, created_at, updated_at)
SELECT id, message_id, app_id, user_id, device_id, notification_id, kind, credential, token,
       state, attempts, retries, run_at, NULL, expires_at, outcome, reason, created_at, $1
FROM moved";

impl PgStore {
    pub(super) async fn find_idempotent_many_impl(
        &self,
        app: &str,
        keys: &[String],
    ) -> Result<HashMap<String, (String, [u8; 32])>, StoreError> {
        let rows = sqlx::query(
            "SELECT idempotency_key, id, request_hash FROM messages
             WHERE app_id = $1 AND idempotency_key = ANY($2)",
        )
        .bind(app)
        .bind(keys)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let hash = hash32(row.try_get(2).map_err(err)?, "messages")?;
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
        let walk = self.claim_start.begin(now);
        let (run_at, notification, id) = walk.from;
        let rows = sqlx::query(CLAIM_SQL)
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .bind(run_at)
            .bind(notification)
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let claimed = rows
            .iter()
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
                    retries: u32_of(row.try_get(7).map_err(err)?),
                    expires_at: row.try_get(8).map_err(err)?,
                    last_reason: row.try_get(9).map_err(err)?,
                    message_id: row.try_get(10).map_err(err)?,
                    accepted_at: row.try_get(11).map_err(err)?,
                })
            })
            .collect::<Result<Vec<Claimed>, StoreError>>()?;
        // The rows come in claim order: the first is where the next claims may start. A claim
        // that failed leaves the cursor where it was (its rows stay due).
        let first = match (rows.first(), claimed.first()) {
            (Some(row), Some(c)) => Some((row.try_get(12).map_err(err)?, c.notification_id, c.id)),
            _ => None,
        };
        self.claim_start.end(walk, first);
        Ok(claimed)
    }

    pub(super) async fn notifications_impl(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, body FROM notifications WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        rows.into_iter()
            .map(|row| Ok((row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?)))
            .collect()
    }

    pub(super) async fn record_impl(&self, batch: &WriteBatch, now: i64) -> Result<(), StoreError> {
        let mut tx = self.tx().await?;
        let webhooks = self.webhook_filter();
        super::webhooks::record_events(&mut tx, batch, now, &webhooks).await?;
        record_outcomes(&mut tx, &batch.outcomes, now).await?;
        for d in &batch.dead {
            // A registration updated after the vendor's `since` is a new life of the token.
            let removed = sqlx::query(
                "DELETE FROM devices WHERE app_id = $1 AND kind = $2 AND credential = $3
                   AND token = $4 AND ($5::bigint IS NULL OR updated_at <= $5)
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
                   reason, removed, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
                 VALUES ($1, $2, $3, $4, $5)
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
        record_daemon(&mut tx, &batch.daemon, now).await?;
        // The requests waiting on other nodes for these outcomes (`?wait=`) re-read at commit.
        if !batch.outcomes.is_empty() || !batch.daemon.is_empty() {
            let node = self.node.get().map_or("", String::as_str);
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(super::node::RECORDED_CHANNEL)
                .bind(node)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    pub(super) async fn release_impl(&self, ids: &[i64], now: i64) -> Result<u64, StoreError> {
        let mut tx = self.tx().await?;
        let released = sqlx::query(
            "UPDATE outbox SET state = 'retrying', run_at = $1, lease_until = NULL,
                    updated_at = $1
             WHERE state = 'in_flight' AND id = ANY($2)",
        )
        .bind(now)
        .bind(ids)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        // A node stopping hands its rows over: the other nodes' idle workers take them now,
        // not at their next poll.
        if released > 0 {
            super::accept::notify_outbox(&mut tx).await?;
        }
        tx.commit().await.map_err(err)?;
        Ok(released)
    }
}

/// The outcomes of a batch in one statement. A row is updated only while in flight, and only by
/// its first outcome in the batch (as row-by-row updates would). Rows go in id order: two
/// nodes' writers updating the same rows (a lease that ran out, re-claimed) lock them in one
/// order.
async fn record_outcomes(
    tx: &mut Transaction<'static, Postgres>,
    outcomes: &[OutcomeRecord],
    now: i64,
) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let first = OutcomeRecord::firsts_by_id(outcomes);
    let ids: Vec<i64> = first.iter().map(|o| o.delivery_id).collect();
    let states: Vec<&str> = first.iter().map(|o| o.state.as_str()).collect();
    let run_at: Vec<i64> = first.iter().map(|o| o.run_at).collect();
    let outcome: Vec<&str> = first.iter().map(|o| o.outcome.as_str()).collect();
    let reason: Vec<Option<&str>> = first.iter().map(|o| o.reason.as_deref()).collect();
    let retried: Vec<i64> = first.iter().map(|o| i64::from(o.retried)).collect();
    sqlx::query(OUTCOMES_SQL)
        .bind(now)
        .bind(&ids)
        .bind(&states)
        .bind(&run_at)
        .bind(&outcome)
        .bind(&reason)
        .bind(&retried)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

/// Applies daemon updates to their (message, device) rows (see the SQLite twin): a row already
/// finished otherwise keeps its state; of several updates of one row only the first applies.
async fn record_daemon(
    tx: &mut Transaction<'static, Postgres>,
    updates: &[DaemonUpdate],
    now: i64,
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(updates.len());
    let first: Vec<&DaemonUpdate> = updates
        .iter()
        .filter(|u| seen.insert((&u.app, &u.message_id, &u.user, &u.device_id)))
        .collect();
    let col = |f: fn(&DaemonUpdate) -> &str| first.iter().map(|u| f(u)).collect::<Vec<&str>>();
    let reason: Vec<Option<&str>> = first.iter().map(|u| u.reason.as_deref()).collect();
    // As the outcomes (see [`OUTCOMES_SQL`]): a row still queued is updated in place, a
    // finished one moves to `outbox_finished`.
    sqlx::query(
        "WITH u AS (
           SELECT * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                $7::text[], $8::text[])
             AS u(message_id, user_id, device_id, app_id, state, outcome, reason)),
         open AS (
           UPDATE outbox SET state = u.state, last_outcome = u.outcome, last_reason = u.reason,
                  lease_until = NULL, run_at = $1, updated_at = $1
           FROM u WHERE outbox.message_id = u.message_id AND outbox.user_id = u.user_id
             AND outbox.device_id = u.device_id AND outbox.app_id = u.app_id
             AND outbox.kind = 'daemon'
             AND outbox.state IN ('pending', 'in_flight', 'retrying', 'queued')
             AND u.state NOT IN ('delivered', 'failed', 'dead')),
         moved AS (
           DELETE FROM outbox USING u
           WHERE outbox.message_id = u.message_id AND outbox.user_id = u.user_id
             AND outbox.device_id = u.device_id AND outbox.app_id = u.app_id
             AND outbox.kind = 'daemon'
             AND outbox.state IN ('pending', 'in_flight', 'retrying', 'queued')
             AND u.state IN ('delivered', 'failed', 'dead')
           RETURNING outbox.id, outbox.message_id, outbox.app_id, outbox.user_id,
                     outbox.device_id, outbox.notification_id, outbox.kind, outbox.credential,
                     outbox.token, u.state, outbox.attempts, outbox.retries,
                     outbox.expires_at, u.outcome, u.reason, outbox.created_at)
         INSERT INTO outbox_finished (id, message_id, app_id, user_id, device_id,
                                      notification_id, kind, credential, token, state,
                                      attempts, retries, run_at, lease_until, expires_at,
                                      last_outcome, last_reason, created_at, updated_at)
         SELECT id, message_id, app_id, user_id, device_id, notification_id, kind, credential,
                token, state, attempts, retries, $1, NULL, expires_at, outcome, reason,
                created_at, $1
         FROM moved",
    )
    .bind(now)
    .bind(col(|u| &u.message_id))
    .bind(col(|u| &u.user))
    .bind(col(|u| &u.device_id))
    .bind(col(|u| &u.app))
    .bind(col(|u| u.state.as_str()))
    .bind(col(|u| &u.outcome))
    .bind(&reason)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}
