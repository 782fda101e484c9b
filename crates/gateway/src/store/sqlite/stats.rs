//! The metrics scrape's reads: backlog per app and state, the oldest due row, paused routes.

use sqlx::Row;

use super::{SqliteStore, err, parse_kind};
use crate::store::{Backlog, StoreError};

/// Unfinished rows by app and state (through `deliveries_due`).
pub(super) const BACKLOG_DEPTH: &str = "SELECT app_id, state, COUNT(*) FROM deliveries
             WHERE (state = 'pending' OR state = 'retrying' OR state = 'in_flight')
             GROUP BY app_id, state ORDER BY app_id, state";
/// The oldest due row by app, as the claim sees them (through `deliveries_due`).
pub(super) const BACKLOG_OLDEST_DUE: &str = "SELECT d.app_id, MIN(d.run_at) FROM deliveries d
             WHERE (d.state = 'pending' OR d.state = 'retrying' OR d.state = 'in_flight')
               AND d.run_at <= ?1
               AND NOT EXISTS (SELECT 1 FROM paused_routes p
                               WHERE p.app_id = d.app_id AND p.kind = d.kind
                                 AND p.credential = d.credential AND p.until > ?1)
             GROUP BY d.app_id ORDER BY d.app_id";

impl SqliteStore {
    pub(super) async fn backlog_impl(&self, now: i64) -> Result<Backlog, StoreError> {
        // Both read only the outstanding rows, through the partial index `deliveries_due`.
        let depth = sqlx::query(BACKLOG_DEPTH)
            .fetch_all(&self.reader)
            .await
            .map_err(err)?
            .into_iter()
            .map(|row| {
                let n: i64 = row.try_get(2).map_err(err)?;
                Ok((
                    row.try_get(0).map_err(err)?,
                    row.try_get(1).map_err(err)?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Due as the claim sees it: held rows of paused routes are waiting for an operator,
        // not for a worker, and are left out (the `pushway_route_paused` series shows them).
        let oldest_due = sqlx::query(BACKLOG_OLDEST_DUE)
            .bind(now)
            .fetch_all(&self.reader)
            .await
            .map_err(err)?
            .into_iter()
            .map(|row| Ok((row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let paused = sqlx::query(
            "SELECT app_id, kind, credential FROM paused_routes WHERE until > ?
             ORDER BY app_id, kind, credential",
        )
        .bind(now)
        .fetch_all(&self.reader)
        .await
        .map_err(err)?
        .into_iter()
        .map(|row| {
            let kind: String = row.try_get(1).map_err(err)?;
            Ok((
                row.try_get(0).map_err(err)?,
                parse_kind(&kind)?,
                row.try_get(2).map_err(err)?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Backlog {
            depth,
            oldest_due,
            paused,
        })
    }
}
