//! Which of a recipient's devices a dispatch sends to.
//!
//! A recipient often has several devices, and one Android phone may be reachable both through its
//! vendor token and through pushway's own daemon connection. [`ChannelStrategy`] says which of
//! them [`Router::dispatch_with`](crate::Router::dispatch_with) uses.

use serde::{Deserialize, Serialize};

use crate::{DeviceToken, Outcome, Reason, TokenKind};

/// Which of one recipient's devices to send to. JSON: `"all_devices"`, `"daemon_first"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChannelStrategy {
    /// Every device, each through its own channel (what [`Router::dispatch`](crate::Router::dispatch)
    /// does).
    #[default]
    AllDevices,
    /// The live daemon connection when there is one, the vendors otherwise:
    ///
    /// 1. If at least one of the recipient's daemon devices is connected (the router's
    ///    [`Presence`](crate::Presence) says so) and a provider is registered for it, send to the
    ///    connected daemon devices only. Every other device is [skipped](Outcome::Skipped) with
    ///    reason [`Reason::DAEMON_LIVE`].
    /// 2. Otherwise send to every non-daemon device; the daemon devices (all offline) are
    ///    skipped with reason [`Reason::VENDOR_PREFERRED`], so the push does not pop up twice
    ///    when the device reconnects.
    /// 3. Except: when the recipient has no non-daemon device that has a provider, the daemon
    ///    devices are sent to anyway (the daemon channel queues for offline devices), so a
    ///    recipient with only daemon devices still gets the push.
    ///
    /// A router without a [`Presence`](crate::Presence) knows of no live connection, so it always
    /// takes branch 2 or 3.
    DaemonFirst,
}

impl ChannelStrategy {
    /// A stable label: the JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelStrategy::AllDevices => "all_devices",
            ChannelStrategy::DaemonFirst => "daemon_first",
        }
    }
}

/// The plan for one dispatch: for each device, `None` to send, or the outcome to report without
/// sending.
pub(crate) fn plan_daemon_first(
    devices: &[DeviceToken],
    is_connected: impl Fn(&DeviceToken) -> bool,
    is_routable: impl Fn(&DeviceToken) -> bool,
) -> Vec<Option<Outcome>> {
    let is_daemon = |d: &DeviceToken| d.kind == TokenKind::Daemon;
    let live: Vec<bool> = devices
        .iter()
        .map(|d| is_daemon(d) && is_routable(d) && is_connected(d))
        .collect();
    if live.iter().any(|&l| l) {
        return live
            .iter()
            .map(|&l| (!l).then(|| Outcome::skipped(Reason::DAEMON_LIVE)))
            .collect();
    }
    let has_vendor = devices.iter().any(|d| !is_daemon(d) && is_routable(d));
    devices
        .iter()
        .map(|d| (has_vendor && is_daemon(d)).then(|| Outcome::skipped(Reason::VENDOR_PREFERRED)))
        .collect()
}
