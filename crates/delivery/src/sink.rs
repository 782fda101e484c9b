//! Where the hygiene layer reports dead tokens and configuration alarms: the embedder's code.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use pushway_core::{ChannelKey, DeviceToken, Reason};

/// A token a vendor reported dead, to delete from the device registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadToken {
    /// The device.
    pub device: DeviceToken,
    /// The vendor's reason.
    pub reason: Reason,
    /// Since when the vendor knows, if it said (APNs 410 `timestamp`): a device that registered
    /// the same token again after this time is alive.
    pub since: Option<SystemTime>,
}

/// What a [`ConfigAlarm`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlarmKind {
    /// One request marked all or nearly all of a large batch invalid (Xiaomi 20301 for a wrong
    /// package name or region, Huawei 80300007 for another app's tokens), or a credential's
    /// recent requests did together (APNs `DeviceTokenNotForTopic` for a wrong topic, one token
    /// per request): the deletions are held in the [`Quarantine`](crate::Quarantine).
    MassInvalid,
    /// The provider itself classified tokens as [`Misconfigured`](pushway_core::Outcome::Misconfigured).
    VendorMisconfigured,
    /// APNs refused a token of one environment sent to the other environment's endpoint: the
    /// routing, not the token, is wrong.
    ApnsEnvironmentMismatch,
}

impl AlarmKind {
    /// A stable label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlarmKind::MassInvalid => "mass_invalid",
            AlarmKind::VendorMisconfigured => "vendor_misconfigured",
            AlarmKind::ApnsEnvironmentMismatch => "apns_environment_mismatch",
        }
    }
}

/// An operator should look at a provider's configuration; the tokens listed were **not**
/// reported dead and are kept.
///
/// Alarms are deduplicated: at most one per credential ([`channel`](Self::channel)) and
/// [`kind`](Self::kind) per [`HygieneConfig::alarm_interval`](crate::HygieneConfig::alarm_interval);
/// the next one raised says how many were [`suppressed`](Self::suppressed) in between.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigAlarm {
    /// What kind of alarm.
    pub kind: AlarmKind,
    /// The provider's name.
    pub provider: String,
    /// The credential concerned (the held tokens' kind and credential).
    pub channel: ChannelKey,
    /// The vendor's reason (of the first token concerned).
    pub reason: Reason,
    /// How many tokens the request carried.
    pub batch_size: usize,
    /// The tokens of this request concerned: kept, not deleted. For [`AlarmKind::MassInvalid`]
    /// every held deletion of the credential, including those of requests whose alarm was
    /// suppressed, is in the [`Quarantine`](crate::Quarantine).
    pub held: Vec<DeviceToken>,
    /// Alarms of this kind for this credential not raised since the previous one (deduplicated).
    pub suppressed: u64,
}

/// The embedder's side of token hygiene: deletes dead tokens, raises configuration alarms.
///
/// Both methods are called from inside `send`, so they **must not block**: hand the work to a
/// queue or a task (for example push into a `tokio::sync::mpsc` channel read by a task that
/// deletes from the database).
pub trait TokenSink: Send + Sync + 'static {
    /// Tokens to delete: one call per request that had any, each dead token exactly once.
    fn invalid_tokens(&self, dead: Vec<DeadToken>);

    /// A configuration problem; the tokens in it are kept.
    fn config_alarm(&self, alarm: ConfigAlarm);
}

/// A sink that keeps everything it is given, for tests and demos.
#[derive(Debug, Default)]
pub struct RecordingSink {
    state: Mutex<(Vec<DeadToken>, Vec<ConfigAlarm>)>,
}

impl RecordingSink {
    /// An empty sink.
    pub fn new() -> Self {
        RecordingSink::default()
    }

    /// Every dead token received, in order.
    pub fn dead(&self) -> Vec<DeadToken> {
        self.lock().0.clone()
    }

    /// Every alarm received, in order.
    pub fn alarms(&self) -> Vec<ConfigAlarm> {
        self.lock().1.clone()
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<DeadToken>, Vec<ConfigAlarm>)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenSink for RecordingSink {
    fn invalid_tokens(&self, dead: Vec<DeadToken>) {
        self.lock().0.extend(dead);
    }

    fn config_alarm(&self, alarm: ConfigAlarm) {
        self.lock().1.push(alarm);
    }
}

#[cfg(test)]
mod tests {
    use super::TokenSink;

    fn _dyn_compatible(_: Box<dyn TokenSink>) {}
}
