//! What accepting a message reads about its recipients: settings, devices and login states of
//! all of them in two queries, not two per recipient, on the hot read connection (`raw.rs`),
//! which reads rows in place: a group message reads thousands.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::raw::raw_err;
use super::{SqliteStore, parse_kind};
use crate::store::{Device, DeviceState, Login, RecipientState, StoreError, StoredSettings};

impl SqliteStore {
    pub(super) async fn recipients_impl(
        &self,
        app: &str,
        users: &[String],
    ) -> Result<HashMap<String, RecipientState>, StoreError> {
        // The ids go in as one JSON array (`json_each`), so the statement is the same for any
        // number of recipients. (Postgres: `= ANY($2)`.)
        let list = serde_json::to_string(users).map_err(StoreError::new)?;
        let app = app.to_owned();
        let capacity = users.len();
        // One transaction for both reads: one snapshot.
        self.hot_reader
            .run(move |conn| {
                conn.execute_batch("BEGIN").map_err(raw_err)?;
                let read = read(conn, &app, &list, capacity);
                let _ = conn.execute_batch("COMMIT");
                read
            })
            .await
    }
}

fn read(
    conn: &Connection,
    app: &str,
    list: &str,
    capacity: usize,
) -> Result<HashMap<String, RecipientState>, StoreError> {
    let mut out: HashMap<String, RecipientState> = HashMap::with_capacity(capacity);
    let mut settings = conn
        .prepare_cached(
            "SELECT user_id, enabled, c2c_sound, group_sound, locale, receive FROM user_settings
             WHERE app_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))",
        )
        .map_err(raw_err)?;
    let mut rows = settings.query(params![app, list]).map_err(raw_err)?;
    while let Some(row) = rows.next().map_err(raw_err)? {
        let user: String = row.get(0).map_err(raw_err)?;
        let receive: Option<String> = row.get(5).map_err(raw_err)?;
        out.entry(user).or_default().settings = Some(StoredSettings {
            enabled: row.get(1).map_err(raw_err)?,
            c2c_sound: row.get(2).map_err(raw_err)?,
            group_sound: row.get(3).map_err(raw_err)?,
            locale: row.get(4).map_err(raw_err)?,
            receive: receive
                .map(|json| pushway_core::json::from_str(&json))
                .transpose()
                .map_err(StoreError::new)?,
        });
    }
    let mut devices = conn
        .prepare_cached(
            "SELECT d.user_id, d.device_id, d.kind, d.credential, d.token, d.locale,
                    d.created_at, d.updated_at, COALESCE(l.state, 'logged_in')
             FROM devices d LEFT JOIN device_logins l
               ON l.app_id = d.app_id AND l.user_id = d.user_id AND l.device_id = d.device_id
             WHERE d.app_id = ?1 AND d.user_id IN (SELECT value FROM json_each(?2))
             ORDER BY d.user_id, d.device_id",
        )
        .map_err(raw_err)?;
    let mut rows = devices.query(params![app, list]).map_err(raw_err)?;
    while let Some(row) = rows.next().map_err(raw_err)? {
        let user: String = row.get(0).map_err(raw_err)?;
        let kind: String = row.get(2).map_err(raw_err)?;
        let login: String = row.get(8).map_err(raw_err)?;
        let state = DeviceState {
            device: Device {
                app: app.to_owned(),
                user: user.clone(),
                device_id: row.get(1).map_err(raw_err)?,
                kind: parse_kind(&kind)?,
                credential: row.get(3).map_err(raw_err)?,
                token: row.get(4).map_err(raw_err)?,
                locale: row.get(5).map_err(raw_err)?,
            },
            login: Login::parse(&login),
            created_at: row.get(6).map_err(raw_err)?,
            updated_at: row.get(7).map_err(raw_err)?,
        };
        out.entry(user).or_default().devices.push(state);
    }
    Ok(out)
}
