//! One dispatch: a rendered notification to its claimed rows, outcomes to the writer.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use pushway_core::{DeviceToken, Notification};

use super::{WriteCommand, Writer, decide};
use crate::app::Apps;
use crate::config::WorkerConfig;
use crate::metrics::Metrics;
use crate::service::Clock;
use crate::store::{Claimed, DeliveryState, OutcomeRecord, RoutePause};

/// The rows this worker holds a lease on and has not handed to the writer yet: released at
/// shutdown if their dispatch did not finish.
#[derive(Debug, Default)]
pub(crate) struct Leased(Mutex<HashSet<i64>>);

impl Leased {
    pub(crate) fn add(&self, rows: &[Claimed]) {
        self.lock().extend(rows.iter().map(|r| r.id));
    }

    pub(crate) fn remove(&self, rows: &[Claimed]) {
        let mut set = self.lock();
        for row in rows {
            set.remove(&row.id);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn take(&self) -> Vec<i64> {
        self.lock().drain().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sends one notification to its claimed rows and hands the outcomes to the writer.
// The dispatch's shared parts, each borrowed from the claim loop's task.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_group(
    apps: &Apps,
    leased: &Leased,
    clock: &dyn Clock,
    config: &WorkerConfig,
    writer: &Writer,
    metrics: &Metrics,
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
                retried: false,
            })
            .collect();
        writer.send(WriteCommand::Outcomes(records));
        leased.remove(&rows);
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
            && !pauses
                .iter()
                .any(|p: &RoutePause| p.kind == pause.kind && p.credential == pause.credential)
        {
            tracing::warn!(app = %row.app, kind = %row.kind, credential = %row.credential,
                reason = %pause.reason, "route paused: its deliveries are held");
            pauses.push(pause);
        }
        records.push(record);
    }
    metrics.attempts(&rows, &records, now);
    for pause in pauses {
        writer.send(WriteCommand::Pause(pause));
    }
    writer.send(WriteCommand::Outcomes(records));
    leased.remove(&rows);
}

pub(crate) fn final_record(
    row: &Claimed,
    now: i64,
    outcome: &str,
    reason: Option<String>,
) -> OutcomeRecord {
    OutcomeRecord {
        delivery_id: row.id,
        state: DeliveryState::Dead,
        run_at: now,
        outcome: outcome.to_owned(),
        reason,
        retried: false,
    }
}
