//! A vendor credential's rate limit (`rate_limit` in its section).

use serde::Deserialize;

/// The rate a vendor allows one credential, as `rate_limit` in the credential's section:
///
/// ```toml
/// [apps.chat.xiaomi.main]
/// rate_limit = { per_second = 500, burst = 50 }   # Xiaomi's smallest QPS tier
/// ```
///
/// A unit is one request for APNs, Xiaomi and FCM, one device token for Huawei (its send QPS
/// counts devices); both APNs environments of a credential share its rate. Without it, the credential sends as fast as the workers go. On SQLite the
/// bucket is this process's; on Postgres it is shared by every node on the database, so the
/// rate is the cluster's (docs/postgres.md): give every node the same value. A send whose turn
/// is more than a second away is not sent and retried later (`throttled`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateConfig {
    /// Sustained units per second (0.001 ..= 1 000 000 000).
    pub per_second: f64,
    /// Units that may go at once after a quiet spell (default: a tenth of a second's worth, at
    /// least 1; for Huawei at least one full batch of 1000 tokens).
    #[serde(default)]
    pub burst: Option<u32>,
}

impl RateConfig {
    /// `per_second` units a second with the default burst.
    pub fn per_second(per_second: f64) -> Self {
        RateConfig {
            per_second,
            burst: None,
        }
    }

    /// With a burst of `burst` units.
    #[must_use]
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }
}
