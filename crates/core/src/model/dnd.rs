//! A do-not-disturb window (tim.md §7 item 6: TIM's global option takes a daily window, start
//! time + duration ≤ 24 h, or one UTC start + duration).
//!
//! JSON: `{"daily": {"start": "22:30", "duration_secs": 28800, "time_zone": "Asia/Shanghai"}}`
//! or `{"period": {"start": "2026-12-24T18:00:00Z", "duration_secs": 7200}}`.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// The longest daily window: a day (TIM's limit).
pub const MAX_DAILY_DND_SECS: u32 = 86_400;

/// A do-not-disturb window; inside it the recipient gets no push.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub struct DoNotDisturb {
    wire: Wire,
    window: Window,
}

#[derive(Debug, Clone)]
enum Window {
    Daily {
        start: Time,
        duration: SignedDuration,
        zone: TimeZone,
    },
    Period {
        start: Timestamp,
        end: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Wire {
    Daily {
        start: String,
        duration_secs: u32,
        time_zone: String,
    },
    Period {
        start: String,
        duration_secs: u64,
    },
}

/// A do-not-disturb window that cannot be built, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDnd(String);

impl DoNotDisturb {
    /// Every day from `start` (`"HH:MM"` or `"HH:MM:SS"`, wall-clock time in `time_zone`, an
    /// IANA name such as `"Asia/Shanghai"`) for `duration_secs` (1 to 86 400) seconds. A window
    /// may run past midnight. A start time that a daylight-saving change skips counts as the
    /// first instant after the gap.
    pub fn daily(start: &str, duration_secs: u32, time_zone: &str) -> Result<Self, InvalidDnd> {
        Wire::Daily {
            start: start.to_owned(),
            duration_secs,
            time_zone: time_zone.to_owned(),
        }
        .try_into()
    }

    /// One period from `start` (RFC 3339, such as `"2026-12-24T18:00:00Z"`) for `duration_secs`
    /// seconds (at least 1).
    pub fn period(start: &str, duration_secs: u64) -> Result<Self, InvalidDnd> {
        Wire::Period {
            start: start.to_owned(),
            duration_secs,
        }
        .try_into()
    }

    /// Whether the instant `now_ms` (Unix milliseconds) lies inside the window (start
    /// included, end excluded).
    pub fn contains(&self, now_ms: i64) -> bool {
        let Ok(now) = Timestamp::from_millisecond(now_ms) else {
            return false;
        };
        match &self.window {
            Window::Period { start, end } => *start <= now && now < *end,
            Window::Daily {
                start,
                duration,
                zone,
            } => {
                // A window lasts at most a day, so only the one that began today or yesterday
                // (local dates) can hold `now`.
                let today = zone.to_datetime(now).date();
                [today.yesterday().ok(), Some(today)]
                    .into_iter()
                    .flatten()
                    .filter_map(|day| start_on(day, *start, zone))
                    .any(|from| from <= now && from.checked_add(*duration).is_ok_and(|to| now < to))
            }
        }
    }
}

/// The instant the window starts on local `day`.
fn start_on(day: Date, start: Time, zone: &TimeZone) -> Option<Timestamp> {
    let local = day.to_datetime(start);
    // `compatible`: in a gap, the time after it; in a fold, the earlier one (RFC 5545's rule).
    zone.to_ambiguous_timestamp(local).compatible().ok()
}

impl PartialEq for DoNotDisturb {
    fn eq(&self, other: &Self) -> bool {
        self.wire == other.wire
    }
}

impl Eq for DoNotDisturb {}

impl From<DoNotDisturb> for Wire {
    fn from(dnd: DoNotDisturb) -> Self {
        dnd.wire
    }
}

impl TryFrom<Wire> for DoNotDisturb {
    type Error = InvalidDnd;

    fn try_from(wire: Wire) -> Result<Self, InvalidDnd> {
        let window = match &wire {
            Wire::Daily {
                start,
                duration_secs,
                time_zone,
            } => {
                if !(1..=MAX_DAILY_DND_SECS).contains(duration_secs) {
                    return Err(InvalidDnd(format!(
                        "duration_secs must be 1 to {MAX_DAILY_DND_SECS}, got {duration_secs}"
                    )));
                }
                let zone = jiff::tz::db().get(time_zone).map_err(|_| {
                    InvalidDnd(format!("time_zone: unknown IANA time zone {time_zone:?}"))
                })?;
                Window::Daily {
                    start: time_of_day(start)?,
                    duration: SignedDuration::from_secs(i64::from(*duration_secs)),
                    zone,
                }
            }
            Wire::Period {
                start,
                duration_secs,
            } => {
                let from: Timestamp = start.parse().map_err(|_| {
                    InvalidDnd(format!(
                        "start: expected an RFC 3339 instant such as \"2026-12-24T18:00:00Z\", got {start:?}"
                    ))
                })?;
                let end = i64::try_from(*duration_secs)
                    .ok()
                    .filter(|d| *d >= 1)
                    .and_then(|d| from.checked_add(SignedDuration::from_secs(d)).ok())
                    .ok_or_else(|| {
                        InvalidDnd(format!(
                            "duration_secs must be at least 1 and end within the calendar, got {duration_secs}"
                        ))
                    })?;
                Window::Period { start: from, end }
            }
        };
        Ok(DoNotDisturb { wire, window })
    }
}

/// `"HH:MM"` or `"HH:MM:SS"`, 24-hour clock.
fn time_of_day(text: &str) -> Result<Time, InvalidDnd> {
    let bad = || {
        InvalidDnd(format!(
            "start: expected \"HH:MM\" or \"HH:MM:SS\", got {text:?}"
        ))
    };
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let number = |i: usize| parts.get(i).map_or(Ok(0), |p| p.parse::<i8>());
    let (Ok(h), Ok(m), Ok(s)) = (number(0), number(1), number(2)) else {
        return Err(bad());
    };
    Time::new(h, m, s, 0).map_err(|_| bad())
}
