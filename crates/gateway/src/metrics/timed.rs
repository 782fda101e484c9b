//! The vendor-latency layer: the innermost wrapper of every provider, so it times one vendor
//! request, not the waits of the rate limit or the bulkhead above it.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use metrics::{Histogram, Label};
use pushway_core::{ChannelKey, DeviceToken, Notification, Outcome, PushProvider};

use super::{Metrics, VENDOR_LATENCY, channel_label};

/// Records the duration of each `send` of `inner`, by app and channel.
pub(crate) struct Timed {
    inner: Arc<dyn PushProvider>,
    histogram: Histogram,
    /// Counts the samples, so they are folded into their buckets in time.
    metrics: Metrics,
}

impl Timed {
    /// Wraps `inner`, the provider of `app`'s channel `key`.
    pub(crate) fn wrap(
        metrics: &Metrics,
        app: &str,
        key: &ChannelKey,
        inner: Arc<dyn PushProvider>,
    ) -> Arc<dyn PushProvider> {
        let histogram = metrics.histogram(
            VENDOR_LATENCY,
            vec![
                Label::new("app", app.to_owned()),
                Label::from_static_parts("channel", channel_label(key.kind)),
            ],
        );
        Arc::new(Timed {
            inner,
            histogram,
            metrics: metrics.clone(),
        })
    }
}

/// Records on drop, so a request the timeout layer cancels is counted with the time it took.
struct Stopwatch<'a> {
    started: Instant,
    timed: &'a Timed,
}

impl Drop for Stopwatch<'_> {
    fn drop(&mut self) {
        self.timed
            .histogram
            .record(self.started.elapsed().as_secs_f64());
        self.timed.metrics.sampled(1);
    }
}

#[async_trait]
impl PushProvider for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn max_batch_size(&self) -> usize {
        self.inner.max_batch_size()
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        let _watch = Stopwatch {
            started: Instant::now(),
            timed: self,
        };
        self.inner.send(notification, tokens).await
    }
}
