//! The webhook poster: every poll, each app with due events gets one task that claims up to
//! [`MAX_BATCH`] of them under a lease, posts them as one signed request, and records the
//! answer (2xx: the events are done; anything else: each is due again after its backoff, or
//! dead after `max_attempts` posts). One post in flight per app keeps an app's batches in
//! order; [`MAX_POSTS_IN_FLIGHT`] bounds them all.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::{Format, Hook, Hooks, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header, tim};
use crate::service::Clock;
use crate::store::{ClaimedEvent, EventRetry, WebhookStore};

/// The most events one request carries.
pub const MAX_BATCH: u32 = 100;
/// Posts in flight at once, over every app.
pub const MAX_POSTS_IN_FLIGHT: usize = 16;
/// How much longer than its post's deadline a claim is leased: past it, a post whose outcome
/// was never recorded (a crash) is due again.
const LEASE_MARGIN_MS: i64 = 30_000;
/// How often dead events past the retention are deleted, and how many at most each time.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const PRUNE_BATCH: u32 = 1000;

/// The webhook worker: its own task, its own HTTP client.
pub struct WebhookWorker {
    /// Where events are kept.
    pub store: Arc<dyn WebhookStore>,
    /// Every app's webhook.
    pub hooks: Arc<Hooks>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// How often to look for due events.
    pub poll: Duration,
    /// How long dead events are kept, in milliseconds.
    pub retention_ms: i64,
    /// `Some(grace)` asks the worker to stop within `grace`.
    pub stop: watch::Receiver<Option<Duration>>,
}

impl WebhookWorker {
    /// Runs until asked to stop (or aborted).
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        // No redirects: a receiver that moved must be reconfigured, not followed with signed
        // bodies to wherever it points.
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: no HTTP client; events stay pending");
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(MAX_POSTS_IN_FLIGHT));
        let mut tasks: JoinSet<String> = JoinSet::new();
        let mut busy: HashSet<String> = HashSet::new();
        let mut next_prune = tokio::time::Instant::now();
        while self.stop.borrow().is_none() {
            if tokio::time::Instant::now() >= next_prune {
                self.prune().await;
                next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
            }
            while let Some(done) = tasks.try_join_next() {
                if let Ok(app) = done {
                    busy.remove(&app);
                }
            }
            match self.store.apps_with_due_events(self.clock.now_ms()).await {
                Ok(apps) => {
                    for app in apps {
                        // Events of an app whose webhook was removed stay pending.
                        let Some(hook) = self.hooks.get(&app) else {
                            continue;
                        };
                        if busy.contains(&app) {
                            continue;
                        }
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        busy.insert(app.clone());
                        let post = Post {
                            store: self.store.clone(),
                            clock: self.clock.clone(),
                            client: client.clone(),
                            hook: hook.clone(),
                            app,
                        };
                        tasks.spawn(async move {
                            post.drain().await;
                            drop(slot);
                            post.app
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "webhooks: looking for due events failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                _ = self.stop.changed() => {}
            }
        }
        // Posts in progress get the grace period; the leases of those cut off expire and
        // their events are posted again (at least once).
        let grace = self.stop.borrow().unwrap_or_default();
        let drained = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tasks.abort_all();
        }
    }
}

impl WebhookWorker {
    async fn prune(&self) {
        let before = self.clock.now_ms().saturating_sub(self.retention_ms);
        match self.store.prune_events(before, PRUNE_BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                events = n,
                "webhooks: pruned dead events past the retention"
            ),
            Err(e) => tracing::error!(error = %e, "webhooks: pruning failed"),
        }
    }
}

/// One app's posting, until it has no due events left or a post fails.
struct Post {
    store: Arc<dyn WebhookStore>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    hook: Hook,
    app: String,
}

impl Post {
    async fn drain(&self) {
        let timeout = i64::try_from(self.hook.timeout.as_millis()).unwrap_or(i64::MAX);
        loop {
            let now = self.clock.now_ms();
            let lease_until = now.saturating_add(timeout).saturating_add(LEASE_MARGIN_MS);
            let events = match self
                .store
                .claim_events(&self.app, now, lease_until, MAX_BATCH)
                .await
            {
                Ok(events) if events.is_empty() => return,
                Ok(events) => events,
                Err(e) => {
                    tracing::error!(app = %self.app, error = %e, "webhooks: claim failed");
                    return;
                }
            };
            let full = events.len() >= MAX_BATCH as usize;
            if !self.post(&events).await || !full {
                return;
            }
        }
    }

    /// Posts `events` and records the answer; whether it was a 2xx.
    async fn post(&self, events: &[ClaimedEvent]) -> bool {
        let now = self.clock.now_ms();
        let timestamp = now.div_euclid(1000);
        // The shape is applied here, from the same stored rows: a format change needs no
        // migration and applies to events already waiting.
        let (url, body) = match &self.hook.format {
            Format::Tim(shape) => {
                let ids = tim::message_ids(events);
                let messages = match self.store.event_messages(&self.app, &ids).await {
                    Ok(messages) => messages,
                    Err(e) => {
                        // Not the receiver's failure: nothing is posted or recorded, and the
                        // events are due again when their lease ends (the claim counted it).
                        tracing::error!(app = %self.app, error = %e, "webhooks: reading the events' messages failed");
                        return false;
                    }
                };
                (
                    shape.url(&self.hook.url, timestamp),
                    tim::body(events, &messages),
                )
            }
            Format::Pushway => (self.hook.url.clone(), batch_body(events)),
        };
        let secrets: Vec<&[u8]> = self
            .hook
            .secrets
            .iter()
            .map(|s| s.expose().as_bytes())
            .collect();
        let signature = signature_header(&secrets, timestamp, body.as_bytes());
        let answer = self
            .client
            .post(url)
            .timeout(self.hook.timeout)
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        // The receiver's answer body is not read: only its status counts.
        let error = match answer {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("status {}", response.status().as_u16())),
            Err(e) if e.is_timeout() => Some("timeout".to_owned()),
            Err(e) if e.is_connect() => Some("connect".to_owned()),
            // Without the URL: it may carry credentials.
            Err(e) => Some(format!("request: {}", e.without_url())),
        };
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        let Some(error) = error else {
            if let Err(e) = self.store.events_sent(&ids).await {
                // Their leases expire and they are posted again: at least once.
                tracing::error!(app = %self.app, error = %e, "webhooks: recording a post failed");
            }
            return true;
        };
        let now = self.clock.now_ms();
        let retries: Vec<EventRetry> = events
            .iter()
            .map(|e| EventRetry {
                id: e.id,
                run_at: (e.attempts < self.hook.max_attempts)
                    .then(|| now.saturating_add(self.hook.backoff_ms(e.attempts))),
            })
            .collect();
        let dead = retries.iter().filter(|r| r.run_at.is_none()).count();
        tracing::warn!(
            app = %self.app,
            receiver = %self.hook.origin(),
            events = events.len(),
            dead,
            %error,
            "webhooks: post failed"
        );
        if let Err(e) = self.store.events_failed(&retries, &error, now).await {
            tracing::error!(app = %self.app, error = %e, "webhooks: recording a post failed");
        }
        false
    }
}

/// `{"events":[...]}` from the events' stored JSON, byte for byte.
fn batch_body(events: &[ClaimedEvent]) -> String {
    let size = events.iter().map(|e| e.body.len() + 1).sum::<usize>() + 13;
    let mut body = String::with_capacity(size);
    body.push_str("{\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&e.body);
    }
    body.push_str("]}");
    body
}
