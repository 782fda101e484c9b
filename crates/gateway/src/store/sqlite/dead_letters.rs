//! Dead letters: listed by app, reason and time; replayed with a fresh attempt budget.

use super::{SqliteStore, err};
use crate::store::rows;
use crate::store::{DeadLetter, DeadLetterFilter, Replayed, StoreError};

impl SqliteStore {
    pub(super) async fn dead_letters_impl(
        &self,
        app: &str,
        filter: &DeadLetterFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        // `updated_at` of a dead row is when it died: nothing changes a dead row afterwards.
        let rows = sqlx::query(
            "SELECT id, message_id, user_id, device_id, kind, credential, attempts,
                    last_outcome, last_reason, created_at, updated_at
             FROM deliveries
             WHERE app_id = ?1 AND state = 'dead' AND id > ?2
               AND (?3 IS NULL OR last_outcome = ?3 OR last_reason = ?3)
               AND (?4 IS NULL OR updated_at >= ?4)
               AND (?5 IS NULL OR updated_at < ?5)
             ORDER BY id LIMIT ?6",
        )
        .bind(app)
        .bind(after)
        .bind(filter.reason.as_deref())
        .bind(filter.since_ms)
        .bind(filter.until_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
        let list = serde_json::to_string(ids).map_err(StoreError::new)?;
        let mut tx = self.write_tx().await?;
        // Each asked id with what decides it: the row's state, and whether the device is still
        // registered with the row's token (same kind and credential) and logged in.
        let rows = sqlx::query(
            "SELECT j.value, d.state, dev.token IS NOT NULL,
                    dev.token = d.token AND dev.kind = d.kind AND dev.credential = d.credential,
                    COALESCE(l.state, 'logged_in')
             FROM json_each(?1) j
             LEFT JOIN deliveries d ON d.id = j.value AND d.app_id = ?2
             LEFT JOIN devices dev ON dev.app_id = d.app_id AND dev.user_id = d.user_id
                                  AND dev.device_id = d.device_id
             LEFT JOIN device_logins l ON l.app_id = d.app_id AND l.user_id = d.user_id
                                      AND l.device_id = d.device_id
             ORDER BY j.key",
        )
        .bind(&list)
        .bind(app)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        let result = rows::replay_verdicts(&rows)?;
        // A fresh budget: no attempts or retries so far, due now, and as long to live as the
        // message had when it was accepted (its TTL, or the default), counted from now.
        let replay = serde_json::to_string(&result.replayed).map_err(StoreError::new)?;
        sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, retries = 0, run_at = ?2,
                    lease_until = NULL, last_outcome = NULL, last_reason = NULL, updated_at = ?2,
                    expires_at = ?2 + (SELECT m.expires_at - m.created_at FROM messages m
                                       WHERE m.id = deliveries.message_id)
             WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'dead'",
        )
        .bind(&replay)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(result)
    }
}
