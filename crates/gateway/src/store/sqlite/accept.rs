//! The accept path's write: a group commit of messages with their notifications, recipients and
//! delivery rows, in one durable transaction.
//!
//! It runs on the hot paths' connection (see `raw.rs`): each row is bound to a statement
//! kept prepared and stepped in place, so a 10,000-recipient message costs
//! SQLite's own work and no thread hand-off per row. Rows go in accept order, so row ids still
//! follow it. (Postgres: `unnest` of arrays.)

use rusqlite::{Connection, OptionalExtension, params};

use super::raw::raw_err;
use super::{SqliteStore, kind_label};
use crate::store::{Accepted, NewMessage, StoreError, WebhookFilter};

impl SqliteStore {
    pub(super) async fn accept_impl(
        &self,
        messages: &[NewMessage],
    ) -> Result<Vec<Accepted>, StoreError> {
        let messages = messages.to_vec();
        let filter = self.webhook_filter();
        self.hot
            .transaction(true, move |conn| accept(conn, &messages, &filter))
            .await
    }
}

fn accept(
    conn: &Connection,
    messages: &[NewMessage],
    filter: &WebhookFilter,
) -> Result<Vec<Accepted>, StoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO messages
                   (id, app_id, idempotency_key, request_hash, body, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (app_id, idempotency_key) DO NOTHING",
        )
        .map_err(raw_err)?;
    let mut earlier = conn
        .prepare_cached("SELECT id FROM messages WHERE app_id = ?1 AND idempotency_key = ?2")
        .map_err(raw_err)?;
    let mut accepted = Vec::with_capacity(messages.len());
    let mut new = Vec::with_capacity(messages.len());
    for m in messages {
        let inserted = insert
            .execute(params![
                m.id,
                m.app,
                m.idempotency_key,
                &m.request_hash[..],
                m.body,
                m.created_at,
                m.expires_at
            ])
            .map_err(raw_err)?;
        if inserted == 1 {
            new.push(m);
            accepted.push(Accepted {
                message_id: m.id.clone(),
                created: true,
            });
            continue;
        }
        // The key was taken between the caller's lookup and this transaction (or by an
        // earlier message of this batch): the earlier message answers.
        let id: Option<String> = earlier
            .query_row(params![m.app, m.idempotency_key], |row| row.get(0))
            .optional()
            .map_err(raw_err)?;
        let id = id.ok_or_else(|| StoreError::new("messages: a taken key has no message"))?;
        accepted.push(Accepted {
            message_id: id,
            created: false,
        });
    }
    if !new.is_empty() {
        insert_rows(conn, &new)?;
        super::webhooks::accept_events(conn, &new, filter)?;
    }
    Ok(accepted)
}

/// The notifications, recipients, suppressed devices and delivery rows of new messages.
fn insert_rows(conn: &Connection, messages: &[&NewMessage]) -> Result<(), StoreError> {
    let prepare = |sql: &str| conn.prepare_cached(sql).map_err(raw_err);
    let mut notification = prepare("INSERT INTO notifications (message_id, body) VALUES (?1, ?2)")?;
    let mut recipient = prepare(
        "INSERT INTO recipients (message_id, position, user_id, unread, suppressed)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut suppressed = prepare(
        "INSERT INTO suppressed_devices (message_id, user_id, device_id, reason)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut delivery = prepare(
        "INSERT INTO deliveries (message_id, app_id, user_id, device_id, notification_id,
               kind, credential, token, state, attempts, run_at, expires_at, created_at,
               updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?10, ?9, ?9)",
    )?;
    for m in messages {
        let mut notification_ids = Vec::with_capacity(m.notifications.len());
        for body in &m.notifications {
            notification.execute(params![m.id, body]).map_err(raw_err)?;
            notification_ids.push(conn.last_insert_rowid());
        }
        for (position, r) in m.recipients.iter().enumerate() {
            let position = i64::try_from(position).map_err(StoreError::new)?;
            recipient
                .execute(params![m.id, position, r.user, r.unread, r.suppressed])
                .map_err(raw_err)?;
            for (device, reason) in &r.suppressed_devices {
                suppressed
                    .execute(params![m.id, r.user, device, reason])
                    .map_err(raw_err)?;
            }
            for d in &r.deliveries {
                let notification = notification_ids
                    .get(d.notification)
                    .copied()
                    .ok_or_else(|| StoreError::new("delivery refers to no notification"))?;
                delivery
                    .execute(params![
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
                    ])
                    .map_err(raw_err)?;
            }
        }
    }
    Ok(())
}
