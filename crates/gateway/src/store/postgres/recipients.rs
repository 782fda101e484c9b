//! What accepting a message reads about its recipients: settings, devices and login states of
//! all of them in two queries, not two per recipient.

use std::collections::HashMap;

use sqlx::Row;

use super::registry::{device_state, settings_row};
use super::{PgStore, err};
use crate::store::{RecipientState, StoreError};

impl PgStore {
    pub(super) async fn recipients_impl(
        &self,
        app: &str,
        users: &[String],
    ) -> Result<HashMap<String, RecipientState>, StoreError> {
        let mut out: HashMap<String, RecipientState> = HashMap::with_capacity(users.len());
        // One transaction for both reads: one snapshot (REPEATABLE READ), as SQLite's one
        // reader connection gives.
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let settings = sqlx::query(
            "SELECT user_id, enabled, c2c_sound, group_sound, locale, receive FROM user_settings
             WHERE app_id = $1 AND user_id = ANY($2)",
        )
        .bind(app)
        .bind(users)
        .fetch_all(&mut *tx)
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
             WHERE d.app_id = $1 AND d.user_id = ANY($2)
             ORDER BY d.user_id, d.device_id",
        )
        .bind(app)
        .bind(users)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
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
