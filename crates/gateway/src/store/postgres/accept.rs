//! The accept path's write: a group commit of messages with their notifications, recipients and
//! delivery rows, each table written by one statement for the whole batch (rows as arrays,
//! `UNNEST ... WITH ORDINALITY` so row ids follow accept order).

use std::collections::{HashMap, HashSet};

use sqlx::{Postgres, Row, Transaction};

use super::{PgStore, err, kind_label};
use crate::store::{Accepted, NewMessage, StoreError};

impl PgStore {
    pub(super) async fn accept_impl(
        &self,
        messages: &[NewMessage],
    ) -> Result<Vec<Accepted>, StoreError> {
        let mut tx = self.tx().await?;
        let inserted = insert_messages(&mut tx, messages).await?;
        let new: Vec<&NewMessage> = messages
            .iter()
            .filter(|m| inserted.contains(m.id.as_str()))
            .collect();
        if !new.is_empty() {
            if insert_rows(&mut tx, &new).await? {
                // Every node's idle workers, at commit (not before: the rows are not visible
                // until then); one per transaction, however many rows.
                notify_outbox(&mut tx).await?;
            }
            super::webhooks::accept_events(&mut tx, &new, &self.webhook_filter()).await?;
        }
        // The key was taken between the caller's lookup and this transaction (by another node,
        // or by an earlier message of this batch): the earlier message answers. The INSERT
        // above waited for any transaction holding the key and this statement's snapshot is
        // newer (READ COMMITTED), so the earlier message is visible here.
        let taken: Vec<&NewMessage> = messages
            .iter()
            .filter(|m| !inserted.contains(m.id.as_str()))
            .collect();
        let mut earlier: HashMap<(String, String), String> = HashMap::new();
        if !taken.is_empty() {
            let apps: Vec<&str> = taken.iter().map(|m| m.app.as_str()).collect();
            let keys: Vec<&str> = taken.iter().map(|m| m.idempotency_key.as_str()).collect();
            let rows = sqlx::query(
                "SELECT m.app_id, m.idempotency_key, m.id
                 FROM UNNEST($1::text[], $2::text[]) AS k(app_id, key)
                 JOIN messages m ON m.app_id = k.app_id AND m.idempotency_key = k.key",
            )
            .bind(&apps)
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
            for row in rows {
                earlier.insert(
                    (row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?),
                    row.try_get(2).map_err(err)?,
                );
            }
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
            let id = earlier
                .get(&(m.app.clone(), m.idempotency_key.clone()))
                .cloned()
                .ok_or_else(|| StoreError::new("messages: an idempotency key taken by nothing"))?;
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
///
/// Two nodes' batches taking the same keys: `ON CONFLICT DO NOTHING` waits for the transaction
/// holding a key and skips it once that one commits (or takes it if that one rolls back). The
/// rows go in sorted by (app, key), so two batches wait for each other's keys in one order and
/// never deadlock.
async fn insert_messages(
    tx: &mut Transaction<'static, Postgres>,
    messages: &[NewMessage],
) -> Result<HashSet<String>, StoreError> {
    let mut sorted: Vec<&NewMessage> = messages.iter().collect();
    sorted.sort_by(|a, b| (&a.app, &a.idempotency_key).cmp(&(&b.app, &b.idempotency_key)));
    let ids: Vec<&str> = sorted.iter().map(|m| m.id.as_str()).collect();
    let apps: Vec<&str> = sorted.iter().map(|m| m.app.as_str()).collect();
    let keys: Vec<&str> = sorted.iter().map(|m| m.idempotency_key.as_str()).collect();
    let hashes: Vec<Vec<u8>> = sorted.iter().map(|m| m.request_hash.to_vec()).collect();
    let bodies: Vec<&str> = sorted.iter().map(|m| m.body.as_str()).collect();
    let created: Vec<i64> = sorted.iter().map(|m| m.created_at).collect();
    let expires: Vec<i64> = sorted.iter().map(|m| m.expires_at).collect();
    let rows = sqlx::query(
        "INSERT INTO messages
               (id, app_id, idempotency_key, request_hash, body, created_at, expires_at)
         SELECT id, app_id, key, hash, body, created_at, expires_at
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::bigint[],
                     $7::bigint[]) WITH ORDINALITY
              AS m(id, app_id, key, hash, body, created_at, expires_at, n)
         ORDER BY n
         ON CONFLICT (app_id, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(&ids)
    .bind(&apps)
    .bind(&keys)
    .bind(&hashes)
    .bind(&bodies)
    .bind(&created)
    .bind(&expires)
    .fetch_all(&mut **tx)
    .await
    .map_err(err)?;
    rows.iter()
        .map(|row| row.try_get::<String, _>(0).map_err(err))
        .collect()
}

/// `NOTIFY pushway_outbox` in `tx`: Postgres delivers it to the listening nodes at commit only
/// (and folds repeats within one transaction into one).
pub(super) async fn notify_outbox(
    tx: &mut Transaction<'static, Postgres>,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(super::node::CHANNEL)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

/// The notifications, recipients, suppressed devices and delivery rows of new messages;
/// whether any delivery row was written.
async fn insert_rows(
    tx: &mut Transaction<'static, Postgres>,
    messages: &[&NewMessage],
) -> Result<bool, StoreError> {
    let (n_messages, n_bodies): (Vec<&str>, Vec<&str>) = messages
        .iter()
        .flat_map(|m| m.notifications.iter().map(|b| (m.id.as_str(), b.as_str())))
        .unzip();
    let returned = sqlx::query(
        "INSERT INTO notifications (message_id, body)
         SELECT message_id, body FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY
              AS n(message_id, body, n)
         ORDER BY n
         RETURNING id, message_id, body",
    )
    .bind(&n_messages)
    .bind(&n_bodies)
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

    let mut r = Recipients::default();
    let mut s = Suppressed::default();
    let mut d = Deliveries::default();
    for m in messages {
        let of_message = ids.get(m.id.as_str());
        let notification_ids: Vec<Option<i64>> = m
            .notifications
            .iter()
            .map(|body| of_message.and_then(|ids| ids.get(body.as_str()).copied()))
            .collect();
        for (position, rc) in m.recipients.iter().enumerate() {
            r.message.push(&m.id);
            r.position.push(i64::try_from(position).unwrap_or(i64::MAX));
            r.user.push(&rc.user);
            r.unread.push(i64::from(rc.unread));
            r.suppressed.push(rc.suppressed.as_deref());
            for (device, reason) in &rc.suppressed_devices {
                s.message.push(&m.id);
                s.user.push(&rc.user);
                s.device.push(device);
                s.reason.push(reason);
            }
            for dl in &rc.deliveries {
                let notification = notification_ids
                    .get(dl.notification)
                    .copied()
                    .flatten()
                    .ok_or_else(|| StoreError::new("delivery refers to no notification"))?;
                d.message.push(&m.id);
                d.app.push(&m.app);
                d.user.push(&rc.user);
                d.device.push(&dl.device_id);
                d.notification.push(notification);
                d.kind.push(kind_label(dl.kind));
                d.credential.push(&dl.credential);
                d.token.push(&dl.token);
                d.created.push(m.created_at);
                d.expires.push(m.expires_at);
            }
        }
    }
    if !r.message.is_empty() {
        sqlx::query(
            "INSERT INTO recipients (message_id, position, user_id, unread, suppressed)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                                  $5::text[])",
        )
        .bind(&r.message)
        .bind(&r.position)
        .bind(&r.user)
        .bind(&r.unread)
        .bind(&r.suppressed)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    if !s.message.is_empty() {
        sqlx::query(
            "INSERT INTO suppressed_devices (message_id, user_id, device_id, reason)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])",
        )
        .bind(&s.message)
        .bind(&s.user)
        .bind(&s.device)
        .bind(&s.reason)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    if !d.message.is_empty() {
        sqlx::query(
            "INSERT INTO outbox (message_id, app_id, user_id, device_id, notification_id,
                   kind, credential, token, state, attempts, run_at, expires_at, created_at,
                   updated_at)
             SELECT message_id, app_id, user_id, device_id, notification_id, kind, credential,
                    token, 'pending', 0, created_at, expires_at, created_at, created_at
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                         $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])
                  WITH ORDINALITY
                  AS d(message_id, app_id, user_id, device_id, notification_id, kind,
                       credential, token, created_at, expires_at, n)
             ORDER BY n",
        )
        .bind(&d.message)
        .bind(&d.app)
        .bind(&d.user)
        .bind(&d.device)
        .bind(&d.notification)
        .bind(&d.kind)
        .bind(&d.credential)
        .bind(&d.token)
        .bind(&d.created)
        .bind(&d.expires)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    Ok(!d.message.is_empty())
}

/// Recipient rows as columns.
#[derive(Default)]
struct Recipients<'a> {
    message: Vec<&'a str>,
    position: Vec<i64>,
    user: Vec<&'a str>,
    unread: Vec<i64>,
    suppressed: Vec<Option<&'a str>>,
}

/// Suppressed-device rows as columns.
#[derive(Default)]
struct Suppressed<'a> {
    message: Vec<&'a str>,
    user: Vec<&'a str>,
    device: Vec<&'a str>,
    reason: Vec<&'a str>,
}

/// Delivery rows as columns.
#[derive(Default)]
struct Deliveries<'a> {
    message: Vec<&'a str>,
    app: Vec<&'a str>,
    user: Vec<&'a str>,
    device: Vec<&'a str>,
    notification: Vec<i64>,
    kind: Vec<&'static str>,
    credential: Vec<&'a str>,
    token: Vec<&'a str>,
    created: Vec<i64>,
    expires: Vec<i64>,
}
