//! Where the credentials' rate limits keep their buckets: in this process on SQLite, in the
//! Postgres database (shared by every node) on Postgres.

use std::sync::Arc;

use pushway_delivery::{RateLimitConfig, RateLimiter, RateUnit};

use super::CredentialKind;
use crate::config::{ConfigError, RateConfig};
use crate::store::AnyStore;
use crate::store::postgres::PgStore;

/// Where rate-limit buckets live; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RateBuckets {
    shared: Option<PgStore>,
}

impl RateBuckets {
    /// Buckets in this process (one node).
    pub fn local() -> Self {
        RateBuckets::default()
    }

    /// Buckets where `store` keeps them: in its database on Postgres (the rate is the
    /// cluster's), in this process on SQLite.
    pub fn of(store: &AnyStore) -> Self {
        match store {
            AnyStore::Postgres(pg) => RateBuckets {
                shared: Some(pg.clone()),
            },
            _ => RateBuckets::local(),
        }
    }

    /// The limiter of credential `name` of `kind` of `app` at the rate `rate` (configuration
    /// key `at`), whose requests carry at most `max_batch` tokens.
    pub(crate) fn limiter(
        &self,
        app: &str,
        kind: CredentialKind,
        name: &str,
        at: &str,
        rate: &RateConfig,
        max_batch: usize,
    ) -> Result<RateLimiter, ConfigError> {
        let config = delivery_rate(kind, rate, max_batch);
        let made = match &self.shared {
            Some(pg) => {
                RateLimiter::shared(config, Arc::new(pg.rate_source(app, kind.as_str(), name)))
            }
            None => RateLimiter::new(config),
        };
        // The delivery crate names `rate_limit.per_second` or `rate_limit.burst`.
        made.map_err(|e| ConfigError::at(&format!("{at}.{}", e.field()), e))
    }
}

/// The delivery layer's rate for a credential of `kind`: Huawei counts device tokens, the
/// others requests (protocols/huawei.md §4, xiaomi.md §7); a token-counted burst defaults to
/// at least one full batch, so that no batch is charged less than its size.
fn delivery_rate(kind: CredentialKind, rate: &RateConfig, max_batch: usize) -> RateLimitConfig {
    let mut config = RateLimitConfig::per_second(rate.per_second);
    if kind == CredentialKind::Huawei {
        config.unit = RateUnit::Tokens;
        let batch = u32::try_from(max_batch).unwrap_or(u32::MAX);
        config.burst = config.burst.max(batch);
    }
    if let Some(burst) = rate.burst {
        config.burst = burst;
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huawei_counts_tokens_and_its_burst_holds_a_batch() {
        let rate = RateConfig::per_second(6000.0);
        let hw = delivery_rate(CredentialKind::Huawei, &rate, 1000);
        assert_eq!((hw.unit, hw.burst), (RateUnit::Tokens, 1000));
        let mi = delivery_rate(CredentialKind::Xiaomi, &rate, 1000);
        assert_eq!((mi.unit, mi.burst), (RateUnit::Requests, 600));
        let set = delivery_rate(CredentialKind::Huawei, &rate.with_burst(5), 1000);
        assert_eq!(set.burst, 5, "an explicit burst wins");
    }

    #[test]
    fn a_bad_rate_names_its_key() {
        let err = RateBuckets::local()
            .limiter(
                "chat",
                CredentialKind::Xiaomi,
                "mi",
                "apps.chat.xiaomi.mi",
                &RateConfig::per_second(0.0),
                1,
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("apps.chat.xiaomi.mi.rate_limit.per_second"),
            "{err}"
        );
    }
}
