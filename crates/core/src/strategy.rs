//! Which of a recipient's devices a dispatch sends to.
//!
//! A recipient often has several devices, and one Android phone may be reachable both through its
//! vendor token and through pushway's own daemon connection. [`ChannelStrategy`] says which of
//! them [`Router::dispatch_with`](crate::Router::dispatch_with) uses.

use serde::{Deserialize, Serialize};

use crate::{DeviceToken, Reason, TokenKind};

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
    ///    connected daemon devices only. Every other device is [skipped](crate::Outcome::Skipped) with
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

    /// Which of one recipient's `devices` this strategy sends to, by the rules above, without
    /// sending: for each device in order, `None` to send, or the reason it is left out
    /// ([`Reason::DAEMON_LIVE`], [`Reason::VENDOR_PREFERRED`]). `is_connected` is the presence
    /// (asked of daemon devices only), `is_routable` whether a provider serves the device.
    ///
    /// For a caller that decides ahead of the send (a gateway that writes one delivery row
    /// per device chosen); [`Router::dispatch_with`](crate::Router::dispatch_with) decides the
    /// same way with its own providers and presence. [`ChannelStrategy::AllDevices`] sends to
    /// every device.
    ///
    /// ```
    /// use pushway_core::{ChannelStrategy, DeviceToken, Reason, TokenKind};
    ///
    /// let devices = [
    ///     DeviceToken::new(TokenKind::Daemon, "daemon", "alice/phone"),
    ///     DeviceToken::new(TokenKind::Xiaomi, "main", "regid-1"),
    /// ];
    /// let live = ChannelStrategy::DaemonFirst.plan(&devices, |_| true, |_| true);
    /// assert_eq!(live, [None, Some(Reason::DAEMON_LIVE)]);
    /// let offline = ChannelStrategy::DaemonFirst.plan(&devices, |_| false, |_| true);
    /// assert_eq!(offline, [Some(Reason::VENDOR_PREFERRED), None]);
    /// ```
    pub fn plan(
        self,
        devices: &[DeviceToken],
        is_connected: impl Fn(&DeviceToken) -> bool,
        is_routable: impl Fn(&DeviceToken) -> bool,
    ) -> Vec<Option<&'static str>> {
        match self {
            ChannelStrategy::AllDevices => vec![None; devices.len()],
            ChannelStrategy::DaemonFirst => plan_daemon_first(devices, is_connected, is_routable),
        }
    }
}

/// The plan of [`ChannelStrategy::DaemonFirst`] for one recipient: for each device, `None` to
/// send, or the reason it is skipped.
pub(crate) fn plan_daemon_first(
    devices: &[DeviceToken],
    is_connected: impl Fn(&DeviceToken) -> bool,
    is_routable: impl Fn(&DeviceToken) -> bool,
) -> Vec<Option<&'static str>> {
    let is_daemon = |d: &DeviceToken| d.kind == TokenKind::Daemon;
    let live: Vec<bool> = devices
        .iter()
        .map(|d| is_daemon(d) && is_routable(d) && is_connected(d))
        .collect();
    if live.iter().any(|&l| l) {
        return live
            .iter()
            .map(|&l| (!l).then_some(Reason::DAEMON_LIVE))
            .collect();
    }
    let has_vendor = devices.iter().any(|d| !is_daemon(d) && is_routable(d));
    devices
        .iter()
        .map(|d| (has_vendor && is_daemon(d)).then_some(Reason::VENDOR_PREFERRED))
        .collect()
}
