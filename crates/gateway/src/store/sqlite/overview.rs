//! The console's reads: outbox depth and age per app, paused routes, a user's recent deliveries.
//! Reader connections only; none of this is on the delivery path.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{SqliteStore, err};
use crate::store::rows;
use crate::store::{OutboxStats, PausedRoute, RecentDelivery, StoreError};

/// Unfinished rows by app, with how many are due and the oldest due (through `deliveries_due`).
pub(super) const OUTBOX_LIVE: &str =
    "SELECT app_id, COUNT(*), SUM(run_at <= ?1), MIN(CASE WHEN run_at <= ?1 THEN run_at END)
             FROM deliveries
             WHERE (state = 'pending' OR state = 'retrying' OR state = 'in_flight')
             GROUP BY app_id";

impl SqliteStore {
    pub(super) async fn outbox_stats_impl(&self, now: i64) -> Result<Vec<OutboxStats>, StoreError> {
        let mut by_app: BTreeMap<String, OutboxStats> = BTreeMap::new();
        // The unfinished rows are what `deliveries_due` indexes; a lease that ran out is due.
        let live = sqlx::query(OUTBOX_LIVE)
            .bind(now)
            .fetch_all(&self.reader)
            .await
            .map_err(err)?;
        for row in live {
            let app: String = row.try_get(0).map_err(err)?;
            let stats = by_app.entry(app.clone()).or_insert_with(|| OutboxStats {
                app,
                ..OutboxStats::default()
            });
            stats.depth = row.try_get(1).map_err(err)?;
            stats.due = row.try_get::<Option<i64>, _>(2).map_err(err)?.unwrap_or(0);
            stats.oldest_due_at = row.try_get(3).map_err(err)?;
        }
        // Served by `deliveries_dead` (migration 0004).
        let dead = sqlx::query(
            "SELECT app_id, COUNT(*) FROM deliveries WHERE state = 'dead' GROUP BY app_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        for row in dead {
            let app: String = row.try_get(0).map_err(err)?;
            let stats = by_app.entry(app.clone()).or_insert_with(|| OutboxStats {
                app,
                ..OutboxStats::default()
            });
            stats.dead = row.try_get(1).map_err(err)?;
        }
        Ok(by_app.into_values().collect())
    }

    pub(super) async fn paused_routes_impl(
        &self,
        now: i64,
    ) -> Result<Vec<PausedRoute>, StoreError> {
        let rows = sqlx::query(
            "SELECT app_id, kind, credential, until, reason FROM paused_routes WHERE until > ?
             ORDER BY app_id, kind, credential",
        )
        .bind(now)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        rows.iter().map(rows::paused_route).collect()
    }

    pub(super) async fn recent_deliveries_impl(
        &self,
        app: &str,
        user: &str,
        limit: u32,
    ) -> Result<Vec<RecentDelivery>, StoreError> {
        // Newest first by id: SQLite walks the rowid backwards and stops after `limit` matches
        // (no index on the user: one would cost every accepted row an insert).
        let rows = sqlx::query(
            "SELECT id, message_id, device_id, kind, state, attempts, last_outcome, last_reason,
                    updated_at
             FROM deliveries WHERE app_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(app)
        .bind(user)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(err)?;
        rows.iter().map(rows::recent_delivery).collect()
    }
}
