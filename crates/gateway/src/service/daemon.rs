//! Daemon devices: their identity (the gateway sets the token, `<user>/<device>`), the device
//! tokens the gateway issues them, and revocation when they log out, are kicked or removed
//! (which empties their queues too).
//!
//! A daemon device registers with `kind: "daemon"` and no token: its token is its address on
//! the app's hub, `<user>/<device>`, set here (a caller may send exactly that, or the credential
//! `daemon`, and nothing else). The device then connects to `GET /v1/apps/<app>/daemon` with a
//! JWT from [`Service::daemon_token`], scoped to that user and device.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushway_core::TokenKind;
use pushway_daemon::{ADDRESS_SEPARATOR, DeviceKey, Hub};

use super::input::check_id;
use super::{DeviceIn, Service, ServiceError};
use crate::app::{App, DAEMON_CREDENTIAL, DaemonChannel};
use crate::store::{DaemonUpdate, DeliveryState, Device, DeviceState, Login};
use crate::worker::WriteCommand;

/// A device token the gateway issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonToken {
    /// The JWT the device says `hello` with.
    pub token: String,
    /// When it expires, in Unix milliseconds.
    pub expires_at_ms: i64,
}

impl Service {
    /// The hub of `app`'s daemon channel.
    pub fn daemon_hub(&self, app: &str) -> Result<Hub, ServiceError> {
        let app = self.app(app)?;
        app.daemon
            .as_ref()
            .map(|d| d.hub.clone())
            .ok_or(ServiceError::NoDaemonChannel)
    }

    /// Issues a device token for daemon device `device_id` of `user`: registered as a daemon
    /// device and logged in. It carries the device's current token generation, so a logout, a
    /// kick or a removal (which revoke) makes it useless.
    pub async fn daemon_token(
        &self,
        app: &str,
        user: &str,
        device_id: &str,
    ) -> Result<DaemonToken, ServiceError> {
        let app = self.app(app)?;
        let channel = app.daemon.as_ref().ok_or(ServiceError::NoDaemonChannel)?;
        check_id("user_id", user)?;
        check_id("device_id", device_id)?;
        let hub = &channel.hub;
        // The generation is read before the login state: a logout committed after that read
        // revokes after it too, so the token is refused; one committed before is seen below.
        // (A device id with '/' is no daemon address: the device, if any, is of another kind.)
        let generation = if DeviceKey::new(user, device_id).is_some() {
            hub.token_generation(user, device_id)
                .await
                .map_err(|e| ServiceError::Daemon(e.to_string()))?
        } else {
            0
        };
        let state = self
            .store
            .devices(&app.id, user)
            .await?
            .into_iter()
            .find(|d| d.device.device_id == device_id)
            .ok_or(ServiceError::UnknownDevice)?;
        if state.device.kind != TokenKind::Daemon {
            return Err(ServiceError::NotDaemonDevice);
        }
        if state.login != Login::LoggedIn {
            return Err(ServiceError::NotLoggedIn(state.login));
        }
        // `iat` and `exp` from one reading of the clock, so `expires_at_ms` is the token's `exp`.
        let now = SystemTime::now();
        let expires = now + channel.token_lifetime;
        let token = hub
            .auth()
            .issue_at(user, device_id, generation, now, expires)
            .map_err(|e| ServiceError::Daemon(e.to_string()))?;
        let exp_secs = expires
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        Ok(DaemonToken {
            token,
            expires_at_ms: i64::try_from(exp_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        })
    }

    /// Revokes the tokens of those of `devices` (only device `only`, when given) that are daemon
    /// devices: their live connections close (`4009 auth_revoked`) and their tokens are refused
    /// from now on. Their queues are emptied too, so the next connection (after a new login)
    /// gets nothing queued before; the deliveries of the pushes taken out become `dead`
    /// (`dropped`, with `why`'s reason) by the time this returns.
    pub(crate) async fn revoke_daemon(
        &self,
        app: &App,
        devices: &[DeviceState],
        only: Option<&str>,
        why: Revoked,
    ) -> Result<(), ServiceError> {
        let Some(channel) = &app.daemon else {
            return Ok(());
        };
        let targets: Vec<(&Device, Revoked)> = daemon_devices(devices, only)
            .map(|state| (&state.device, why))
            .collect();
        for (device, _) in &targets {
            // Revoked first: the connection is closed before its queue is emptied, so it
            // cannot be sent what is taken out.
            channel
                .hub
                .revoke_device(&device.user, &device.device_id)
                .await
                .map_err(daemon_error)?;
        }
        empty_queues(app, channel, &targets).await
    }

    /// Before those of `devices` (only device `only`, when given) that are logged-out or kicked
    /// daemon devices log in again: empties their queues. The logout emptied them, but a send
    /// already under way then may have queued a push since; the device must not get it.
    pub(crate) async fn before_daemon_login(
        &self,
        app: &App,
        devices: &[DeviceState],
        only: Option<&str>,
    ) -> Result<(), ServiceError> {
        let Some(channel) = &app.daemon else {
            return Ok(());
        };
        let targets: Vec<(&Device, Revoked)> = daemon_devices(devices, only)
            .filter_map(|state| match state.login {
                Login::LoggedIn => None,
                Login::LoggedOut => Some((&state.device, Revoked::LoggedOut)),
                Login::Kicked => Some((&state.device, Revoked::Kicked)),
            })
            .collect();
        empty_queues(app, channel, &targets).await
    }
}

/// The daemon devices among `devices` (only device `only`, when given).
fn daemon_devices<'a>(
    devices: &'a [DeviceState],
    only: Option<&'a str>,
) -> impl Iterator<Item = &'a DeviceState> {
    devices.iter().filter(move |state| {
        state.device.kind == TokenKind::Daemon && only.is_none_or(|id| state.device.device_id == id)
    })
}

/// Empties the queue of each target device; the deliveries of the pushes taken out become
/// `dead` (`dropped`, with the target's reason), committed before this returns.
async fn empty_queues(
    app: &App,
    channel: &DaemonChannel,
    targets: &[(&Device, Revoked)],
) -> Result<(), ServiceError> {
    let mut dropped = Vec::new();
    for (device, why) in targets {
        let ids = channel
            .hub
            .clear_queue(&device.user, &device.device_id)
            .await
            .map_err(daemon_error)?;
        dropped.extend(ids.into_iter().map(|message_id| DaemonUpdate {
            app: app.id.clone(),
            user: device.user.clone(),
            device_id: device.device_id.clone(),
            message_id,
            state: DeliveryState::Dead,
            outcome: "dropped".to_owned(),
            reason: Some(why.reason().to_owned()),
        }));
    }
    if let Some(writer) = channel.writer.as_ref().filter(|_| !dropped.is_empty()) {
        writer.send(WriteCommand::Daemon(dropped));
        writer.flush().await;
    }
    Ok(())
}

fn daemon_error(error: pushway_daemon::StoreError) -> ServiceError {
    ServiceError::Daemon(error.to_string())
}

/// Why a daemon device's tokens are revoked and its queue emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revoked {
    /// The user logged out of it.
    LoggedOut,
    /// It was kicked offline.
    Kicked,
    /// It was removed.
    Removed,
    /// It was registered again as a device of another kind.
    Replaced,
}

impl Revoked {
    /// The reason its dropped pushes' deliveries record (the first two as the renderer names
    /// the same suppressions).
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Revoked::LoggedOut => "recipient_logged_out",
            Revoked::Kicked => "recipient_kicked_offline",
            Revoked::Removed => "device_removed",
            Revoked::Replaced => "device_replaced",
        }
    }
}

/// The credential and token of a daemon device registration: `daemon` and `<user>/<device>`,
/// set by the gateway; a caller may send the same values (a registration read back and sent
/// again), nothing else.
pub(super) fn daemon_identity(
    app: &App,
    user: &str,
    device_id: &str,
    input: &DeviceIn,
) -> Result<(String, String), ServiceError> {
    if app.daemon.is_none() {
        return Err(ServiceError::UnsupportedKind("daemon".to_owned()));
    }
    let Some(key) = DeviceKey::new(user, device_id) else {
        return Err(ServiceError::invalid(
            "device_id",
            format!("a daemon device id must not contain '{ADDRESS_SEPARATOR}'"),
        ));
    };
    let address = key.address();
    if input
        .credential
        .as_deref()
        .is_some_and(|c| c != DAEMON_CREDENTIAL)
    {
        return Err(ServiceError::invalid(
            "credential",
            format!("a daemon device's credential is {DAEMON_CREDENTIAL:?}: leave it out"),
        ));
    }
    if input.token.as_deref().is_some_and(|t| t != address) {
        return Err(ServiceError::invalid(
            "token",
            "a daemon device's token is set by the gateway (<user>/<device>): leave it out",
        ));
    }
    Ok((DAEMON_CREDENTIAL.to_owned(), address))
}
