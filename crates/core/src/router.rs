//! Choosing a provider per device and sending to all of a recipient's devices at once.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::join_all;
use serde::Serialize;

use crate::strategy::plan_daemon_first;
use crate::{
    ChannelKey, ChannelStrategy, DeviceToken, Notification, Outcome, Presence, PushProvider, Reason,
};

/// Routes devices to the provider registered for their [`ChannelKey`] (token kind + vendor
/// credential).
///
/// ```
/// # tokio_test_block_on(async {
/// use std::sync::Arc;
/// use pushway_core::testing::StubProvider;
/// use pushway_core::{ChannelKey, DeviceToken, Outcome, Router, TokenKind};
///
/// let xiaomi = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
/// let mut router = Router::new();
/// router.register(ChannelKey::new(TokenKind::Xiaomi, "app"), xiaomi.clone());
///
/// let devices = [
///     DeviceToken::new(TokenKind::Xiaomi, "app", "regid-1"),
///     DeviceToken::new(TokenKind::Huawei, "app", "token-1"),
/// ];
/// let report = router.dispatch(&pushway_core::testing::sample_notification(), &devices).await;
/// assert!(report.results()[0].outcome.is_delivered());
/// assert_eq!(report.results()[1].outcome, Outcome::Unroutable);
/// assert_eq!(xiaomi.calls().len(), 1);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Router {
    providers: HashMap<ChannelKey, Arc<dyn PushProvider>>,
    presence: Option<Arc<dyn Presence>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self.providers.keys().collect();
        keys.sort();
        f.debug_struct("Router")
            .field("channels", &keys)
            .field("presence", &self.presence.is_some())
            .finish()
    }
}

impl Router {
    /// A router with no providers.
    pub fn new() -> Self {
        Router::default()
    }

    /// Registers `provider` for `key`, replacing any provider registered for it before.
    pub fn register(&mut self, key: ChannelKey, provider: Arc<dyn PushProvider>) -> &mut Self {
        self.providers.insert(key, provider);
        self
    }

    /// Sets what tells the router whether a device has a live connection (the daemon hub), for
    /// [`ChannelStrategy::DaemonFirst`]. Without one, no device counts as connected.
    pub fn set_presence(&mut self, presence: Arc<dyn Presence>) -> &mut Self {
        self.presence = Some(presence);
        self
    }

    /// The provider registered for `key`.
    pub fn provider(&self, key: &ChannelKey) -> Option<&Arc<dyn PushProvider>> {
        self.providers.get(key)
    }

    /// Sends `notification` to every device: groups the devices by channel key, splits each group
    /// into batches of its provider's maximum size, runs every batch concurrently, and reports
    /// exactly one outcome per device, in the order of `devices`. Devices with no provider get
    /// [`Outcome::Unroutable`].
    pub async fn dispatch(
        &self,
        notification: &Notification,
        devices: &[DeviceToken],
    ) -> DispatchReport {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; devices.len()];
        // Group device indices by key, keeping first-seen order so batches are deterministic.
        let mut groups: Vec<(&Arc<dyn PushProvider>, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<(&crate::TokenKind, &str), usize> = HashMap::new();
        for (index, device) in devices.iter().enumerate() {
            let lookup = (&device.kind, device.credential.as_str());
            if let Some(&group) = group_of.get(&lookup) {
                groups[group].1.push(index);
                continue;
            }
            match self.providers.get(&device.channel_key()) {
                Some(provider) => {
                    group_of.insert(lookup, groups.len());
                    groups.push((provider, vec![index]));
                }
                None => outcomes[index] = Some(Outcome::Unroutable),
            }
        }

        let mut batches = Vec::new();
        for (provider, indices) in &groups {
            let size = provider.max_batch_size().max(1);
            for chunk in indices.chunks(size) {
                let tokens: Vec<DeviceToken> = chunk.iter().map(|&i| devices[i].clone()).collect();
                batches.push(async move {
                    let results = provider.send(notification, &tokens).await;
                    (chunk, provider.name().to_owned(), results)
                });
            }
        }

        for (chunk, name, results) in join_all(batches).await {
            if results.len() != chunk.len() {
                let reason = Reason::new(Reason::PROVIDER_CONTRACT).with_detail(format!(
                    "provider {name} returned {} outcomes for {} tokens",
                    results.len(),
                    chunk.len()
                ));
                for &index in chunk {
                    outcomes[index] = Some(Outcome::Unknown {
                        reason: reason.clone(),
                    });
                }
                continue;
            }
            for (&index, outcome) in chunk.iter().zip(results) {
                outcomes[index] = Some(outcome);
            }
        }

        let results = devices
            .iter()
            .zip(outcomes)
            .map(|(device, outcome)| DeviceResult {
                device: device.clone(),
                outcome: outcome.unwrap_or(Outcome::Unroutable),
            })
            .collect();
        DispatchReport { results }
    }
}

impl Router {
    /// Like [`dispatch`](Router::dispatch), for one recipient's `devices`, choosing which of them
    /// to send to by `strategy`. Every device still gets exactly one result, in the order of
    /// `devices`; a device the strategy leaves out gets [`Outcome::Skipped`] with a reason saying
    /// why. [`ChannelStrategy::AllDevices`] is exactly `dispatch`.
    pub async fn dispatch_with(
        &self,
        strategy: ChannelStrategy,
        notification: &Notification,
        devices: &[DeviceToken],
    ) -> DispatchReport {
        let plan = match strategy {
            ChannelStrategy::AllDevices => return self.dispatch(notification, devices).await,
            ChannelStrategy::DaemonFirst => plan_daemon_first(
                devices,
                |d| self.presence.as_ref().is_some_and(|p| p.is_connected(d)),
                |d| self.providers.contains_key(&d.channel_key()),
            ),
        };
        let plan: Vec<Option<Outcome>> = plan
            .into_iter()
            .map(|skip| skip.map(Outcome::skipped))
            .collect();
        let chosen: Vec<DeviceToken> = devices
            .iter()
            .zip(&plan)
            .filter(|(_, skip)| skip.is_none())
            .map(|(d, _)| d.clone())
            .collect();
        let mut sent = self
            .dispatch(notification, &chosen)
            .await
            .results
            .into_iter();
        let results = devices
            .iter()
            .zip(plan)
            .map(|(device, skip)| match skip {
                Some(outcome) => DeviceResult {
                    device: device.clone(),
                    outcome,
                },
                // `dispatch` returns one result per chosen device, in order.
                None => sent.next().unwrap_or_else(|| DeviceResult {
                    device: device.clone(),
                    outcome: Outcome::Unroutable,
                }),
            })
            .collect();
        DispatchReport { results }
    }
}

/// One device's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceResult {
    /// The device (serialised in full: reports are data, not logs).
    pub device: DeviceToken,
    /// What happened.
    pub outcome: Outcome,
}

/// What a dispatch did: one result per device, in the order the devices were given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    results: Vec<DeviceResult>,
}

impl DispatchReport {
    /// Every device's result, in the order the devices were given.
    pub fn results(&self) -> &[DeviceResult] {
        &self.results
    }

    /// Consumes the report.
    pub fn into_results(self) -> Vec<DeviceResult> {
        self.results
    }

    /// The devices the push reached (delivered or queued).
    pub fn delivered(&self) -> impl Iterator<Item = &DeviceToken> {
        self.results
            .iter()
            .filter(|r| r.outcome.is_delivered())
            .map(|r| &r.device)
    }

    /// The tokens to delete.
    pub fn tokens_to_drop(&self) -> impl Iterator<Item = &DeviceToken> {
        self.results
            .iter()
            .filter(|r| r.outcome.should_drop_token())
            .map(|r| &r.device)
    }

    /// The devices worth retrying, with the vendor's hint of when.
    pub fn to_retry(&self) -> impl Iterator<Item = (&DeviceToken, Option<std::time::Duration>)> {
        self.results
            .iter()
            .filter(|r| r.outcome.is_retryable())
            .map(|r| (&r.device, r.outcome.retry_after()))
    }

    /// How many results carry each outcome label, sorted by label.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for result in &self.results {
            let label = result.outcome.as_str();
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        counts.sort_unstable();
        counts
    }
}
