//! Token hygiene: dead tokens reach the embedder's [`TokenSink`] exactly once, and a wrong
//! setting never wipes a device registry.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::{ApnsEnv, DeviceToken, Notification, Outcome, PushProvider, Reason};
use tokio::time::Instant;

use crate::ConfigError;
use crate::sink::{AlarmKind, ConfigAlarm, DeadToken, TokenSink};

/// APNs' reason for a malformed token or a token of the other environment.
pub const APNS_BAD_DEVICE_TOKEN: &str = "BadDeviceToken";

/// How long a refusal by one APNs environment counts as evidence.
const EVIDENCE_TTL: Duration = Duration::from_secs(24 * 3600);
/// The most refusals [`ApnsEnvEvidence`] remembers.
const EVIDENCE_CAPACITY: usize = 100_000;

/// The hygiene rules' settings. Plain data; checked by [`Hygiene::new`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HygieneConfig {
    /// The smallest request the mass-invalid rule applies to (default 10, at least 2).
    pub mass_invalid_min_batch: usize,
    /// The share of invalid tokens in one request that holds the deletions (default 0.9).
    pub mass_invalid_ratio: f64,
    /// The APNs environment the wrapped provider sends to; `None`: the token kind's.
    pub apns_endpoint: Option<ApnsEnv>,
    /// Credentials whose APNs tokens' environment is not verified.
    pub apns_unverified_env: HashSet<String>,
}

impl Default for HygieneConfig {
    fn default() -> Self {
        HygieneConfig {
            mass_invalid_min_batch: 10,
            mass_invalid_ratio: 0.9,
            apns_endpoint: None,
            apns_unverified_env: HashSet::new(),
        }
    }
}

impl HygieneConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.mass_invalid_min_batch < 2 {
            return Err(ConfigError::new(
                "hygiene.mass_invalid_min_batch",
                "must be at least 2",
            ));
        }
        if !(self.mass_invalid_ratio > 0.0 && self.mass_invalid_ratio <= 1.0) {
            return Err(ConfigError::new(
                "hygiene.mass_invalid_ratio",
                "must be within (0, 1]",
            ));
        }
        Ok(())
    }
}

/// Which APNs environments refused which unverified tokens with `BadDeviceToken` lately. Share
/// one (clones share) between the hygiene layers of the production and the sandbox provider, so
/// a token refused by both is known dead. Bounded: entries expire after 24 h, and at most
/// 100 000 are kept.
#[derive(Debug, Clone, Default)]
pub struct ApnsEnvEvidence {
    refused: Arc<Mutex<Refusals>>,
}

/// (credential, token) → (bit 1: production refused it, bit 2: sandbox did; last refusal).
type Refusals = HashMap<(String, String), (u8, Instant)>;

impl ApnsEnvEvidence {
    /// Empty.
    pub fn new() -> Self {
        ApnsEnvEvidence::default()
    }

    /// Records that `env` refused `device`; says whether both environments now have.
    fn refused_by(&self, device: &DeviceToken, env: ApnsEnv) -> bool {
        let bit = match env {
            ApnsEnv::Production => 1,
            ApnsEnv::Sandbox => 2,
        };
        let now = Instant::now();
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() >= EVIDENCE_CAPACITY {
            refused.retain(|_, (_, at)| now.duration_since(*at) < EVIDENCE_TTL);
            if refused.len() >= EVIDENCE_CAPACITY {
                refused.clear();
            }
        }
        let key = (device.credential.clone(), device.token.clone());
        let entry = refused.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= EVIDENCE_TTL {
            *entry = (0, now);
        }
        entry.0 |= bit;
        entry.1 = now;
        entry.0 == 3
    }
}

/// Applies the hygiene rules below to every attempt's outcomes and reports to a [`TokenSink`].
///
/// # The rules, in the order they apply to one attempt's outcomes
///
/// 1. **APNs environment.** APNs answers `400 BadDeviceToken` both for a malformed token and for
///    a token of the *other* environment (protocols/apns.md §4), so that answer proves a token
///    dead only when the token's environment is known and is the environment that answered. For
///    an APNs token refused with `BadDeviceToken`:
///    - its credential is **not** listed in [`HygieneConfig::apns_unverified_env`] and its kind's
///      environment is the endpoint's ([`HygieneConfig::apns_endpoint`], or the token's own when
///      unset, as the router sends `ApnsProduction` tokens to the production provider): **dead**;
///    - its credential is not listed but its kind names the other environment (a sandbox token
///      sent to production): **`Misconfigured`**, token kept, alarm
///      [`AlarmKind::ApnsEnvironmentMismatch`] — the routing is wrong, not the token;
///    - its credential **is** listed (the embedder does not know which environment that app's
///      tokens come from, e.g. it registers every token as production): **`Stale`**, token kept
///      — unless there is evidence: the *other* environment has refused the same token with
///      `BadDeviceToken` too (recorded in a shared [`ApnsEnvEvidence`] within 24 h), then dead.
///
///    `Unregistered` / `ExpiredToken` (410) are answers about a token valid in that environment,
///    so they stay dead whatever the environment.
/// 2. **Mass invalid.** When one request of at least
///    [`mass_invalid_min_batch`](HygieneConfig::mass_invalid_min_batch) tokens comes back with at
///    least [`mass_invalid_ratio`](HygieneConfig::mass_invalid_ratio) of them invalid, the vendor
///    is far more likely refusing our configuration (Xiaomi 20301 for a wrong package or region,
///    Huawei 80300007 for another app's tokens) than reporting that many uninstalls at once:
///    every invalid token of that request becomes **`Misconfigured`** (kept) and one alarm
///    [`AlarmKind::MassInvalid`] lists them.
/// 3. **Vendor-classified misconfiguration.** Tokens the provider itself returned as
///    `Misconfigured` raise one alarm [`AlarmKind::VendorMisconfigured`].
/// 4. **Dead tokens.** Every token still `InvalidToken` goes to
///    [`TokenSink::invalid_tokens`], in one call per request, each exactly once; the caller sees
///    the same `InvalidToken` outcome.
///
/// Only this layer calls the sink, and it sits inside the retry layer: a token answered
/// `InvalidToken` is never retried, so it is reported once per `send` however many attempts the
/// other tokens of the batch took. (Use one hygiene layer per stack.)
pub struct Hygiene {
    inner: Arc<dyn PushProvider>,
    config: HygieneConfig,
    sink: Arc<dyn TokenSink>,
    evidence: ApnsEnvEvidence,
    name: String,
}

impl Hygiene {
    /// Wraps `inner`. Pass the same `evidence` to the production and sandbox stacks.
    pub fn new(
        inner: Arc<dyn PushProvider>,
        config: HygieneConfig,
        sink: Arc<dyn TokenSink>,
        evidence: ApnsEnvEvidence,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Hygiene {
            name: format!("hygiene({})", inner.name()),
            inner,
            config,
            sink,
            evidence,
        })
    }

    /// Rule 1 for one outcome; `true` when it became an environment mismatch.
    fn apns_environment(&self, device: &DeviceToken, outcome: &mut Outcome) -> bool {
        let Outcome::InvalidToken { reason, .. } = &*outcome else {
            return false;
        };
        let Some(token_env) = device.kind.apns_env() else {
            return false;
        };
        if reason.code() != APNS_BAD_DEVICE_TOKEN {
            return false;
        }
        let endpoint = self.config.apns_endpoint.unwrap_or(token_env);
        let code = reason.code().to_owned();
        if self.config.apns_unverified_env.contains(&device.credential) {
            if !self.evidence.refused_by(device, endpoint) {
                *outcome = Outcome::Stale {
                    reason: Reason::new(code).with_detail(format!(
                        "{endpoint:?} refused a token of unverified environment: kept until the \
                         other environment refuses it too"
                    )),
                };
            }
            return false;
        }
        if token_env != endpoint {
            *outcome = Outcome::Misconfigured {
                reason: Reason::new(code).with_detail(format!(
                    "a {token_env:?} token was sent to the {endpoint:?} environment: token kept"
                )),
            };
            return true;
        }
        false
    }

    fn alarm(&self, kind: AlarmKind, batch_size: usize, held: Vec<(DeviceToken, Reason)>) {
        let Some(reason) = held.first().map(|(_, r)| r.clone()) else {
            return;
        };
        tracing::warn!(
            provider = %self.inner.name(),
            alarm = kind.as_str(),
            reason = %reason,
            held = held.len(),
            batch_size,
            "push configuration alarm: token deletions held"
        );
        self.sink.config_alarm(ConfigAlarm {
            kind,
            provider: self.inner.name().to_owned(),
            reason,
            batch_size,
            held: held.into_iter().map(|(device, _)| device).collect(),
        });
    }
}

impl std::fmt::Debug for Hygiene {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hygiene")
            .field("inner", &self.inner.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PushProvider for Hygiene {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch_size(&self) -> usize {
        self.inner.max_batch_size()
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        let mut outcomes = self.inner.send(notification, tokens).await;
        if outcomes.len() != tokens.len() {
            // Which outcome is whose cannot be told: report nothing, delete nothing.
            return outcomes;
        }
        let n = tokens.len();
        let pairs = |pick: &dyn Fn(&Outcome) -> bool, outcomes: &[Outcome]| {
            let picked: Vec<(DeviceToken, Reason)> = tokens
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| pick(o))
                .filter_map(|(d, o)| Some((d.clone(), o.reason()?.clone())))
                .collect();
            picked
        };

        // Rule 3 first, so it sees only what the provider said.
        let vendor_misconfigured =
            pairs(&|o| matches!(o, Outcome::Misconfigured { .. }), &outcomes);
        self.alarm(AlarmKind::VendorMisconfigured, n, vendor_misconfigured);

        // Rule 1.
        let mut mismatched = Vec::new();
        for (device, outcome) in tokens.iter().zip(outcomes.iter_mut()) {
            if self.apns_environment(device, outcome)
                && let Some(reason) = outcome.reason()
            {
                mismatched.push((device.clone(), reason.clone()));
            }
        }
        self.alarm(AlarmKind::ApnsEnvironmentMismatch, n, mismatched);

        // Rule 2.
        let invalid = outcomes.iter().filter(|o| o.should_drop_token()).count();
        if n >= self.config.mass_invalid_min_batch
            && invalid as f64 >= self.config.mass_invalid_ratio * n as f64
        {
            let held = pairs(&Outcome::should_drop_token, &outcomes);
            for outcome in &mut outcomes {
                if let Outcome::InvalidToken { reason, .. } = outcome {
                    let detail = format!(
                        "deletion held: {invalid} of {n} tokens of one request reported invalid, \
                         which points at the configuration (package name, region, app id)"
                    );
                    *outcome = Outcome::Misconfigured {
                        reason: reason.clone().with_detail(detail),
                    };
                }
            }
            self.alarm(AlarmKind::MassInvalid, n, held);
        }

        // Rule 4.
        let dead: Vec<DeadToken> = tokens
            .iter()
            .zip(&outcomes)
            .filter_map(|(device, outcome)| match outcome {
                Outcome::InvalidToken { reason, since } => Some(DeadToken {
                    device: device.clone(),
                    reason: reason.clone(),
                    since: *since,
                }),
                _ => None,
            })
            .collect();
        if !dead.is_empty() {
            self.sink.invalid_tokens(dead);
        }
        outcomes
    }
}
