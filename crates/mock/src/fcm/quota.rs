//! §8 row S12: the per-project message bucket and the per-device rates (protocols/fcm.md §6).
//! Both are off unless configured, so benchmarks that send to one token are not throttled.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Quotas the simulator enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quotas {
    /// Messages per project per minute (FCM's default is 600,000). The window starts with the
    /// first message, not on the clock's minute (§6).
    pub project_per_minute: Option<u64>,
    /// Messages per device token per minute (240 for Android, §6).
    pub device_per_minute: Option<u32>,
    /// Messages per device token per hour (5,000 for Android, §6).
    pub device_per_hour: Option<u32>,
    /// Whether a 429 carries `retry-after` (seconds until the window frees a message).
    pub retry_after: bool,
}

impl Quotas {
    /// FCM's documented Android defaults: 600,000 per project per minute, 240 per device per
    /// minute and 5,000 per hour, with `retry-after`.
    pub fn documented() -> Quotas {
        Quotas {
            project_per_minute: Some(600_000),
            device_per_minute: Some(240),
            device_per_hour: Some(5_000),
            retry_after: true,
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
struct Counters {
    /// Start of the project window and the messages counted in it.
    project: Option<(Instant, u64)>,
    /// Send times per device token within the last hour.
    devices: HashMap<String, VecDeque<Instant>>,
}

/// The counters behind [`Quotas`].
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    /// Lets the hot path skip the lock when no quota is set (the benchmark case).
    enabled: AtomicBool,
    quotas: Mutex<(Quotas, Counters)>,
}

impl Limiter {
    /// Sets the quotas and starts every window afresh.
    pub fn set(&self, quotas: Quotas) {
        let on = quotas.project_per_minute.is_some()
            || quotas.device_per_minute.is_some()
            || quotas.device_per_hour.is_some();
        *self.quotas.lock().unwrap_or_else(PoisonError::into_inner) = (quotas, Counters::default());
        self.enabled.store(on, Ordering::Release);
    }

    /// Counts one message to `token` (if any); `Err(retry_after)` when over a quota, with the
    /// `retry-after` seconds to send (`None`: no header).
    pub fn admit(&self, token: Option<&str>) -> Result<(), Option<u64>> {
        if !self.enabled.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut guard = self.quotas.lock().unwrap_or_else(PoisonError::into_inner);
        let (quotas, counters) = &mut *guard;
        let (quotas, now) = (*quotas, Instant::now());
        let header = |wait: Duration| quotas.retry_after.then(|| wait.as_secs().max(1));
        if let Some(limit) = quotas.project_per_minute {
            let (start, count) = counters.project.get_or_insert((now, 0));
            if now.duration_since(*start) >= MINUTE {
                (*start, *count) = (now, 0);
            }
            if *count >= limit {
                return Err(header(MINUTE.saturating_sub(now.duration_since(*start))));
            }
            *count += 1;
        }
        let (Some(token), true) = (
            token,
            quotas.device_per_minute.is_some() || quotas.device_per_hour.is_some(),
        ) else {
            return Ok(());
        };
        let times = counters.devices.entry(token.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HOUR)
        {
            times.pop_front();
        }
        for (limit, window) in [
            (quotas.device_per_minute, MINUTE),
            (quotas.device_per_hour, HOUR),
        ] {
            let Some(limit) = limit else { continue };
            let recent: Vec<&Instant> = times
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .collect();
            if recent.len() >= limit as usize {
                // The oldest send in the window leaves it first.
                let wait = recent
                    .first()
                    .map_or(window, |t| window.saturating_sub(now.duration_since(**t)));
                return Err(header(wait));
            }
        }
        times.push_back(now);
        Ok(())
    }
}
