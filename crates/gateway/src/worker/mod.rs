//! The delivery workers: claim due rows under a lease, send each rendered notification to its
//! devices through the app's [`Router`](pushway_core::Router) (whose providers carry the
//! delivery layers), and hand each outcome to the one writer, which commits them in batches.

mod decide;
mod sink;
mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pushway_core::{DeviceToken, Notification};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

pub use decide::{backoff_ms, decide};
pub use sink::GatewaySink;
pub use writer::{WriteCommand, Writer, spawn_writer};

use crate::app::Apps;
use crate::config::WorkerConfig;
use crate::service::Clock;
use crate::store::{Claimed, DeliveryState, OutcomeRecord, Store};

/// A worker: one claim loop; its dispatches run as tasks, at most `max_in_flight` at once.
pub struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) apps: Arc<Apps>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WorkerConfig,
    pub(crate) writer: Writer,
    pub(crate) wake: Arc<Notify>,
}

impl Worker {
    /// Runs the claim loop until the task is aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let slots = Arc::new(Semaphore::new(self.config.max_in_flight.max(1)));
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        let lease = i64::try_from(self.config.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        loop {
            // Registered before the claim, so a commit during the claim still wakes us.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = self.clock.now_ms();
            let full = match self
                .store
                .claim(
                    now,
                    now.saturating_add(lease),
                    self.config.claim_batch.max(1),
                )
                .await
            {
                Ok(rows) => {
                    let full = rows.len() as u64 >= u64::from(self.config.claim_batch.max(1));
                    self.dispatch(rows, now, &slots).await;
                    full
                }
                Err(e) => {
                    tracing::error!(error = %e, "worker: claim failed");
                    false
                }
            };
            if !full {
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }

    /// Sends the claimed rows, one dispatch per rendered notification.
    async fn dispatch(&self, rows: Vec<Claimed>, now: i64, slots: &Arc<Semaphore>) {
        let mut expired = Vec::new();
        let mut groups: BTreeMap<i64, Vec<Claimed>> = BTreeMap::new();
        for row in rows {
            if row.expires_at <= now {
                expired.push(final_record(&row, now, "expired", row.last_reason.clone()));
            } else {
                groups.entry(row.notification_id).or_default().push(row);
            }
        }
        if !expired.is_empty() {
            self.writer.send(WriteCommand::Outcomes(expired));
        }
        if groups.is_empty() {
            return;
        }
        let ids: Vec<i64> = groups.keys().copied().collect();
        let bodies = match self.store.notifications(&ids).await {
            Ok(bodies) => bodies,
            Err(e) => {
                // The leases expire and the rows are claimed again.
                tracing::error!(error = %e, "worker: loading notifications failed");
                return;
            }
        };
        let bodies: BTreeMap<i64, String> = bodies.into_iter().collect();
        for (id, rows) in groups {
            let notification = bodies
                .get(&id)
                .and_then(|body| serde_json::from_str::<Notification>(body).ok());
            let Some(notification) = notification else {
                let records = rows
                    .iter()
                    .map(|row| {
                        final_record(
                            row,
                            now,
                            "rejected",
                            Some("notification_unreadable".to_owned()),
                        )
                    })
                    .collect();
                self.writer.send(WriteCommand::Outcomes(records));
                continue;
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let apps = self.apps.clone();
            let clock = self.clock.clone();
            let config = self.config.clone();
            let writer = self.writer.clone();
            tokio::spawn(async move {
                send_group(&apps, &*clock, &config, &writer, &notification, rows).await;
                drop(slot);
            });
        }
    }
}

/// Sends one notification to its claimed rows and hands the outcomes to the writer.
async fn send_group(
    apps: &Apps,
    clock: &dyn Clock,
    config: &WorkerConfig,
    writer: &Writer,
    notification: &Notification,
    rows: Vec<Claimed>,
) {
    let Some(app) = rows.first().and_then(|row| apps.get(&row.app)) else {
        // The app left the configuration: hold its rows like a paused route's.
        let now = clock.now_ms();
        let records = rows
            .iter()
            .map(|row| OutcomeRecord {
                delivery_id: row.id,
                state: DeliveryState::Retrying,
                run_at: now
                    .saturating_add(i64::try_from(config.route_pause_ms).unwrap_or(i64::MAX)),
                outcome: "unroutable".to_owned(),
                reason: Some("unknown_app".to_owned()),
            })
            .collect();
        writer.send(WriteCommand::Outcomes(records));
        return;
    };
    let devices: Vec<DeviceToken> = rows
        .iter()
        .map(|row| DeviceToken::new(row.kind, row.credential.as_str(), row.token.as_str()))
        .collect();
    let report = app.router.dispatch(notification, &devices).await;
    let now = clock.now_ms();
    let mut records = Vec::with_capacity(rows.len());
    let mut pauses = Vec::new();
    for (row, result) in rows.iter().zip(report.results()) {
        let (record, pause) = decide(&result.outcome, row, now, config);
        if let Some(pause) = pause
            && !pauses.iter().any(|p: &crate::store::RoutePause| {
                p.kind == pause.kind && p.credential == pause.credential
            })
        {
            tracing::warn!(app = %row.app, kind = %row.kind, credential = %row.credential,
                reason = %pause.reason, "route paused: its deliveries are held");
            pauses.push(pause);
        }
        records.push(record);
    }
    for pause in pauses {
        writer.send(WriteCommand::Pause(pause));
    }
    writer.send(WriteCommand::Outcomes(records));
}

fn final_record(row: &Claimed, now: i64, outcome: &str, reason: Option<String>) -> OutcomeRecord {
    OutcomeRecord {
        delivery_id: row.id,
        state: DeliveryState::Dead,
        run_at: now,
        outcome: outcome.to_owned(),
        reason,
    }
}
