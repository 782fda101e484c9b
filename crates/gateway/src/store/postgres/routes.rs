//! Routes whose credential changed while running: their pause lifted, their held rows due.

use pushway_core::TokenKind;

use super::{PgStore, StoreError, err, kind_label};

impl PgStore {
    pub(super) async fn resume_route_impl(
        &self,
        app: &str,
        kind: TokenKind,
        credential: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.tx().await?;
        sqlx::query(
            "DELETE FROM paused_routes WHERE app_id = $1 AND kind = $2 AND credential = $3",
        )
        .bind(app)
        .bind(kind_label(kind))
        .bind(credential)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        // Only rows the route held: rows backing off after a 5xx keep their backoff.
        let due = sqlx::query(
            "UPDATE outbox SET run_at = $4, updated_at = $4
             WHERE app_id = $1 AND kind = $2 AND credential = $3 AND state = 'retrying'
               AND run_at > $4 AND last_outcome IN ('auth', 'misconfigured', 'unroutable')",
        )
        .bind(app)
        .bind(kind_label(kind))
        .bind(credential)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        tx.commit().await.map_err(err)?;
        Ok(due)
    }
}
