//! The vendor rate limits' buckets shared by every node: one `rate_buckets` row per app and
//! credential, leased from in blocks (see pushway-delivery's `RateSource` for the GCRA and the
//! error bound, docs/postgres.md for the choice).

use async_trait::async_trait;
use pushway_delivery::{Lease, LeaseError, RateLimitConfig, RateSource};
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::PgStore;

/// One UPSERT per lease: a new row is a full bucket (the lease is granted at once); an existing
/// one moves its `tat` only when the units' turn is within `max_wait`. The `SET` expressions all
/// read the old row, so `granted` records this lease's decision for `RETURNING`. `now()` is the
/// statement's transaction start: at worst a little before the row is locked, which makes the
/// answered wait longer, never shorter (the rate errs low).
/// $4 = the units' cost, $5 = the burst's span, $6 = `max_wait`, all in microseconds.
const LEASE: &str = "
INSERT INTO rate_buckets AS b (app_id, kind, credential, tat_us, granted)
VALUES ($1, $2, $3, (extract(epoch FROM now()) * 1000000)::bigint + $4, true)
ON CONFLICT (app_id, kind, credential) DO UPDATE SET
    granted = greatest(b.tat_us, excluded.tat_us - $4) + $4 - $5
              <= excluded.tat_us - $4 + $6,
    tat_us = CASE
        WHEN greatest(b.tat_us, excluded.tat_us - $4) + $4 - $5 <= excluded.tat_us - $4 + $6
        THEN greatest(b.tat_us, excluded.tat_us - $4) + $4
        ELSE b.tat_us
    END
RETURNING tat_us, granted, (extract(epoch FROM now()) * 1000000)::bigint AS now_us";

/// The bucket of one credential of one app in the gateway's database.
#[derive(Debug, Clone)]
pub struct PgRateSource {
    pool: PgPool,
    app: String,
    kind: String,
    credential: String,
}

impl PgStore {
    /// The shared bucket of credential `credential` of kind `kind` (`xiaomi`, …) of `app`.
    pub fn rate_source(&self, app: &str, kind: &str, credential: &str) -> PgRateSource {
        PgRateSource {
            pool: self.pool.clone(),
            app: app.to_owned(),
            kind: kind.to_owned(),
            credential: credential.to_owned(),
        }
    }
}

/// `n` units of `config`'s rate in microseconds (rounded alike for the cost and the burst, so
/// a lease of the whole burst fits it exactly).
fn micros(config: &RateLimitConfig, n: u32) -> i64 {
    // Saturating float-to-int cast; the rate is at least 0.001/s, so this stays far from it.
    (f64::from(n) * 1e6 / config.per_second).round() as i64
}

#[async_trait]
impl RateSource for PgRateSource {
    async fn lease(&self, config: &RateLimitConfig, units: u32) -> Result<Lease, LeaseError> {
        let cost = micros(config, units);
        let span = micros(config, config.burst);
        let max_wait = i64::try_from(config.max_wait.as_micros()).unwrap_or(i64::MAX);
        let row = sqlx::query(LEASE)
            .bind(&self.app)
            .bind(&self.kind)
            .bind(&self.credential)
            .bind(cost)
            .bind(span)
            .bind(max_wait)
            .fetch_one(&self.pool)
            .await
            // sqlx's messages name the failure (connection, timeout), not the URL.
            .map_err(|e| LeaseError::new(e.to_string()))?;
        let read = |e: sqlx::Error| LeaseError::new(e.to_string());
        let tat: i64 = row.try_get("tat_us").map_err(read)?;
        let granted: bool = row.try_get("granted").map_err(read)?;
        let now: i64 = row.try_get("now_us").map_err(read)?;
        let micros_after = |turn: i64| {
            std::time::Duration::from_micros(u64::try_from(turn.saturating_sub(now)).unwrap_or(0))
        };
        Ok(if granted {
            Lease::Granted {
                after: micros_after(tat.saturating_sub(span)),
            }
        } else {
            let turn = tat.max(now).saturating_add(cost).saturating_sub(span);
            Lease::Refused {
                after: micros_after(turn),
            }
        })
    }
}
