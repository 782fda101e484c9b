//! Token hygiene: dead tokens reach the embedder's [`TokenSink`] exactly once, and a wrong
//! setting never wipes a device registry.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::{ApnsEnv, ChannelKey, DeviceToken, Notification, Outcome, PushProvider, Reason};
use tokio::time::Instant;

use crate::ConfigError;
use crate::quarantine::Quarantine;
use crate::sink::{AlarmKind, ConfigAlarm, DeadToken, TokenSink};

/// APNs' reason for a malformed token or a token of the other environment.
pub const APNS_BAD_DEVICE_TOKEN: &str = "BadDeviceToken";

/// How long a refusal by one APNs environment counts as evidence.
const EVIDENCE_TTL: Duration = Duration::from_secs(24 * 3600);
/// The most refusals [`ApnsEnvEvidence`] remembers.
const EVIDENCE_CAPACITY: usize = 100_000;
/// The largest [`HygieneConfig::mass_invalid_min_verdicts`] (it bounds each credential's memory).
pub const MAX_MIN_VERDICTS: usize = 100_000;

/// The hygiene rules' settings. Plain data; checked by [`Hygiene::new`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HygieneConfig {
    /// The smallest request the mass-invalid rule applies to (default 10, at least 2).
    pub mass_invalid_min_batch: usize,
    /// The share of invalid verdicts that holds the deletions, in one request or across a
    /// credential's recent requests (default 0.9).
    pub mass_invalid_ratio: f64,
    /// How far back the rate rule looks: older verdicts are not judged (default 60 s).
    pub mass_invalid_window: Duration,
    /// How many recent verdicts of a credential the rate rule judges, and needs before it
    /// judges at all (default 50, at least 2, at most [`MAX_MIN_VERDICTS`]). Fewer than this
    /// many deletions of a credential refused wholesale reach the sink before the rule holds
    /// the rest.
    pub mass_invalid_min_verdicts: usize,
    /// At most one alarm per credential and kind this often (default 60 s).
    pub alarm_interval: Duration,
    /// The most held deletions per credential (default 10 000); further ones are forgotten and
    /// their tokens kept.
    pub quarantine_capacity: usize,
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
            mass_invalid_window: Duration::from_secs(60),
            mass_invalid_min_verdicts: 50,
            alarm_interval: Duration::from_secs(60),
            quarantine_capacity: 10_000,
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
        if self.mass_invalid_window.is_zero() {
            return Err(ConfigError::new(
                "hygiene.mass_invalid_window",
                "must be positive",
            ));
        }
        if !(2..=MAX_MIN_VERDICTS).contains(&self.mass_invalid_min_verdicts) {
            return Err(ConfigError::new(
                "hygiene.mass_invalid_min_verdicts",
                "must be within 2..=100000",
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
/// 2. **Mass invalid.** A vendor that refuses (nearly) every token is far more likely refusing
///    our configuration (Xiaomi 20301 for a wrong package or region, Huawei 80300007 for another
///    app's tokens, APNs `DeviceTokenNotForTopic` / `BadDeviceToken` for a wrong topic or key)
///    than reporting that many uninstalls at once. Two rules, each turning the tokens still
///    `InvalidToken` into **`Misconfigured`** (kept, their deletion held in the
///    [`Quarantine`]) with an alarm [`AlarmKind::MassInvalid`]:
///    - **one request**: a request of at least
///      [`mass_invalid_min_batch`](HygieneConfig::mass_invalid_min_batch) tokens came back with
///      at least [`mass_invalid_ratio`](HygieneConfig::mass_invalid_ratio) of them invalid;
///    - **across requests**, per credential ([`ChannelKey`]: the token kind and credential), for
///      vendors that answer one token per request (APNs) or small batches: every attempt's
///      *verdicts* as the provider gave them — alive (`Delivered`, `Queued`) or refused
///      (`InvalidToken`, `Misconfigured`); `Retry` and the rest say nothing about the token —
///      are remembered for [`mass_invalid_window`](HygieneConfig::mass_invalid_window). The
///      judged verdicts are those of the most recent requests that together hold at least
///      [`mass_invalid_min_verdicts`](HygieneConfig::mass_invalid_min_verdicts) (N) verdicts
///      within the window. With N of them, the credential becomes **suspect** when at least
///      `mass_invalid_ratio` are refusals (this request's included), and stops being suspect
///      when fewer are; with fewer than N it stays as it was, so a quiet spell does not let a
///      still-broken credential delete again. While it is suspect, its deletions are held.
///
///      Judging the *last* N verdicts rather than all verdicts of the window means hours of
///      healthy traffic before a bad deploy cannot dilute the rate: **fewer than N deletions of
///      a credential whose every verdict is a refusal reach the sink before the rule holds the
///      rest** (the prefix; about N when a few verdicts are still healthy). A credential with
///      fewer than N verdicts per window is judged by the one-request rule only. The default
///      (N = 50, 90%) is not reached by ordinary uninstall rates (a few per cent).
///
///    **Held deletions are never released automatically**, not even when the credential is
///    healthy again: they were verdicts given under a configuration the vendor was refusing,
///    which is no evidence. After the fix, a token that really is dead is refused again by the
///    next send to it, goes to the sink then and leaves the quarantine, so the sink sees each
///    dead token once. An operator who confirms the configuration was right takes them with
///    [`Quarantine::take_held`]. Share the quarantine with [`Hygiene::with_quarantine`] or
///    [`DeliveryBuilder::quarantine`](crate::DeliveryBuilder::quarantine) to reach it.
/// 3. **Vendor-classified misconfiguration.** Tokens the provider itself returned as
///    `Misconfigured` raise an alarm [`AlarmKind::VendorMisconfigured`] (they are no deletions,
///    so they are not quarantined).
/// 4. **Dead tokens.** Every token still `InvalidToken` goes to
///    [`TokenSink::invalid_tokens`], in one call per request, each exactly once, and leaves the
///    quarantine if it was held there; the caller sees the same `InvalidToken` outcome.
///
/// **Alarms are deduplicated** per credential and kind: at most one per
/// [`alarm_interval`](HygieneConfig::alarm_interval) (a fleet sent to the wrong APNs
/// environment alarms once a minute, not once a request); the next alarm raised carries the
/// number suppressed in between ([`ConfigAlarm::suppressed`]), and the suppressed requests'
/// held deletions are in the quarantine all the same.
///
/// Only this layer calls the sink, and it sits inside the retry layer: a token answered
/// `InvalidToken` is never retried, so it is reported once per `send` however many attempts the
/// other tokens of the batch took. (Use one hygiene layer per stack.)
pub struct Hygiene {
    inner: Arc<dyn PushProvider>,
    config: HygieneConfig,
    sink: Arc<dyn TokenSink>,
    evidence: ApnsEnvEvidence,
    quarantine: Quarantine,
    name: String,
}

/// A credential's verdicts in one request, and the judgement after them.
struct Verdicts {
    key: ChannelKey,
    valid: u64,
    invalid: u64,
    suspect: bool,
}

fn same_key(key: &ChannelKey, device: &DeviceToken) -> bool {
    key.kind == device.kind && key.credential == device.credential
}

/// `items` grouped by their device's credential, in first-seen order.
fn by_key<T>(items: Vec<(DeviceToken, T)>) -> Vec<(ChannelKey, Vec<(DeviceToken, T)>)> {
    let mut groups: Vec<(ChannelKey, Vec<(DeviceToken, T)>)> = Vec::new();
    for (device, item) in items {
        match groups.iter_mut().find(|(k, _)| same_key(k, &device)) {
            Some((_, group)) => group.push((device, item)),
            None => groups.push((device.channel_key(), vec![(device, item)])),
        }
    }
    groups
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
            quarantine: Quarantine::new(),
        })
    }

    /// Keeps verdict windows, held deletions and alarm times in `quarantine` (shared with the
    /// operator's code, or with other stacks of the same credentials) instead of its own.
    #[must_use]
    pub fn with_quarantine(mut self, quarantine: Quarantine) -> Self {
        self.quarantine = quarantine;
        self
    }

    /// The held deletions and the state of the mass-invalid rate rule.
    pub fn quarantine(&self) -> &Quarantine {
        &self.quarantine
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

    /// Rule 2's memory: records the provider's verdicts per credential and judges each.
    fn judge(&self, tokens: &[DeviceToken], outcomes: &[Outcome], now: Instant) -> Vec<Verdicts> {
        let mut verdicts: Vec<Verdicts> = Vec::new();
        for (device, outcome) in tokens.iter().zip(outcomes) {
            let (valid, invalid) = match outcome {
                Outcome::Delivered { .. } | Outcome::Queued => (1, 0),
                Outcome::InvalidToken { .. } | Outcome::Misconfigured { .. } => (0, 1),
                _ => (0, 0),
            };
            match verdicts.iter_mut().find(|v| same_key(&v.key, device)) {
                Some(v) => {
                    v.valid += valid;
                    v.invalid += invalid;
                }
                None => verdicts.push(Verdicts {
                    key: device.channel_key(),
                    valid,
                    invalid,
                    suspect: false,
                }),
            }
        }
        for v in &mut verdicts {
            let judgement = self
                .quarantine
                .record(&v.key, v.valid, v.invalid, &self.config, now);
            v.suspect = judgement.suspect;
            if judgement.suspect {
                tracing::debug!(
                    channel = %v.key,
                    invalid = judgement.invalid,
                    total = judgement.total,
                    "hygiene: credential suspect, deletions held"
                );
            }
        }
        verdicts
    }

    /// Rule 2's effect on the tokens at `held` (all `InvalidToken`): `Misconfigured` with
    /// `detail`, deletions into the quarantine; returns them for the alarm.
    fn hold(
        &self,
        tokens: &[DeviceToken],
        outcomes: &mut [Outcome],
        held: &[usize],
        detail: &str,
    ) -> Vec<(DeviceToken, Reason)> {
        let mut dead = Vec::with_capacity(held.len());
        for &i in held {
            if let Outcome::InvalidToken { reason, since } = &outcomes[i] {
                dead.push(DeadToken {
                    device: tokens[i].clone(),
                    reason: reason.clone(),
                    since: *since,
                });
                outcomes[i] = Outcome::Misconfigured {
                    reason: reason.clone().with_detail(detail.to_owned()),
                };
            }
        }
        let pairs = dead
            .iter()
            .map(|d| (d.device.clone(), d.reason.clone()))
            .collect();
        for (key, group) in by_key(dead.into_iter().map(|d| (d.device.clone(), d)).collect()) {
            let group = group.into_iter().map(|(_, d)| d).collect();
            self.quarantine.hold(&key, group, &self.config);
        }
        pairs
    }

    /// Raises one alarm per credential among `held`, unless one of that kind was raised for it
    /// within the alarm interval.
    fn alarm(
        &self,
        kind: AlarmKind,
        batch_size: usize,
        held: Vec<(DeviceToken, Reason)>,
        now: Instant,
    ) {
        for (channel, group) in by_key(held) {
            let Some(reason) = group.first().map(|(_, r)| r.clone()) else {
                continue;
            };
            let Some(suppressed) =
                self.quarantine
                    .alarm_due(&channel, kind, self.config.alarm_interval, now)
            else {
                continue;
            };
            tracing::warn!(
                provider = %self.inner.name(),
                channel = %channel,
                alarm = kind.as_str(),
                reason = %reason,
                held = group.len(),
                batch_size,
                suppressed,
                "push configuration alarm: token deletions held"
            );
            self.sink.config_alarm(ConfigAlarm {
                kind,
                provider: self.inner.name().to_owned(),
                channel,
                reason,
                batch_size,
                held: group.into_iter().map(|(device, _)| device).collect(),
                suppressed,
            });
        }
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
        let now = Instant::now();
        let pairs = |pick: &dyn Fn(&Outcome) -> bool, outcomes: &[Outcome]| {
            let picked: Vec<(DeviceToken, Reason)> = tokens
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| pick(o))
                .filter_map(|(d, o)| Some((d.clone(), o.reason()?.clone())))
                .collect();
            picked
        };
        let invalid_at = |outcomes: &[Outcome]| -> Vec<usize> {
            (0..n)
                .filter(|&i| outcomes[i].should_drop_token())
                .collect()
        };

        // Rule 2's verdicts and rule 3 first, so they see only what the provider said.
        let verdicts = self.judge(tokens, &outcomes, now);
        let vendor_misconfigured =
            pairs(&|o| matches!(o, Outcome::Misconfigured { .. }), &outcomes);
        self.alarm(AlarmKind::VendorMisconfigured, n, vendor_misconfigured, now);

        // Rule 1.
        let mut mismatched = Vec::new();
        for (device, outcome) in tokens.iter().zip(outcomes.iter_mut()) {
            if self.apns_environment(device, outcome)
                && let Some(reason) = outcome.reason()
            {
                mismatched.push((device.clone(), reason.clone()));
            }
        }
        self.alarm(AlarmKind::ApnsEnvironmentMismatch, n, mismatched, now);

        // Rule 2, one request.
        let invalid = invalid_at(&outcomes);
        let mut held = Vec::new();
        if n >= self.config.mass_invalid_min_batch
            && invalid.len() as f64 >= self.config.mass_invalid_ratio * n as f64
        {
            let detail = format!(
                "deletion held: {} of {n} tokens of one request reported invalid, which points \
                 at the configuration (package name, region, app id)",
                invalid.len()
            );
            held = self.hold(tokens, &mut outcomes, &invalid, &detail);
        }
        // Rule 2, across requests.
        let suspect: Vec<usize> = invalid_at(&outcomes)
            .into_iter()
            .filter(|&i| {
                verdicts
                    .iter()
                    .any(|v| v.suspect && same_key(&v.key, &tokens[i]))
            })
            .collect();
        if !suspect.is_empty() {
            let detail = format!(
                "deletion held: at least {:.0}% of this credential's last {} or more verdicts \
                 were refusals, which points at the configuration (topic, package name, region, \
                 app id)",
                self.config.mass_invalid_ratio * 100.0,
                self.config.mass_invalid_min_verdicts
            );
            held.extend(self.hold(tokens, &mut outcomes, &suspect, &detail));
        }
        self.alarm(AlarmKind::MassInvalid, n, held, now);

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
            self.quarantine.forwarded(&dead);
            self.sink.invalid_tokens(dead);
        }
        outcomes
    }
}
