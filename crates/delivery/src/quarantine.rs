//! The hygiene layer's memory across requests: each credential's recent verdicts (the
//! mass-invalid rate rule), the deletions it holds, and when it last raised each kind of alarm.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pushway_core::ChannelKey;
use tokio::time::Instant;

use crate::HygieneConfig;
use crate::sink::{AlarmKind, DeadToken};

/// The most credentials one [`Quarantine`] tracks (verdict windows, held deletions, alarm
/// slots each). A layer normally serves one credential; this only bounds memory.
pub const MAX_TRACKED_CREDENTIALS: usize = 1024;

/// The deletions the hygiene layer holds, per credential, and the state that decides when to
/// hold them: each credential's recent verdicts and its alarm times. Clones share it.
///
/// [`Hygiene`](crate::Hygiene) fills it (see its rule 2); the operator empties it. Held
/// deletions are **never released to the [`TokenSink`](crate::TokenSink) automatically**,
/// not even when the credential's traffic is healthy again: they were verdicts given while the
/// vendor was refusing (nearly) everything, which is no evidence that those tokens are dead.
/// Once the configuration is fixed, a token that really is dead is reported again by the next
/// send to it, reaches the sink then, and leaves the quarantine (so it is deleted once). An
/// operator who has confirmed that the configuration was right all along takes the held
/// deletions with [`take_held`](Quarantine::take_held) and deletes them.
///
/// Bounded: at most [`HygieneConfig::quarantine_capacity`] held tokens per credential (further
/// verdicts are forgotten, the tokens kept), at most
/// [`HygieneConfig::mass_invalid_min_verdicts`] remembered requests per credential, and at most
/// [`MAX_TRACKED_CREDENTIALS`] credentials (idle ones are forgotten first; beyond that a new
/// credential is judged by the single-request rule only).
#[derive(Debug, Clone, Default)]
pub struct Quarantine {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    credentials: HashMap<ChannelKey, Credential>,
    alarms: HashMap<(ChannelKey, AlarmKind), AlarmSlot>,
}

#[derive(Debug)]
struct Credential {
    /// The requests that make up the judged verdicts, oldest first.
    recent: VecDeque<Chunk>,
    /// Sums over `recent`.
    valid: u64,
    invalid: u64,
    /// Deletions are held while this is set (latched: see [`Quarantine::record`]).
    suspect: bool,
    /// Held deletions by token.
    held: BTreeMap<String, DeadToken>,
    /// Held deletions forgotten because `held` was full.
    overflow: u64,
    last_seen: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Chunk {
    at: Instant,
    valid: u64,
    invalid: u64,
}

#[derive(Debug, Clone, Copy)]
struct AlarmSlot {
    last: Instant,
    suppressed: u64,
}

/// What [`Quarantine::record`] concluded about a credential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Judgement {
    /// Hold this credential's deletions.
    pub suspect: bool,
    /// Invalid verdicts among `total` (the judged recent verdicts).
    pub invalid: u64,
    /// The judged recent verdicts.
    pub total: u64,
}

impl Quarantine {
    /// Empty.
    pub fn new() -> Self {
        Quarantine::default()
    }

    /// Whether deletions for `key` are being held now.
    pub fn is_suspect(&self, key: &ChannelKey) -> bool {
        self.lock().credentials.get(key).is_some_and(|c| c.suspect)
    }

    /// The held deletions of `key`, sorted by token (a copy; they stay held).
    pub fn held(&self, key: &ChannelKey) -> Vec<DeadToken> {
        self.lock()
            .credentials
            .get(key)
            .map(|c| c.held.values().cloned().collect())
            .unwrap_or_default()
    }

    /// How many deletions of `key` are held.
    pub fn held_count(&self, key: &ChannelKey) -> usize {
        self.lock().credentials.get(key).map_or(0, |c| c.held.len())
    }

    /// How many held deletions of `key` were forgotten because the quarantine was full.
    pub fn overflow(&self, key: &ChannelKey) -> u64 {
        self.lock().credentials.get(key).map_or(0, |c| c.overflow)
    }

    /// Removes and returns the held deletions of `key`, sorted by token: for an operator who has
    /// confirmed they are real, to delete them (each is returned once).
    pub fn take_held(&self, key: &ChannelKey) -> Vec<DeadToken> {
        self.lock()
            .credentials
            .get_mut(key)
            .map(|c| std::mem::take(&mut c.held).into_values().collect())
            .unwrap_or_default()
    }

    /// Forgets `key`'s recent verdicts and clears its suspicion (for an operator who fixed the
    /// configuration of a credential with too little traffic to show it); held deletions stay.
    pub fn reset(&self, key: &ChannelKey) {
        if let Some(c) = self.lock().credentials.get_mut(key) {
            c.recent.clear();
            c.valid = 0;
            c.invalid = 0;
            c.suspect = false;
        }
    }

    /// Adds one request's verdicts for `key` and judges the credential.
    ///
    /// The judged verdicts are those of the most recent requests that together hold at least
    /// `mass_invalid_min_verdicts` verdicts, all within `mass_invalid_window`. With that many,
    /// the credential becomes suspect when at least `mass_invalid_ratio` of them are invalid
    /// and stops being suspect when fewer are; with fewer verdicts, it stays as it was.
    pub(crate) fn record(
        &self,
        key: &ChannelKey,
        valid: u64,
        invalid: u64,
        config: &HygieneConfig,
        now: Instant,
    ) -> Judgement {
        let mut state = self.lock();
        let Some(c) = state.credential(key, config.mass_invalid_window, now) else {
            tracing::warn!(channel = %key, "hygiene: too many credentials tracked; rate rule off");
            return Judgement {
                suspect: false,
                invalid: 0,
                total: 0,
            };
        };
        c.last_seen = now;
        if valid + invalid > 0 {
            c.recent.push_back(Chunk {
                at: now,
                valid,
                invalid,
            });
            c.valid += valid;
            c.invalid += invalid;
        }
        let min = config.mass_invalid_min_verdicts as u64;
        while let Some(front) = c.recent.front().copied() {
            let stale = now.duration_since(front.at) >= config.mass_invalid_window;
            let spare = c.valid + c.invalid - (front.valid + front.invalid) >= min;
            if !(stale || spare) {
                break;
            }
            c.recent.pop_front();
            c.valid -= front.valid;
            c.invalid -= front.invalid;
        }
        let total = c.valid + c.invalid;
        if total >= min {
            c.suspect = c.invalid as f64 >= config.mass_invalid_ratio * total as f64;
        }
        Judgement {
            suspect: c.suspect,
            invalid: c.invalid,
            total,
        }
    }

    /// Holds `dead` for `key`, at most `capacity` tokens in all.
    pub(crate) fn hold(&self, key: &ChannelKey, dead: Vec<DeadToken>, config: &HygieneConfig) {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(c) = state.credential(key, config.mass_invalid_window, now) else {
            return;
        };
        for token in dead {
            if c.held.len() >= config.quarantine_capacity
                && !c.held.contains_key(&token.device.token)
            {
                c.overflow += 1;
                continue;
            }
            c.held.insert(token.device.token.clone(), token);
        }
    }

    /// `dead` went to the sink: they are no longer held.
    pub(crate) fn forwarded(&self, dead: &[DeadToken]) {
        let mut state = self.lock();
        for (key, c) in state.credentials.iter_mut() {
            if c.held.is_empty() {
                continue;
            }
            for token in dead {
                if token.device.kind == key.kind && token.device.credential == key.credential {
                    c.held.remove(&token.device.token);
                }
            }
        }
    }

    /// Whether an alarm of `kind` for `key` is due now (none in the last `interval`): `Some`
    /// with the number of alarms suppressed since the last one, or `None` (counted as
    /// suppressed).
    pub(crate) fn alarm_due(
        &self,
        key: &ChannelKey,
        kind: AlarmKind,
        interval: Duration,
        now: Instant,
    ) -> Option<u64> {
        let mut state = self.lock();
        if state.alarms.len() >= MAX_TRACKED_CREDENTIALS {
            state
                .alarms
                .retain(|_, slot| now.duration_since(slot.last) < interval);
            if state.alarms.len() >= MAX_TRACKED_CREDENTIALS {
                state.alarms.clear();
            }
        }
        match state.alarms.get_mut(&(key.clone(), kind)) {
            Some(slot) if now.duration_since(slot.last) < interval => {
                slot.suppressed += 1;
                None
            }
            Some(slot) => {
                let suppressed = slot.suppressed;
                *slot = AlarmSlot {
                    last: now,
                    suppressed: 0,
                };
                Some(suppressed)
            }
            None => {
                state.alarms.insert(
                    (key.clone(), kind),
                    AlarmSlot {
                        last: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// `key`'s entry, created if there is room (idle, unsuspected, empty entries make room).
    fn credential(
        &mut self,
        key: &ChannelKey,
        window: Duration,
        now: Instant,
    ) -> Option<&mut Credential> {
        if !self.credentials.contains_key(key) {
            if self.credentials.len() >= MAX_TRACKED_CREDENTIALS {
                self.credentials.retain(|_, c| {
                    c.suspect || !c.held.is_empty() || now.duration_since(c.last_seen) < window
                });
            }
            if self.credentials.len() >= MAX_TRACKED_CREDENTIALS {
                return None;
            }
            self.credentials.insert(
                key.clone(),
                Credential {
                    recent: VecDeque::new(),
                    valid: 0,
                    invalid: 0,
                    suspect: false,
                    held: BTreeMap::new(),
                    overflow: 0,
                    last_seen: now,
                },
            );
        }
        self.credentials.get_mut(key)
    }
}
