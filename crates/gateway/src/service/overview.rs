//! What the console shows: the outbox and paused routes of every app, a user's recent
//! deliveries.

use super::{Service, ServiceError};
use crate::store::{OutboxStats, PausedRoute, RecentDelivery};

/// The most recent deliveries the console shows for a user.
pub const RECENT_DELIVERIES: u32 = 20;

impl Service {
    /// Every app's outbox, and the routes paused, as of now; with the time read (Unix ms).
    pub async fn overview(
        &self,
    ) -> Result<(i64, Vec<OutboxStats>, Vec<PausedRoute>), ServiceError> {
        let now = self.clock.now_ms();
        let (stats, paused) =
            tokio::join!(self.store.outbox_stats(now), self.store.paused_routes(now));
        Ok((now, stats?, paused?))
    }

    /// The user's [`RECENT_DELIVERIES`] most recent deliveries, newest first.
    pub async fn recent_deliveries(
        &self,
        app: &str,
        user: &str,
    ) -> Result<Vec<RecentDelivery>, ServiceError> {
        self.app(app)?;
        Ok(self
            .store
            .recent_deliveries(app, user, RECENT_DELIVERIES)
            .await?)
    }
}
