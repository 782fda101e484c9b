//! Devices, settings and logins.

use pushway_core::{ChannelKey, TokenKind};

use super::daemon::{Revoked, daemon_identity};
use super::input::{check_id, check_token};
use super::{DeviceIn, Service, ServiceError};
use crate::store::{Device, DeviceState, Login, PutDevice, StoredSettings};

impl Service {
    /// Registers or updates a device; a token registered elsewhere in the app moves here.
    pub async fn put_device(
        &self,
        app: &str,
        user: &str,
        device_id: &str,
        input: DeviceIn,
    ) -> Result<(PutDevice, DeviceState), ServiceError> {
        let app = self.app(app)?;
        check_id("user_id", user)?;
        check_id("device_id", device_id)?;
        let kind = input.token_kind()?;
        let (credential, token) = if kind == TokenKind::Daemon {
            daemon_identity(&app, user, device_id, &input)?
        } else {
            let credential = input
                .credential
                .ok_or_else(|| required("credential", kind))?;
            let token = input.token.ok_or_else(|| required("token", kind))?;
            check_id("credential", &credential)?;
            check_token(&token)?;
            (credential, token)
        };
        if let Some(locale) = &input.locale {
            check_id("locale", locale)?;
        }
        if !app
            .channels
            .contains(&ChannelKey::new(kind, credential.as_str()))
        {
            return Err(ServiceError::UnknownCredential {
                kind: kind.as_str().to_owned(),
                credential,
            });
        }
        // A daemon device registered again as another kind loses its daemon tokens.
        let before = if app.daemon.is_some() && kind != TokenKind::Daemon {
            self.device(&app.id, user, device_id).await?
        } else {
            None
        };
        let device = Device {
            app: app.id.clone(),
            user: user.to_owned(),
            device_id: device_id.to_owned(),
            kind,
            credential,
            token,
            locale: input.locale,
        };
        let put = self.store.put_device(&device, self.clock.now_ms()).await?;
        self.revoke_daemon(&app, before.as_slice(), None, Revoked::Replaced)
            .await?;
        let state = self
            .device(&app.id, user, device_id)
            .await?
            .ok_or(ServiceError::UnknownDevice)?;
        Ok((put, state))
    }

    /// Removes a device.
    pub async fn delete_device(
        &self,
        app: &str,
        user: &str,
        device_id: &str,
    ) -> Result<(), ServiceError> {
        let app = self.app(app)?;
        let before = match app.daemon {
            Some(_) => self.device(&app.id, user, device_id).await?,
            None => None,
        };
        if !self.store.delete_device(&app.id, user, device_id).await? {
            return Err(ServiceError::UnknownDevice);
        }
        // After the delete: a token issued in between carries the old generation.
        self.revoke_daemon(&app, before.as_slice(), None, Revoked::Removed)
            .await
    }

    /// One device of a user, with its login state.
    async fn device(
        &self,
        app: &str,
        user: &str,
        device_id: &str,
    ) -> Result<Option<DeviceState>, ServiceError> {
        Ok(self
            .store
            .devices(app, user)
            .await?
            .into_iter()
            .find(|d| d.device.device_id == device_id))
    }

    /// A user's devices.
    pub async fn devices(&self, app: &str, user: &str) -> Result<Vec<DeviceState>, ServiceError> {
        self.app(app)?;
        Ok(self.store.devices(app, user).await?)
    }

    /// Stores a user's settings exactly as given.
    pub async fn put_settings(
        &self,
        app: &str,
        user: &str,
        settings: &StoredSettings,
    ) -> Result<(), ServiceError> {
        self.app(app)?;
        check_id("user_id", user)?;
        for (field, sound) in [
            ("c2c_sound", &settings.c2c_sound),
            ("group_sound", &settings.group_sound),
        ] {
            if let Some(sound) = sound {
                check_id(field, sound)?;
            }
        }
        if let Some(locale) = &settings.locale {
            check_locale("locale", locale)?;
        }
        if let Some(receive) = &settings.receive {
            check_receive(receive)?;
        }
        Ok(self
            .store
            .put_settings(app, user, settings, self.clock.now_ms())
            .await?)
    }

    /// A user's settings as set (empty when never set).
    pub async fn settings(&self, app: &str, user: &str) -> Result<StoredSettings, ServiceError> {
        self.app(app)?;
        Ok(self.store.settings(app, user).await?.unwrap_or_default())
    }

    /// Sets one device's login state, or every registered device's when `device` is `None`.
    pub async fn set_login(
        &self,
        app: &str,
        user: &str,
        device: Option<&str>,
        state: Login,
    ) -> Result<u64, ServiceError> {
        let app = self.app(app)?;
        check_id("user_id", user)?;
        if let Some(device) = device {
            check_id("device_id", device)?;
        }
        // A daemon device logging in again starts with an empty queue (before the store's
        // write: no push for the logged-in device can be queued until it is committed).
        if state == Login::LoggedIn && app.daemon.is_some() {
            let devices = self.store.devices(&app.id, user).await?;
            self.before_daemon_login(&app, &devices, device).await?;
        }
        let count = self
            .store
            .set_login(&app.id, user, device, state, self.clock.now_ms())
            .await?;
        // A logged-out or kicked daemon device is disconnected and its tokens refused (after
        // the store's write: a token issued in between carries the old generation).
        if state != Login::LoggedIn && app.daemon.is_some() {
            let devices = self.store.devices(&app.id, user).await?;
            let why = if state == Login::Kicked {
                Revoked::Kicked
            } else {
                Revoked::LoggedOut
            };
            self.revoke_daemon(&app, &devices, device, why).await?;
        }
        Ok(count)
    }
}

/// A field every device but a daemon device needs.
fn required(field: &str, kind: TokenKind) -> ServiceError {
    ServiceError::invalid(field, format!("required for {} devices", kind.as_str()))
}

/// The most peers, and the most groups, one user's receive rules may name: the rules are read
/// whole with the settings for every message the user receives.
pub const MAX_RECEIVE_ENTRIES: usize = 1000;

/// The longest locale tag accepted (BCP 47's longest common form fits in 35 bytes).
const MAX_LOCALE_LEN: usize = 35;

/// Whether `locale` is a locale tag: 1 to 35 ASCII letters, digits, `-` or `_`.
pub(crate) fn is_locale_tag(locale: &str) -> bool {
    (1..=MAX_LOCALE_LEN).contains(&locale.len())
        && locale
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_locale(field: &str, locale: &str) -> Result<(), ServiceError> {
    if !is_locale_tag(locale) {
        return Err(ServiceError::invalid(
            field,
            format!(
                "must be a locale tag such as zh-CN: 1 to {MAX_LOCALE_LEN} ASCII letters, digits, '-' or '_'"
            ),
        ));
    }
    Ok(())
}

fn check_receive(receive: &pushway_core::ReceiveRules) -> Result<(), ServiceError> {
    let peers = receive.peers.keys().map(|k| ("peers", k));
    let groups = receive.groups.keys().map(|k| ("groups", k));
    for (name, count) in [
        ("peers", receive.peers.len()),
        ("groups", receive.groups.len()),
    ] {
        if count > MAX_RECEIVE_ENTRIES {
            return Err(ServiceError::invalid(
                format!("receive.{name}"),
                format!("at most {MAX_RECEIVE_ENTRIES} entries, got {count}"),
            ));
        }
    }
    for (name, id) in peers.chain(groups) {
        check_id(&format!("receive.{name}.{id}"), id)?;
    }
    Ok(())
}
