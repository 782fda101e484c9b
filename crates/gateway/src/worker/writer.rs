//! The one writer: outcomes, dead tokens and route pauses from every dispatch are committed in
//! batches (group commit), so durability costs one transaction per batch, not per delivery.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::service::Clock;
use crate::store::{DaemonUpdate, DeadTokenRecord, OutcomeRecord, RoutePause, Store, WriteBatch};

/// The most records one transaction takes.
const MAX_BATCH: usize = 5_000;
/// Attempts to commit a batch before giving up on it (its rows' leases then expire and they
/// are sent again: at least once, never lost).
const COMMIT_ATTEMPTS: u32 = 5;

/// Something for the writer to commit.
#[derive(Debug)]
pub enum WriteCommand {
    /// Outcomes of claimed rows.
    Outcomes(Vec<OutcomeRecord>),
    /// Tokens the hygiene layer reported dead.
    Dead(Vec<DeadTokenRecord>),
    /// A route to pause.
    Pause(RoutePause),
    /// What daemon hubs learned after sends' outcomes (acks, pushes taken out unsent).
    Daemon(Vec<DaemonUpdate>),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

/// Hands commands to the writer task; never blocks (the queue is bounded by what the workers
/// have claimed).
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<WriteCommand>,
}

impl Writer {
    /// Queues `command`.
    pub fn send(&self, command: WriteCommand) {
        if self.tx.send(command).is_err() {
            tracing::error!(
                "writer stopped: a write was not queued (leases will expire and rows be re-sent)"
            );
        }
    }

    /// Waits until everything queued so far is committed (or the writer is gone).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.send(WriteCommand::Flush(tx));
        let _ = rx.await;
    }
}

/// Starts the writer; `recorded` is bumped after every commit.
pub fn spawn_writer(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    recorded: watch::Sender<u64>,
) -> (Writer, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = WriteBatch::default();
            let mut flushes = Vec::new();
            let mut size = add(&mut batch, &mut flushes, first);
            while size < MAX_BATCH {
                match rx.try_recv() {
                    Ok(command) => size += add(&mut batch, &mut flushes, command),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                commit(&*store, &*clock, &batch).await;
                recorded.send_modify(|n| *n = n.wrapping_add(1));
            }
            for flush in flushes {
                let _ = flush.send(());
            }
        }
    });
    (Writer { tx }, task)
}

fn add(
    batch: &mut WriteBatch,
    flushes: &mut Vec<oneshot::Sender<()>>,
    command: WriteCommand,
) -> usize {
    match command {
        WriteCommand::Outcomes(records) => {
            let n = records.len();
            batch.outcomes.extend(records);
            n
        }
        WriteCommand::Dead(records) => {
            let n = records.len();
            batch.dead.extend(records);
            n
        }
        WriteCommand::Pause(pause) => {
            batch.pauses.push(pause);
            1
        }
        WriteCommand::Daemon(updates) => {
            let n = updates.len();
            batch.daemon.extend(updates);
            n
        }
        WriteCommand::Flush(done) => {
            flushes.push(done);
            0
        }
    }
}

async fn commit(store: &dyn Store, clock: &dyn Clock, batch: &WriteBatch) {
    for attempt in 1..=COMMIT_ATTEMPTS {
        match store.record(batch, clock.now_ms()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(error = %e, attempt, "writer: commit failed");
                tokio::time::sleep(Duration::from_millis(200) * attempt).await;
            }
        }
    }
    tracing::error!(
        outcomes = batch.outcomes.len(),
        "writer: batch dropped after repeated failures; its rows will be claimed again"
    );
}
