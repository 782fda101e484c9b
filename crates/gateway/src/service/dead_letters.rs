//! Dead letters: deliveries that will never arrive as they stand, listed and replayed.

use super::{Service, ServiceError};
use crate::store::{DeadLetter, DeadLetterFilter, Replayed};

/// The most dead letters one replay takes (by ids or by filter), so one request stays one
/// short transaction.
pub const MAX_REPLAY: usize = 1000;

impl Service {
    /// Up to `limit` dead letters of `app` matching `filter`, with ids after `after`.
    pub async fn dead_letters(
        &self,
        app: &str,
        filter: &DeadLetterFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, ServiceError> {
        self.app(app)?;
        Ok(self.store.dead_letters(app, filter, after, limit).await?)
    }

    /// Replays the given dead letters of `app` (see [`Store::replay`](crate::store::Store::replay))
    /// and wakes the workers.
    pub async fn replay(&self, app: &str, ids: &[i64]) -> Result<Replayed, ServiceError> {
        self.app(app)?;
        if ids.len() > MAX_REPLAY {
            return Err(ServiceError::invalid(
                "ids",
                format!("at most {MAX_REPLAY} ids at once"),
            ));
        }
        let replayed = self.store.replay(app, ids, self.clock.now_ms()).await?;
        if !replayed.replayed.is_empty() {
            self.wake.notify_waiters();
        }
        Ok(replayed)
    }

    /// Replays up to `limit` (at most [`MAX_REPLAY`]) dead letters of `app` matching `filter`,
    /// oldest first.
    pub async fn replay_matching(
        &self,
        app: &str,
        filter: &DeadLetterFilter,
        limit: u32,
    ) -> Result<Replayed, ServiceError> {
        let limit = limit.min(u32::try_from(MAX_REPLAY).unwrap_or(u32::MAX));
        let ids: Vec<i64> = self
            .dead_letters(app, filter, 0, limit)
            .await?
            .iter()
            .map(|d| d.id)
            .collect();
        self.replay(app, &ids).await
    }
}
