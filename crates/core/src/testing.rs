//! Test doubles for embedders: a [`StubProvider`] with scripted outcomes that records every call
//! (lettre's `StubTransport` is the model).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::model::{AppData, ConversationType, IosSound, NotifyMode};
use crate::{DeviceToken, Notification, Outcome, PushProvider};

/// One `send` a [`StubProvider`] received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The notification.
    pub notification: Notification,
    /// The batch, in order.
    pub tokens: Vec<DeviceToken>,
}

/// A provider that answers from a script and records every call.
///
/// Each token's outcome is, in order of precedence: the next outcome scripted for that token with
/// [`script`](StubProvider::script) (consumed), the outcome set for it with
/// [`outcome_for`](StubProvider::outcome_for), the next outcome of the shared sequence set with
/// [`sequence`](StubProvider::sequence) (consumed), else the default (`Delivered`).
#[derive(Debug)]
pub struct StubProvider {
    name: String,
    max_batch_size: usize,
    delay: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    default: Outcome,
    fixed: HashMap<String, Outcome>,
    scripted: HashMap<String, VecDeque<Outcome>>,
    sequence: VecDeque<Outcome>,
    calls: Vec<Call>,
}

impl StubProvider {
    /// A stub named `name` that delivers everything, one token per batch.
    pub fn new(name: impl Into<String>) -> Self {
        StubProvider {
            name: name.into(),
            max_batch_size: 1,
            delay: None,
            state: Mutex::new(State {
                default: Outcome::DELIVERED,
                fixed: HashMap::new(),
                scripted: HashMap::new(),
                sequence: VecDeque::new(),
                calls: Vec::new(),
            }),
        }
    }

    /// The batch size it declares.
    #[must_use]
    pub fn max_batch_size(mut self, size: usize) -> Self {
        self.max_batch_size = size;
        self
    }

    /// Waits this long (on tokio's clock) before answering each call.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The outcome for tokens with nothing else scripted.
    #[must_use]
    pub fn default_outcome(self, outcome: Outcome) -> Self {
        self.lock().default = outcome;
        self
    }

    /// Always answers `outcome` for `token`.
    pub fn outcome_for(&self, token: impl Into<String>, outcome: Outcome) -> &Self {
        self.lock().fixed.insert(token.into(), outcome);
        self
    }

    /// Answers `outcomes` for `token`, one per attempt, then falls back.
    pub fn script(
        &self,
        token: impl Into<String>,
        outcomes: impl IntoIterator<Item = Outcome>,
    ) -> &Self {
        self.lock()
            .scripted
            .entry(token.into())
            .or_default()
            .extend(outcomes);
        self
    }

    /// Answers the next tokens (whatever they are) with `outcomes`, one each, then falls back.
    pub fn sequence(&self, outcomes: impl IntoIterator<Item = Outcome>) -> &Self {
        self.lock().sequence.extend(outcomes);
        self
    }

    /// Every call received so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// How many calls were received.
    pub fn call_count(&self) -> usize {
        self.lock().calls.len()
    }

    /// Every token sent so far, in order, across calls.
    pub fn tokens_sent(&self) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .flat_map(|c| c.tokens.iter().map(|t| t.token.clone()))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PushProvider for StubProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let mut state = self.lock();
        state.calls.push(Call {
            notification: notification.clone(),
            tokens: tokens.to_vec(),
        });
        tokens
            .iter()
            .map(|token| {
                if let Some(outcome) = state
                    .scripted
                    .get_mut(&token.token)
                    .and_then(VecDeque::pop_front)
                {
                    return outcome;
                }
                if let Some(outcome) = state.fixed.get(&token.token) {
                    return outcome.clone();
                }
                state
                    .sequence
                    .pop_front()
                    .unwrap_or_else(|| state.default.clone())
            })
            .collect()
    }
}

/// A small rendered C2C notification for examples and tests.
pub fn sample_notification() -> Notification {
    Notification {
        message_id: "msg-1".to_owned(),
        ttl: None,
        title: "alice".to_owned(),
        android_title: None,
        ios_alert: None,
        body: "hello".to_owned(),
        android_sound: None,
        ios_sound: IosSound::Default,
        warnings: Vec::new(),
        badge: Some(1),
        notify_mode: NotifyMode::Normal,
        app_data: AppData {
            conversation_id: "alice".to_owned(),
            conversation_type: ConversationType::C2c,
            sender_id: "alice".to_owned(),
            sender_nickname: None,
            group_name: None,
            ext: None,
        },
    }
}
