//! The delivery workers: claim due rows under a lease, send each rendered notification to its
//! devices through the app's [`Router`](pushway_core::Router) (whose providers carry the
//! delivery layers), and hand each outcome to the one writer, which commits them in batches.
//!
//! Stopping: the claim loop ends, dispatches in progress get until the grace period ends, the
//! writer commits what it was given, and the leases of rows still unanswered are released so
//! they are due again at once (not only when their lease would have expired).

mod decide;
mod handoff;
mod send;
mod sink;
mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pushway_core::Notification;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

pub use decide::{backoff_ms, decide};
pub use handoff::Handoff;
pub(crate) use handoff::ids as handoff_ids;
pub use sink::GatewaySink;
pub use writer::{WriteCommand, Writer, spawn_writer};

use self::send::{Leased, final_record, send_group};
use crate::app::LiveApps;
use crate::config::WorkerConfig;
use crate::metrics::Metrics;
use crate::service::Clock;
use crate::store::{Claimed, Store};

/// How often finished messages past the retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The most messages one prune deletes (a short transaction; the next prune takes more).
const PRUNE_BATCH: u32 = 1000;

/// A worker: one claim loop; its dispatches run as tasks, at most `max_in_flight` at once.
pub struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) apps: Arc<LiveApps>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WorkerConfig,
    pub(crate) writer: Writer,
    pub(crate) metrics: Metrics,
    pub(crate) wake: Arc<Notify>,
    /// Rows leased to this worker by the accepts that wrote them.
    pub(crate) handoff: Arc<Handoff>,
    /// `Some(grace)` asks the worker to stop within `grace`.
    pub(crate) stop: watch::Receiver<Option<Duration>>,
}

/// The claim loop's dispatch tasks and what they hold.
struct InFlight {
    slots: Arc<Semaphore>,
    tasks: JoinSet<()>,
    leased: Arc<Leased>,
}

impl Worker {
    /// Runs the claim loop until asked to stop (or aborted).
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        let mut in_flight = InFlight {
            slots: Arc::new(Semaphore::new(self.config.max_in_flight.max(1))),
            tasks: JoinSet::new(),
            leased: Arc::new(Leased::default()),
        };
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        let lease = i64::try_from(self.config.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let batch = self.config.claim_batch.max(1);
        let max_rows = self.config.max_rows_in_flight.max(1);
        let mut next_prune = tokio::time::Instant::now();
        let most = usize::try_from(batch)
            .unwrap_or(usize::MAX)
            .saturating_mul(self.config.max_in_flight.max(1));
        self.handoff.open(lease, most, in_flight.leased.clone());
        // Whether to claim this round: not when only the hand-off woke us (an accept whose
        // rows were all handed over leaves nothing due to look for).
        let mut claim = true;
        while self.stop.borrow().is_none() {
            while in_flight.tasks.try_join_next().is_some() {}
            if tokio::time::Instant::now() >= next_prune {
                self.prune().await;
                next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
            }
            // Registered before the hand-off is read and the claim made, so rows committed
            // meanwhile still wake us (handed rows leave a permit in `ready`).
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            while let Some(handed) = self.handoff.take() {
                // Counted as the dispatches' from now on, so the hand-off's room stays bounded
                // while they wait for slots.
                in_flight.leased.add(&handed.rows);
                let now = self.clock.now_ms();
                self.dispatch(handed.rows, handed.notifications, now, &mut in_flight)
                    .await;
            }
            // Claimed rows in memory stay within `max_rows_in_flight`: with no room, the next
            // claim waits for a dispatch to end.
            let room = max_rows.saturating_sub(in_flight.leased.len());
            let limit = batch.min(u32::try_from(room).unwrap_or(u32::MAX));
            let full =
                claim && limit > 0 && self.claim_and_dispatch(lease, limit, &mut in_flight).await;
            let waiting = limit == 0 && !in_flight.tasks.is_empty();
            if !full {
                tokio::select! {
                    biased;
                    Some(_) = in_flight.tasks.join_next(), if waiting => claim = true,
                    () = &mut woken, if !waiting => claim = true,
                    _ = self.stop.changed() => {}
                    () = self.handoff.ready().notified() => claim = false,
                    () = tokio::time::sleep(poll) => claim = true,
                }
            }
        }
        self.finish(in_flight).await;
    }

    /// Claims due rows and dispatches them; whether the claim was full (more may be due).
    async fn claim_and_dispatch(&self, lease: i64, batch: u32, in_flight: &mut InFlight) -> bool {
        let now = self.clock.now_ms();
        match self
            .store
            .claim(now, now.saturating_add(lease), batch)
            .await
        {
            Ok(rows) => {
                let full = rows.len() as u64 >= u64::from(batch);
                self.dispatch(rows, Vec::new(), now, in_flight).await;
                full
            }
            Err(e) => {
                tracing::error!(error = %e, "worker: claim failed");
                false
            }
        }
    }

    /// Deletes finished messages older than the retention, a bounded number per call.
    async fn prune(&self) {
        let retention =
            i64::try_from(self.config.retention_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let before = self.clock.now_ms().saturating_sub(retention);
        match self.store.prune(before, PRUNE_BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "pruned finished messages past the retention"),
            Err(e) => tracing::error!(error = %e, "worker: pruning failed"),
        }
    }

    /// Lets dispatches in progress finish within the grace period, then releases the leases of
    /// the rows still unanswered.
    async fn finish(&self, mut in_flight: InFlight) {
        // Accepts from now on leave their rows due; rows handed but not sent are released.
        let handed = self.handoff.close();
        let grace = self.stop.borrow().unwrap_or_default();
        let drained = async { while in_flight.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drained).await.is_err() {
            in_flight.tasks.abort_all();
            while in_flight.tasks.join_next().await.is_some() {}
        }
        self.writer.flush().await;
        let mut unanswered = in_flight.leased.take();
        unanswered.extend(handed);
        if !unanswered.is_empty() {
            match self.store.release(&unanswered, self.clock.now_ms()).await {
                Ok(n) => tracing::info!(released = n, "worker: leases released at shutdown"),
                Err(e) => {
                    tracing::error!(error = %e, "worker: releasing leases failed; they expire")
                }
            }
        }
    }

    /// Sends the claimed rows, one dispatch per rendered notification; `known`: notifications
    /// already at hand (`(id, JSON)`), the others are read from the store.
    async fn dispatch(
        &self,
        rows: Vec<Claimed>,
        known: Vec<(i64, String)>,
        now: i64,
        in_flight: &mut InFlight,
    ) {
        let mut expired = Vec::new();
        let mut groups: BTreeMap<i64, Vec<Claimed>> = BTreeMap::new();
        for row in rows {
            if row.expires_at <= now {
                in_flight.leased.remove(std::slice::from_ref(&row));
                let record = final_record(&row, now, "expired", row.last_reason.clone());
                self.metrics.unsent(&row, &record, now);
                expired.push(record);
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
        let mut bodies: BTreeMap<i64, String> = known.into_iter().collect();
        let missing: Vec<i64> = groups
            .keys()
            .filter(|id| !bodies.contains_key(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            match self.store.notifications(&missing).await {
                Ok(found) => bodies.extend(found),
                Err(e) => {
                    // Their leases expire and the rows are claimed again.
                    tracing::error!(error = %e, "worker: loading notifications failed");
                    for rows in groups.values() {
                        in_flight.leased.remove(rows);
                    }
                    return;
                }
            }
        }
        for (id, rows) in groups {
            let notification = bodies
                .get(&id)
                .and_then(|body| serde_json::from_str::<Notification>(body).ok());
            let Some(notification) = notification else {
                let reason = Some("notification_unreadable".to_owned());
                let records = rows
                    .iter()
                    .map(|row| {
                        let record = final_record(row, now, "rejected", reason.clone());
                        self.metrics.unsent(row, &record, now);
                        record
                    })
                    .collect();
                self.writer.send(WriteCommand::Outcomes(records));
                in_flight.leased.remove(&rows);
                continue;
            };
            let Ok(slot) = in_flight.slots.clone().acquire_owned().await else {
                return;
            };
            in_flight.leased.add(&rows);
            let leased = in_flight.leased.clone();
            // This claim's snapshot: a credential swapped meanwhile serves the next claim.
            let apps = self.apps.load();
            let clock = self.clock.clone();
            let config = self.config.clone();
            let writer = self.writer.clone();
            let metrics = self.metrics.clone();
            in_flight.tasks.spawn(async move {
                send_group(
                    &apps,
                    &leased,
                    &*clock,
                    &config,
                    &writer,
                    &metrics,
                    &notification,
                    rows,
                )
                .await;
                drop(slot);
            });
        }
    }
}
