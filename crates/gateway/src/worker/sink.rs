//! The hygiene layer's sink: dead tokens go to the writer, which removes their registrations and
//! adds them to the dead-token feed in the same transactions as the outcomes.

use std::time::SystemTime;

use pushway_delivery::{ConfigAlarm, DeadToken, TokenSink};

use super::{WriteCommand, Writer};
use crate::metrics::Metrics;
use crate::store::DeadTokenRecord;

/// One app's sink.
#[derive(Debug, Clone)]
pub struct GatewaySink {
    app: String,
    writer: Writer,
    metrics: Option<Metrics>,
}

impl GatewaySink {
    /// The sink of `app`.
    pub fn new(app: impl Into<String>, writer: Writer) -> Self {
        GatewaySink {
            app: app.into(),
            writer,
            metrics: None,
        }
    }

    /// Counts the tokens it is given in `metrics` (`pushway_tokens_invalidated_total`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl TokenSink for GatewaySink {
    fn invalid_tokens(&self, dead: Vec<DeadToken>) {
        if let Some(metrics) = &self.metrics {
            metrics.invalidated(
                &self.app,
                dead.iter().map(|d| (d.device.kind, d.reason.code())),
            );
        }
        let records = dead
            .into_iter()
            .map(|d| DeadTokenRecord {
                app: self.app.clone(),
                kind: d.device.kind,
                credential: d.device.credential,
                token: d.device.token,
                reason: d.reason.code().to_owned(),
                since: d.since.and_then(|t| {
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .ok()
                        .and_then(|d| i64::try_from(d.as_millis()).ok())
                }),
            })
            .collect();
        // Queued before the send returns, so it commits no later than the outcomes.
        self.writer.send(WriteCommand::Dead(records));
    }

    fn config_alarm(&self, alarm: ConfigAlarm) {
        tracing::warn!(
            app = %self.app,
            channel = %alarm.channel,
            alarm = alarm.kind.as_str(),
            reason = %alarm.reason,
            held = alarm.held.len(),
            "push configuration alarm: token deletions held, the route is paused"
        );
    }
}
