//! The accept path's write: a group commit of messages with their notifications, recipients and
//! delivery rows, each table written by one statement for the whole batch.
//!
//! Why one statement per table and not per row: sqlx runs each SQLite statement on the
//! connection's own thread, so every statement costs two thread hand-offs (a channel send and a
//! wake-up), which on a small machine cost far more than SQLite's work for the row. Rows go in
//! as one JSON array read with `json_each` (as the id lists elsewhere), in array order, so row
//! ids still follow accept order. (Postgres: `unnest` of arrays.)

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use sqlx::{Row, Sqlite, Transaction};

use super::{SqliteStore, err, kind_label};
use crate::store::{Accepted, NewMessage, StoreError};

impl SqliteStore {
    pub(super) async fn accept_impl(
        &self,
        messages: &[NewMessage],
    ) -> Result<Vec<Accepted>, StoreError> {
        let mut tx = self.write_tx().await?;
        let inserted = insert_messages(&mut tx, messages).await?;
        let new: Vec<&NewMessage> = messages
            .iter()
            .filter(|m| inserted.contains(m.id.as_str()))
            .collect();
        if !new.is_empty() {
            insert_rows(&mut tx, &new).await?;
            super::webhooks::accept_events(&mut tx, &new, &self.webhook_filter()).await?;
        }
        let mut accepted = Vec::with_capacity(messages.len());
        for m in messages {
            if inserted.contains(m.id.as_str()) {
                accepted.push(Accepted {
                    message_id: m.id.clone(),
                    created: true,
                });
                continue;
            }
            // The key was taken between the caller's lookup and this transaction (or by an
            // earlier message of this batch): the earlier message answers.
            let id: String =
                sqlx::query("SELECT id FROM messages WHERE app_id = ? AND idempotency_key = ?")
                    .bind(&m.app)
                    .bind(&m.idempotency_key)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(err)?;
            accepted.push(Accepted {
                message_id: id,
                created: false,
            });
        }
        tx.commit().await.map_err(err)?;
        Ok(accepted)
    }
}

/// Inserts the messages whose idempotency key is free; returns their ids.
async fn insert_messages(
    tx: &mut Transaction<'static, Sqlite>,
    messages: &[NewMessage],
) -> Result<HashSet<String>, StoreError> {
    let rows: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!([
                m.id,
                m.app,
                m.idempotency_key,
                hex(&m.request_hash),
                m.body,
                m.created_at,
                m.expires_at
            ])
        })
        .collect();
    // `WHERE true` tells SQLite's parser the ON CONFLICT clause is the upsert's, not a join's.
    let ids = sqlx::query(
        "INSERT INTO messages
               (id, app_id, idempotency_key, request_hash, body, created_at, expires_at)
         SELECT value ->> 0, value ->> 1, value ->> 2, unhex(value ->> 3), value ->> 4,
                value ->> 5, value ->> 6
         FROM json_each(?) WHERE true
         ON CONFLICT (app_id, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(Value::Array(rows).to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(err)?;
    ids.iter()
        .map(|row| row.try_get::<String, _>(0).map_err(err))
        .collect()
}

/// The notifications, recipients, suppressed devices and delivery rows of new messages.
async fn insert_rows(
    tx: &mut Transaction<'static, Sqlite>,
    messages: &[&NewMessage],
) -> Result<(), StoreError> {
    let notifications: Vec<Value> = messages
        .iter()
        .flat_map(|m| m.notifications.iter().map(|body| json!([m.id, body])))
        .collect();
    let returned = sqlx::query(
        "INSERT INTO notifications (message_id, body)
         SELECT value ->> 0, value ->> 1 FROM json_each(?)
         RETURNING id, message_id, body",
    )
    .bind(Value::Array(notifications).to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(err)?;
    // RETURNING's order is unspecified: ids are matched by (message, body), which is unique
    // since a message keeps each distinct rendering once.
    let mut ids: HashMap<String, HashMap<String, i64>> = HashMap::with_capacity(messages.len());
    for row in returned {
        ids.entry(row.try_get(1).map_err(err)?)
            .or_default()
            .insert(row.try_get(2).map_err(err)?, row.try_get(0).map_err(err)?);
    }

    let mut recipients = Vec::new();
    let mut suppressed = Vec::new();
    let mut deliveries = Vec::new();
    for m in messages {
        let of_message = ids.get(m.id.as_str());
        let notification_ids: Vec<Option<i64>> = m
            .notifications
            .iter()
            .map(|body| of_message.and_then(|ids| ids.get(body.as_str()).copied()))
            .collect();
        for (position, r) in m.recipients.iter().enumerate() {
            recipients.push(json!([m.id, position, r.user, r.unread, r.suppressed]));
            for (device, reason) in &r.suppressed_devices {
                suppressed.push(json!([m.id, r.user, device, reason]));
            }
            for d in &r.deliveries {
                let notification = notification_ids
                    .get(d.notification)
                    .copied()
                    .flatten()
                    .ok_or_else(|| StoreError::new("delivery refers to no notification"))?;
                deliveries.push(json!([
                    m.id,
                    m.app,
                    r.user,
                    d.device_id,
                    notification,
                    kind_label(d.kind),
                    d.credential,
                    d.token,
                    m.created_at,
                    m.expires_at
                ]));
            }
        }
    }
    let statements = [
        (
            recipients,
            "INSERT INTO recipients (message_id, position, user_id, unread, suppressed)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4
             FROM json_each(?)",
        ),
        (
            suppressed,
            "INSERT INTO suppressed_devices (message_id, user_id, device_id, reason)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)",
        ),
        (
            deliveries,
            "INSERT INTO deliveries (message_id, app_id, user_id, device_id, notification_id,
                   kind, credential, token, state, attempts, run_at, expires_at, created_at,
                   updated_at)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4,
                    value ->> 5, value ->> 6, value ->> 7, 'pending', 0, value ->> 8,
                    value ->> 9, value ->> 8, value ->> 8
             FROM json_each(?)",
        ),
    ];
    for (rows, sql) in statements {
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sql)
            .bind(Value::Array(rows).to_string())
            .execute(&mut **tx)
            .await
            .map_err(err)?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
