//! Dead letters: listed by app, reason and time; replayed with a fresh attempt budget.

use super::{PgStore, err};
use crate::store::rows;
use crate::store::{DeadLetter, DeadLetterFilter, Replayed, StoreError};

impl PgStore {
    pub(super) async fn dead_letters_impl(
        &self,
        app: &str,
        filter: &DeadLetterFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        // `updated_at` of a dead row is when it died: nothing changes a dead row afterwards.
        // Dead rows are finished: only `outbox_finished` has them (`outbox_finished_dead`).
        let rows = sqlx::query(
            "SELECT id, message_id, user_id, device_id, kind, credential, attempts,
                    last_outcome, last_reason, created_at, updated_at
             FROM outbox_finished
             WHERE app_id = $1 AND state = 'dead' AND id > $2
               AND ($3::text IS NULL OR last_outcome = $3 OR last_reason = $3)
               AND ($4::bigint IS NULL OR updated_at >= $4)
               AND ($5::bigint IS NULL OR updated_at < $5)
             ORDER BY id LIMIT $6",
        )
        .bind(app)
        .bind(after)
        .bind(filter.reason.as_deref())
        .bind(filter.since_ms)
        .bind(filter.until_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(rows::dead_letter).collect()
    }

    pub(super) async fn replay_impl(
        &self,
        app: &str,
        ids: &[i64],
        now: i64,
    ) -> Result<Replayed, StoreError> {
        let mut tx = self.tx().await?;
        // SQLite's one writer made the verdicts and the update one step; here two admins (or
        // nodes) replaying one id at once would both see it dead, and a node's prune could
        // delete a message whose row is being replayed. So their messages are locked first
        // (KEY SHARE: a prune, which locks the messages it deletes before their rows, skips
        // them or has finished), then the asked rows (in id order); the verdicts below, read
        // after the locks in a newer snapshot (READ COMMITTED), see what committed meanwhile.
        // The rows are locked where they are, `outbox` first: a row an outcome moves from
        // `outbox` to `outbox_finished` meanwhile is committed there by the time the second
        // lock looks, so it is locked too (rows move back only here, under these locks).
        sqlx::query(
            "SELECT m.id FROM messages m
             WHERE m.id IN (SELECT d.message_id FROM deliveries d
                            WHERE d.id = ANY($1) AND d.app_id = $2)
             ORDER BY m.id FOR KEY SHARE OF m",
        )
        .bind(ids)
        .bind(app)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        for lock in [
            "SELECT id FROM outbox WHERE id = ANY($1) AND app_id = $2 ORDER BY id FOR UPDATE",
            "SELECT id FROM outbox_finished WHERE id = ANY($1) AND app_id = $2 ORDER BY id
             FOR UPDATE",
        ] {
            sqlx::query(lock)
                .bind(ids)
                .bind(app)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        // Each asked id with what decides it: the row's state, and whether the device is still
        // registered with the row's token (same kind and credential) and logged in.
        let rows = sqlx::query(
            "SELECT j.id, d.state, dev.token IS NOT NULL,
                    dev.token = d.token AND dev.kind = d.kind AND dev.credential = d.credential,
                    COALESCE(l.state, 'logged_in')
             FROM UNNEST($1::bigint[]) WITH ORDINALITY AS j(id, n)
             LEFT JOIN deliveries d ON d.id = j.id AND d.app_id = $2
             LEFT JOIN devices dev ON dev.app_id = d.app_id AND dev.user_id = d.user_id
                                  AND dev.device_id = d.device_id
             LEFT JOIN device_logins l ON l.app_id = d.app_id AND l.user_id = d.user_id
                                      AND l.device_id = d.device_id
             ORDER BY j.n",
        )
        .bind(ids)
        .bind(app)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        let result = rows::replay_verdicts(&rows)?;
        // A fresh budget: no attempts or retries so far, due now, and as long to live as the
        // message had when it was accepted (its TTL, or the default), counted from now. The row
        // moves back into `outbox` under its id (OVERRIDING: the id column is an identity).
        sqlx::query(
            "WITH moved AS (
               DELETE FROM outbox_finished WHERE id = ANY($1) AND state = 'dead'
               RETURNING id, message_id, app_id, user_id, device_id, notification_id, kind,
                         credential, token, created_at)
             INSERT INTO outbox (id, message_id, app_id, user_id, device_id, notification_id,
                                 kind, credential, token, state, attempts, retries, run_at,
                                 lease_until, expires_at, last_outcome, last_reason, created_at,
                                 updated_at)
             OVERRIDING SYSTEM VALUE
             SELECT d.id, d.message_id, d.app_id, d.user_id, d.device_id, d.notification_id,
                    d.kind, d.credential, d.token, 'pending', 0, 0, $2, NULL,
                    $2 + (m.expires_at - m.created_at), NULL, NULL, d.created_at, $2
             FROM moved d LEFT JOIN messages m ON m.id = d.message_id",
        )
        .bind(&result.replayed)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(result)
    }
}
