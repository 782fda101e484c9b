//! What accepting a message reads about its recipients: settings, devices and login states of
//! all of them in two queries, not two per recipient.

use std::collections::HashMap;

use sqlx::Row;

use super::registry::{device_state, settings_row};
use super::{SqliteStore, err};
use crate::store::{RecipientState, StoreError};

impl SqliteStore {
    pub(super) async fn recipients_impl(
        &self,
        app: &str,
        users: &[String],
    ) -> Result<HashMap<String, RecipientState>, StoreError> {
        // The ids go in as one JSON array (`json_each`), so the statement is the same for any
        // number of recipients. (Postgres: `= ANY($2)`.)
        let list = serde_json::to_string(users).map_err(StoreError::new)?;
        let mut out: HashMap<String, RecipientState> = HashMap::with_capacity(users.len());
        // One connection for both reads: one snapshot, one pool round trip.
        let mut conn = self.reader.acquire().await.map_err(err)?;
        let settings = sqlx::query(
            "SELECT user_id, enabled, c2c_sound, group_sound, locale, receive FROM user_settings
             WHERE app_id = ? AND user_id IN (SELECT value FROM json_each(?))",
        )
        .bind(app)
        .bind(&list)
        .fetch_all(&mut *conn)
        .await
        .map_err(err)?;
        for row in settings {
            let user: String = row.try_get(0).map_err(err)?;
            out.entry(user).or_default().settings = Some(settings_row(&row, 1)?);
        }
        let devices = sqlx::query(
            "SELECT d.device_id, d.kind, d.credential, d.token, d.locale, d.created_at,
                    d.updated_at, COALESCE(l.state, 'logged_in') AS login, d.user_id
             FROM devices d LEFT JOIN device_logins l
               ON l.app_id = d.app_id AND l.user_id = d.user_id AND l.device_id = d.device_id
             WHERE d.app_id = ? AND d.user_id IN (SELECT value FROM json_each(?))
             ORDER BY d.user_id, d.device_id",
        )
        .bind(app)
        .bind(&list)
        .fetch_all(&mut *conn)
        .await
        .map_err(err)?;
        for row in &devices {
            let state = device_state(row, app)?;
            out.entry(state.device.user.clone())
                .or_default()
                .devices
                .push(state);
        }
        Ok(out)
    }
}
