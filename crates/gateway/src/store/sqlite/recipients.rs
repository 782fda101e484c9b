//! What accepting a message reads about its recipients: settings, devices and login states of
//! all of them in two queries, not two per recipient.

use std::collections::HashMap;

use sqlx::Row;

use super::registry::settings_row;
use super::{SqliteStore, err, json_rows, parse_kind};
use crate::store::{Device, DeviceState, Login, RecipientState, StoreError};

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
        // Every device in one JSON value (a group message reads thousands).
        let devices = sqlx::query(
            "SELECT json_group_array(json_array(d.user_id, d.device_id, d.kind, d.credential,
                      d.token, d.locale, d.created_at, d.updated_at,
                      COALESCE(l.state, 'logged_in'))
                    ORDER BY d.user_id, d.device_id)
             FROM devices d LEFT JOIN device_logins l
               ON l.app_id = d.app_id AND l.user_id = d.user_id AND l.device_id = d.device_id
             WHERE d.app_id = ? AND d.user_id IN (SELECT value FROM json_each(?))",
        )
        .bind(app)
        .bind(&list)
        .fetch_one(&mut *conn)
        .await
        .map_err(err)?;
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            i64,
            i64,
            String,
        );
        for (user, device_id, kind, credential, token, locale, created_at, updated_at, login) in
            json_rows::<Row>(&devices)?
        {
            let state = DeviceState {
                device: Device {
                    app: app.to_owned(),
                    user: user.clone(),
                    device_id,
                    kind: parse_kind(&kind)?,
                    credential,
                    token,
                    locale,
                },
                login: Login::parse(&login),
                created_at,
                updated_at,
            };
            out.entry(user).or_default().devices.push(state);
        }
        Ok(out)
    }
}
