//! What the simulator is scripted to do: keys, device tokens, options and faults. Changes apply to
//! live connections at their next request.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::ApnsEnvironment;
use super::jwt::ApnsKey;
use super::log::RequestLog;
use super::reason::ApnsReason;
use crate::fault::{FaultKind, FaultRules, Trigger};

/// A fault injected into the answer to a request (see [`ApnsScript::add_fault`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApnsFault {
    /// Answer with this reason and its status instead of 200 (e.g. `TooManyRequests`,
    /// `InternalServerError`, `ServiceUnavailable`, `Shutdown`, `IdleTimeout`); a 410 reason gets
    /// the current time as `timestamp`.
    Reason(ApnsReason),
    /// Answer (normally or with another fault) after this delay.
    Latency(Duration),
    /// `RST_STREAM` with `REFUSED_STREAM` (0x7) instead of a response: not processed.
    RefusedStream,
    /// Close the TCP connection without a GOAWAY; in-flight requests get no answer.
    DropConnection,
    /// Answer this request normally, then end its connection with this GOAWAY (last-stream-id =
    /// this request's stream); later streams of the connection are refused.
    GoAway(GoAway),
}

impl FaultKind for ApnsFault {
    fn latency(&self) -> Option<Duration> {
        match self {
            ApnsFault::Latency(d) => Some(*d),
            _ => None,
        }
    }
}

/// A GOAWAY frame the simulator sends, written on the wire by the simulator itself so that it can
/// carry debug data (the `h2` server API cannot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoAway {
    /// The HTTP/2 error code (0 = `NO_ERROR`).
    pub error_code: u32,
    /// The debug data, sent as is (APNs sends JSON, sometimes plain text, sometimes nothing).
    pub debug_data: Bytes,
}

impl GoAway {
    /// `NO_ERROR` with `{"reason":"Shutdown"}`, what APNs sends when a server shuts down.
    pub fn shutdown() -> GoAway {
        GoAway::with_reason(ApnsReason::Shutdown)
    }

    /// `NO_ERROR` with `{"reason":"<reason>"}` as debug data.
    pub fn with_reason(reason: ApnsReason) -> GoAway {
        GoAway {
            error_code: 0,
            debug_data: reason.body(0),
        }
    }

    /// `NO_ERROR` with the plain-text debug data observed in 2016 (pushy issue #356).
    pub fn max_streams_plain_text() -> GoAway {
        GoAway {
            error_code: 0,
            debug_data: Bytes::from_static(b"Maximum active streams violated for this endpoint."),
        }
    }

    /// `NO_ERROR`, no debug data.
    pub fn empty() -> GoAway {
        GoAway {
            error_code: 0,
            debug_data: Bytes::new(),
        }
    }
}

/// What the simulator knows about one device token.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenEntry {
    pub topic: Option<String>,
    pub environment: Option<ApnsEnvironment>,
    /// `Unregistered` or `ExpiredToken`, with the timestamp (ms) to report.
    pub gone: Option<(ApnsReason, u64)>,
}

/// Options that checks read; copied into each snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub environment: ApnsEnvironment,
    pub topics: Vec<String>,
    pub require_provider_token: bool,
    pub max_token_age: i64,
    pub token_update_window: i64,
    pub strict_token_update_clock: bool,
    pub bad_environment_reason: ApnsReason,
    pub standard_base64: bool,
    pub strict_registry: bool,
    pub strict_background_priority: bool,
}

/// A consistent view of the script, swapped whole on every change (copy on write).
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub opts: Options,
    pub keys: HashMap<String, ApnsKey>,
    pub tokens: HashMap<String, TokenEntry>,
    pub goaway_after: Option<(u64, GoAway)>,
    pub token_rate: Option<(u32, Duration)>,
}

/// State shared by the accept loop, every connection and every [`ApnsScript`] handle.
pub(crate) struct Shared {
    version: AtomicU64,
    state: RwLock<Arc<State>>,
    pub faults: FaultRules<ApnsFault>,
    clock_offset_ms: AtomicI64,
    pub log: RequestLog,
    pub next_connection: AtomicU64,
    rate_history: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Shared {
    pub fn new(state: State, log: RequestLog) -> Shared {
        Shared {
            version: AtomicU64::new(1),
            state: RwLock::new(Arc::new(state)),
            faults: FaultRules::default(),
            clock_offset_ms: AtomicI64::new(0),
            log,
            next_connection: AtomicU64::new(1),
            rate_history: Mutex::new(HashMap::new()),
        }
    }

    /// The script version; it changes on every update, so connections reload only then.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn snapshot(&self) -> Arc<State> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut guard = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = State::clone(&guard);
        f(&mut next);
        *guard = Arc::new(next);
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// The simulator's clock, in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        real + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// §8.2 row 27: records a push to `token` and says whether it is over the scripted rate.
    pub fn over_token_rate(&self, token: &str, max: u32, per: Duration, now_ms: i64) -> bool {
        let mut history = self
            .rate_history
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let times = history.entry(token.to_ascii_lowercase()).or_default();
        let since = now_ms - per.as_millis() as i64;
        while times.front().is_some_and(|&t| t <= since) {
            times.pop_front();
        }
        times.push_back(now_ms);
        times.len() > max as usize
    }
}

/// A handle to script a running simulator (cheap to clone; every change applies at once, to live
/// connections too).
#[derive(Clone)]
pub struct ApnsScript {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ApnsScript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsScript").finish_non_exhaustive()
    }
}

impl ApnsScript {
    /// Registers `token` as belonging to `topic` in the simulator's environment: a push to it for
    /// another topic gets `400 DeviceTokenNotForTopic`.
    pub fn register_token(&self, token: &str, topic: &str) {
        self.set_token(token, |e| e.topic = Some(topic.to_owned()));
    }

    /// Registers `token` as a token of `environment`: on a simulator of the other environment it
    /// gets `400 BadDeviceToken` (a sandbox token sent to production).
    pub fn register_token_in(&self, token: &str, environment: ApnsEnvironment) {
        self.set_token(token, |e| e.environment = Some(environment));
    }

    /// Marks `token` unregistered since `timestamp_ms` (epoch ms): `410 Unregistered` with that
    /// `timestamp`.
    pub fn unregister_token(&self, token: &str, timestamp_ms: u64) {
        self.set_token(token, |e| {
            e.gone = Some((ApnsReason::Unregistered, timestamp_ms))
        });
    }

    /// Marks `token` expired since `timestamp_ms`: `410 ExpiredToken` with that `timestamp`.
    pub fn expire_token(&self, token: &str, timestamp_ms: u64) {
        self.set_token(token, |e| {
            e.gone = Some((ApnsReason::ExpiredToken, timestamp_ms))
        });
    }

    /// Forgets everything scripted about `token`.
    pub fn forget_token(&self, token: &str) {
        let key = token.to_ascii_lowercase();
        self.shared.update(|s| {
            s.tokens.remove(&key);
        });
    }

    fn set_token(&self, token: &str, f: impl FnOnce(&mut TokenEntry)) {
        let key = token.to_ascii_lowercase();
        self.shared.update(|s| f(s.tokens.entry(key).or_default()));
    }

    /// Accepts tokens signed by `key` (replacing a key with the same id).
    pub fn add_key(&self, key: ApnsKey) {
        self.shared.update(|s| {
            s.keys.insert(key.key_id.clone(), key);
        });
    }

    /// Stops accepting tokens of `key_id` (a revoked key): `403 InvalidProviderToken`.
    pub fn remove_key(&self, key_id: &str) {
        self.shared.update(|s| {
            s.keys.remove(key_id);
        });
    }

    /// Adds a fault rule: `trigger` picks the requests (every request, the next `n`, `k` in `n`,
    /// or those to one device token), `fault` says what happens to them. Latencies add up; the
    /// first other matching fault wins. Faults act after the request checks pass, in place of 200.
    pub fn add_fault(&self, trigger: Trigger, fault: ApnsFault) {
        self.shared.faults.push(trigger, fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Ends every connection with `goaway` once it has received `streams` streams (the last one is
    /// answered first); `None` switches this off.
    pub fn goaway_after(&self, streams: Option<(u64, GoAway)>) {
        self.shared.update(|s| s.goaway_after = streams);
    }

    /// §8.2 row 27: more than `max` pushes to one device token within `per` get
    /// `429 TooManyRequests`; `None` switches it off.
    pub fn limit_token_rate(&self, limit: Option<(u32, Duration)>) {
        self.shared.update(|s| s.token_rate = limit);
    }

    /// Moves the simulator's clock forward (for `ExpiredProviderToken` and the token-update window
    /// without waiting).
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .clock_offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }

    /// The simulator's clock, in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.shared.now_ms()
    }

    /// Strict registry: unknown tokens get `400 DeviceTokenNotForTopic` (as in Pushy's mock)
    /// instead of being accepted.
    pub fn set_strict_registry(&self, on: bool) {
        self.shared.update(|s| s.opts.strict_registry = on);
    }

    /// §8.2 row 18 (a test aid, not documented APNs behaviour): `apns-push-type: background` with a
    /// priority other than 5 gets `400 BadPriority`.
    pub fn set_strict_background_priority(&self, on: bool) {
        self.shared
            .update(|s| s.opts.strict_background_priority = on);
    }

    /// Which spelling answers a key of the wrong environment: `BadEnvironmentKeyInToken` (observed,
    /// the default) or `BadEnvironmentKeyIdInToken` (Apple's table).
    pub fn set_bad_environment_reason(&self, reason: ApnsReason) {
        self.shared
            .update(|s| s.opts.bad_environment_reason = reason);
    }
}
