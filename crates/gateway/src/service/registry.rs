//! Devices, settings and logins.

use pushway_core::ChannelKey;

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
        check_id("credential", &input.credential)?;
        check_token(&input.token)?;
        if let Some(locale) = &input.locale {
            check_id("locale", locale)?;
        }
        if !app
            .channels
            .contains(&ChannelKey::new(kind, input.credential.as_str()))
        {
            return Err(ServiceError::UnknownCredential {
                kind: kind.as_str().to_owned(),
                credential: input.credential,
            });
        }
        let device = Device {
            app: app.id.clone(),
            user: user.to_owned(),
            device_id: device_id.to_owned(),
            kind,
            credential: input.credential,
            token: input.token,
            locale: input.locale,
        };
        let put = self.store.put_device(&device, self.clock.now_ms()).await?;
        let state = self
            .store
            .devices(&app.id, user)
            .await?
            .into_iter()
            .find(|d| d.device.device_id == device_id)
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
        self.app(app)?;
        if self.store.delete_device(app, user, device_id).await? {
            Ok(())
        } else {
            Err(ServiceError::UnknownDevice)
        }
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
        self.app(app)?;
        check_id("user_id", user)?;
        if let Some(device) = device {
            check_id("device_id", device)?;
        }
        Ok(self
            .store
            .set_login(app, user, device, state, self.clock.now_ms())
            .await?)
    }
}
