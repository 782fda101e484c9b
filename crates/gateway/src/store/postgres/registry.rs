//! Devices, per-user settings and login states.

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PgStore, err, kind_label, parse_kind};
use crate::store::{Device, DeviceState, Login, PutDevice, StoreError, StoredSettings};

impl PgStore {
    pub(super) async fn put_device_impl(
        &self,
        device: &Device,
        now: i64,
    ) -> Result<PutDevice, StoreError> {
        let mut tx = self.tx().await?;
        // A token belongs to one user: a registration of it elsewhere moves here. SQLite's one
        // writer made "remove it elsewhere, then write it here" atomic; here two nodes could
        // register one token for two devices at once, and the second insert would break the
        // unique token key. A transaction-scoped advisory lock on the token serializes the
        // registrations of one token (others run in parallel).
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2 || '/' || $3 || '/' || $4, 0))",
        )
        .bind(&device.app)
        .bind(kind_label(device.kind))
        .bind(&device.credential)
        .bind(&device.token)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let moved = sqlx::query(
            "DELETE FROM devices WHERE app_id = $1 AND kind = $2 AND credential = $3
               AND token = $4 AND NOT (user_id = $5 AND device_id = $6)
             RETURNING user_id, device_id",
        )
        .bind(&device.app)
        .bind(kind_label(device.kind))
        .bind(&device.credential)
        .bind(&device.token)
        .bind(&device.user)
        .bind(&device.device_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        let moved_from = moved
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<Vec<(String, String)>, sqlx::Error>>()
            .map_err(err)?;
        // `xmax = 0`: the row was inserted by this statement, not updated (two nodes writing
        // one device at once: exactly one of them reports it created).
        let created: bool = sqlx::query(
            "INSERT INTO devices
               (app_id, user_id, device_id, kind, credential, token, locale, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             ON CONFLICT (app_id, user_id, device_id) DO UPDATE SET
               kind = excluded.kind, credential = excluded.credential, token = excluded.token,
               locale = excluded.locale, updated_at = excluded.updated_at
             RETURNING (xmax = 0)",
        )
        .bind(&device.app)
        .bind(&device.user)
        .bind(&device.device_id)
        .bind(kind_label(device.kind))
        .bind(&device.credential)
        .bind(&device.token)
        .bind(&device.locale)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(PutDevice {
            created,
            moved_from,
        })
    }

    pub(super) async fn delete_device_impl(
        &self,
        app: &str,
        user: &str,
        device: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.tx().await?;
        let deleted = sqlx::query(
            "DELETE FROM devices WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        sqlx::query(
            "DELETE FROM device_logins WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(deleted > 0)
    }

    pub(super) async fn devices_impl(
        &self,
        app: &str,
        user: &str,
    ) -> Result<Vec<DeviceState>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.device_id, d.kind, d.credential, d.token, d.locale, d.created_at,
                    d.updated_at, COALESCE(l.state, 'logged_in') AS login, d.user_id
             FROM devices d LEFT JOIN device_logins l
               ON l.app_id = d.app_id AND l.user_id = d.user_id AND l.device_id = d.device_id
             WHERE d.app_id = $1 AND d.user_id = $2 ORDER BY d.device_id",
        )
        .bind(app)
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(|row| device_state(row, app)).collect()
    }

    pub(super) async fn put_settings_impl(
        &self,
        app: &str,
        user: &str,
        settings: &StoredSettings,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_settings
               (app_id, user_id, enabled, c2c_sound, group_sound, locale, receive, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (app_id, user_id) DO UPDATE SET enabled = excluded.enabled,
               c2c_sound = excluded.c2c_sound, group_sound = excluded.group_sound,
               locale = excluded.locale, receive = excluded.receive,
               updated_at = excluded.updated_at",
        )
        .bind(app)
        .bind(user)
        .bind(settings.enabled)
        .bind(&settings.c2c_sound)
        .bind(&settings.group_sound)
        .bind(&settings.locale)
        .bind(receive_json(settings)?)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub(super) async fn settings_impl(
        &self,
        app: &str,
        user: &str,
    ) -> Result<Option<StoredSettings>, StoreError> {
        let row = sqlx::query(
            "SELECT enabled, c2c_sound, group_sound, locale, receive FROM user_settings
             WHERE app_id = $1 AND user_id = $2",
        )
        .bind(app)
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        row.map(|row| settings_row(&row, 0)).transpose()
    }

    pub(super) async fn set_login_impl(
        &self,
        app: &str,
        user: &str,
        device: Option<&str>,
        state: Login,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.tx().await?;
        let count = match device {
            Some(device) => {
                sqlx::query(
                    "INSERT INTO device_logins (app_id, user_id, device_id, state, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (app_id, user_id, device_id) DO UPDATE SET
                       state = excluded.state, updated_at = excluded.updated_at",
                )
                .bind(app)
                .bind(user)
                .bind(device)
                .bind(state.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                1
            }
            None => {
                sqlx::query(
                    "UPDATE device_logins SET state = $1, updated_at = $2
                     WHERE app_id = $3 AND user_id = $4",
                )
                .bind(state.as_str())
                .bind(now)
                .bind(app)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                sqlx::query(
                    "INSERT INTO device_logins (app_id, user_id, device_id, state, updated_at)
                     SELECT app_id, user_id, device_id, $1, $2 FROM devices
                     WHERE app_id = $3 AND user_id = $4
                     ON CONFLICT (app_id, user_id, device_id) DO UPDATE SET
                       state = excluded.state, updated_at = excluded.updated_at",
                )
                .bind(state.as_str())
                .bind(now)
                .bind(app)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected()
            }
        };
        tx.commit().await.map_err(err)?;
        Ok(count)
    }
}

/// A device row: `device_id, kind, credential, token, locale, created_at, updated_at, login,
/// user_id`, in that order.
pub(super) fn device_state(row: &PgRow, app: &str) -> Result<DeviceState, StoreError> {
    let kind: String = row.try_get(1).map_err(err)?;
    let login: String = row.try_get(7).map_err(err)?;
    Ok(DeviceState {
        device: Device {
            app: app.to_owned(),
            user: row.try_get(8).map_err(err)?,
            device_id: row.try_get(0).map_err(err)?,
            kind: parse_kind(&kind)?,
            credential: row.try_get(2).map_err(err)?,
            token: row.try_get(3).map_err(err)?,
            locale: row.try_get(4).map_err(err)?,
        },
        login: Login::parse(&login),
        created_at: row.try_get(5).map_err(err)?,
        updated_at: row.try_get(6).map_err(err)?,
    })
}

/// The settings in `row`'s columns `first..first + 5` (enabled, c2c_sound, group_sound, locale,
/// receive).
pub(super) fn settings_row(row: &PgRow, first: usize) -> Result<StoredSettings, StoreError> {
    let receive: Option<String> = row.try_get(first + 4).map_err(err)?;
    Ok(StoredSettings {
        enabled: row.try_get(first).map_err(err)?,
        c2c_sound: row.try_get(first + 1).map_err(err)?,
        group_sound: row.try_get(first + 2).map_err(err)?,
        locale: row.try_get(first + 3).map_err(err)?,
        receive: receive
            .map(|json| pushway_core::json::from_str(&json))
            .transpose()
            .map_err(StoreError::new)?,
    })
}

/// The receive rules as stored: their JSON, `NULL` when unset.
fn receive_json(settings: &StoredSettings) -> Result<Option<String>, StoreError> {
    settings
        .receive
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(StoreError::new)
}
