//! A rate shared beyond this process: the bucket lives elsewhere (a database row every node of
//! a cluster updates), and a [`RateLimiter`](crate::RateLimiter) leases blocks of units from it,
//! one round trip per block, spending each block locally.
//!
//! Error bound: a node may still hold units of a block it leased earlier, so over any window of
//! length `w` the cluster sends at most `burst + per_second × w + nodes × (block − 1)` units,
//! where `block` is [`lease_block`]; units a node leased and never spent (it stopped, or demand
//! ended) are lost, so the rate errs low, never high.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::RateLimitConfig;

/// How much rate one lease takes when a send needs less: a tenth of a second's worth.
pub const LEASE_SPAN: Duration = Duration::from_millis(100);

/// After the source failed, sends are refused without asking it for this long, so that a
/// database that is away is not asked once per send.
pub const SOURCE_BACKOFF: Duration = Duration::from_secs(1);

/// The units one lease takes: [`LEASE_SPAN`]'s worth of `config`'s rate, at least 1 and at
/// most the burst (a lease larger than the burst could never be granted at once).
pub fn lease_block(config: &RateLimitConfig) -> u32 {
    let span = (config.per_second * LEASE_SPAN.as_secs_f64()).ceil();
    // Saturating float-to-int cast; the clamp keeps it within 1 ..= burst.
    (span as u32).clamp(1, config.burst.max(1))
}

/// What a [`RateSource`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// The units are taken; they may be spent `after` from now (the source's "now").
    Granted {
        /// How long until the units' turn.
        after: Duration,
    },
    /// Nothing taken: the units' turn would come `after` from now, beyond `max_wait`.
    Refused {
        /// How long until the turn would come.
        after: Duration,
    },
}

/// The source could not be asked (its database is away, a timeout…); the message never holds
/// a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseError(String);

impl LeaseError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        LeaseError(message.into())
    }
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LeaseError {}

/// A bucket of rate shared by several [`RateLimiter`](crate::RateLimiter)s, possibly in several
/// processes (a row in a database). A GCRA: taking `units` moves the bucket's theoretical
/// arrival time `tat` to `max(tat, now) + units / per_second`, and only if the units' turn
/// (`that − burst / per_second`) is within `max_wait` from now; otherwise nothing changes.
///
/// [`MemorySource`] is the in-process implementation; a [`RateLimiter`](crate::RateLimiter)
/// without a source keeps its bucket in memory the same way, without leasing.
#[async_trait]
pub trait RateSource: Send + Sync + fmt::Debug {
    /// Takes `units` units (at most `config.burst`) of `config`'s rate, if their turn comes
    /// within `config.max_wait`.
    async fn lease(&self, config: &RateLimitConfig, units: u32) -> Result<Lease, LeaseError>;
}

/// The GCRA step of [`RateSource`], on `tat` at `now`: the new `tat` and the answer.
pub(crate) fn gcra_take(
    tat: Instant,
    now: Instant,
    config: &RateLimitConfig,
    units: u32,
) -> (Instant, Lease) {
    let interval = Duration::from_secs_f64(1.0 / config.per_second);
    let new_tat = tat.max(now) + interval * units;
    let after = new_tat
        .duration_since(now)
        .saturating_sub(interval * config.burst);
    if after > config.max_wait {
        (tat, Lease::Refused { after })
    } else {
        (new_tat, Lease::Granted { after })
    }
}

/// A [`RateSource`] in this process's memory (tokio's clock): what a database row does for a
/// cluster, for one process. Share one (in an `Arc`) among limiters to share its rate.
#[derive(Debug)]
pub struct MemorySource {
    tat: Mutex<Instant>,
}

impl MemorySource {
    /// A full bucket.
    pub fn new() -> Self {
        MemorySource {
            tat: Mutex::new(Instant::now()),
        }
    }
}

impl Default for MemorySource {
    fn default() -> Self {
        MemorySource::new()
    }
}

#[async_trait]
impl RateSource for MemorySource {
    async fn lease(&self, config: &RateLimitConfig, units: u32) -> Result<Lease, LeaseError> {
        let mut tat = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        let (new_tat, lease) = gcra_take(*tat, Instant::now(), config, units);
        *tat = new_tat;
        Ok(lease)
    }
}

/// A limiter's side of a shared bucket: the units of its last lease not spent yet.
#[derive(Debug)]
pub(crate) struct Leased {
    source: std::sync::Arc<dyn RateSource>,
    block: u32,
    /// An async lock: one lease at a time, so that the tasks waiting meanwhile spend that
    /// lease's units instead of each asking the source.
    pool: tokio::sync::Mutex<Pool>,
}

#[derive(Debug)]
struct Pool {
    /// Units leased and not spent yet (fewer than a block after every `acquire`).
    units: u32,
    /// When they may be spent.
    ready_at: Instant,
    /// Until when the source is not asked again after it failed.
    down_until: Option<Instant>,
}

impl Leased {
    pub(crate) fn new(source: std::sync::Arc<dyn RateSource>, config: &RateLimitConfig) -> Self {
        Leased {
            source,
            block: lease_block(config),
            pool: tokio::sync::Mutex::new(Pool {
                units: 0,
                ready_at: Instant::now(),
                down_until: None,
            }),
        }
    }

    /// The instant `units` (at most the burst) may go, taken from the pool or from a new lease;
    /// `Err` as [`RateLimiter::acquire`](crate::RateLimiter::acquire)'s.
    pub(crate) async fn reserve(
        &self,
        config: &RateLimitConfig,
        units: u32,
    ) -> Result<Instant, Duration> {
        let mut pool = self.pool.lock().await;
        if pool.units >= units {
            pool.units -= units;
            return Ok(pool.ready_at);
        }
        let now = Instant::now();
        if let Some(until) = pool.down_until.filter(|&until| until > now) {
            return Err(until - now);
        }
        // A block, or what this send lacks if that is more (never more than the burst, since
        // `units` is at most the burst): the pool keeps fewer than a block afterwards.
        let ask = self.block.max(units - pool.units);
        // Never wait on the source longer than a send may wait for its turn.
        let asked = tokio::time::timeout(
            config.max_wait.max(LEASE_SPAN),
            self.source.lease(config, ask),
        )
        .await;
        let failure = match asked {
            Ok(Ok(Lease::Granted { after })) => {
                // Units left from the last lease go with this one, at its (later) time.
                pool.units = pool.units + ask - units;
                pool.ready_at = Instant::now() + after;
                pool.down_until = None;
                return Ok(pool.ready_at);
            }
            Ok(Ok(Lease::Refused { after })) => return Err(after),
            Ok(Err(error)) => error,
            Err(_) => LeaseError::new("no answer in time"),
        };
        // Fail closed: nothing goes until the source answers again.
        tracing::warn!(%failure, "rate limit: the shared bucket cannot be leased from");
        pool.down_until = Some(now + SOURCE_BACKOFF);
        Err(SOURCE_BACKOFF)
    }
}
