//! The accept path's write: a group commit of messages with their notifications, recipients and
//! delivery rows, in one durable transaction.
//!
//! It runs on the hot paths' connection (see `raw.rs`): each row is bound to a statement
//! kept prepared and stepped in place, so a 10,000-recipient message costs
//! SQLite's own work and no thread hand-off per row. Rows go in accept order, so row ids still
//! follow it. (Postgres: `unnest` of arrays.)

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::mpsc;

use super::raw::raw_err;
use super::{SqliteStore, kind_label};
use crate::store::{
    AcceptLease, Accepted, Claimed, LeasedAtAccept, MessagePart, NewDelivery, NewMessage,
    NewRecipient, StoreError, WebhookFilter, abandoned,
};

impl SqliteStore {
    pub(super) async fn accept_impl(
        &self,
        messages: Vec<NewMessage>,
        lease: Option<AcceptLease>,
    ) -> Result<(Vec<Accepted>, LeasedAtAccept), StoreError> {
        let filter = self.webhook_filter();
        self.hot
            .transaction(true, move |conn| accept(conn, &messages, lease, &filter))
            .await
    }

    pub(super) async fn accept_in_parts_impl(
        &self,
        head: NewMessage,
        parts: mpsc::Receiver<MessagePart>,
        lease: Option<AcceptLease>,
    ) -> Result<(Accepted, LeasedAtAccept), StoreError> {
        let filter = self.webhook_filter();
        self.hot
            .transaction(true, move |conn| {
                accept_in_parts(conn, head, parts, lease, &filter)
            })
            .await
    }
}

fn accept(
    conn: &Connection,
    messages: &[NewMessage],
    lease: Option<AcceptLease>,
    filter: &WebhookFilter,
) -> Result<(Vec<Accepted>, LeasedAtAccept), StoreError> {
    let mut accepted = Vec::with_capacity(messages.len());
    let mut new = Vec::with_capacity(messages.len());
    for m in messages {
        match insert_message(conn, m)? {
            None => {
                new.push(m);
                accepted.push(Accepted {
                    message_id: m.id.clone(),
                    created: true,
                });
            }
            Some(earlier) => accepted.push(Accepted {
                message_id: earlier,
                created: false,
            }),
        }
    }
    let mut leased = LeasedAtAccept::default();
    if !new.is_empty() {
        let mut lessor = match lease {
            Some(lease) => Some(Lessor::new(conn, lease)?),
            None => None,
        };
        insert_rows(conn, &new, lessor.as_mut())?;
        if let Some(lessor) = lessor {
            leased = lessor.leased;
        }
        super::webhooks::accept_events(conn, &new, filter)?;
    }
    Ok((accepted, leased))
}

/// One message whose recipients come in `parts`, each written as it arrives: the caller reads
/// and renders the next part meanwhile. This thread waits for the parts with the write lock
/// held (other writes queue behind it, as behind any transaction); parts that end without a
/// last one leave an error, so the transaction's writes are undone.
fn accept_in_parts(
    conn: &Connection,
    mut head: NewMessage,
    mut parts: mpsc::Receiver<MessagePart>,
    lease: Option<AcceptLease>,
    filter: &WebhookFilter,
) -> Result<(Accepted, LeasedAtAccept), StoreError> {
    if let Some(earlier) = insert_message(conn, &head)? {
        // Dropping `parts` tells the caller to stop.
        return Ok((
            Accepted {
                message_id: earlier,
                created: false,
            },
            LeasedAtAccept::default(),
        ));
    }
    let mut lessor = lease.map(|lease| Lessor::new(conn, lease)).transpose()?;
    let mut written = Written::default();
    loop {
        let MessagePart {
            notifications,
            recipients,
            last,
        } = parts.blocking_recv().ok_or_else(abandoned)?;
        written.notifications(conn, &head.id, &notifications)?;
        head.notifications.extend(notifications);
        let first = head.recipients.len();
        insert_recipients(
            conn,
            &head,
            &recipients,
            first,
            &mut written,
            lessor.as_mut(),
        )?;
        head.recipients.extend(recipients);
        if last {
            break;
        }
    }
    super::webhooks::accept_events(conn, &[&head], filter)?;
    let accepted = Accepted {
        message_id: head.id,
        created: true,
    };
    Ok((accepted, lessor.map(|l| l.leased).unwrap_or_default()))
}

/// Inserts `m`'s row; `Some(earlier message)` instead when its idempotency key is taken
/// (between the caller's lookup and this transaction, or by an earlier message of its batch).
fn insert_message(conn: &Connection, m: &NewMessage) -> Result<Option<String>, StoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO messages
                   (id, app_id, idempotency_key, request_hash, body, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (app_id, idempotency_key) DO NOTHING",
        )
        .map_err(raw_err)?;
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
        return Ok(None);
    }
    let mut earlier = conn
        .prepare_cached("SELECT id FROM messages WHERE app_id = ?1 AND idempotency_key = ?2")
        .map_err(raw_err)?;
    let id: Option<String> = earlier
        .query_row(params![m.app, m.idempotency_key], |row| row.get(0))
        .optional()
        .map_err(raw_err)?;
    id.map(Some)
        .ok_or_else(|| StoreError::new("messages: a taken key has no message"))
}

/// Which new rows are written leased (see `worker::Handoff`): the first `lease.rows` of routes
/// not paused (a paused route's rows stay due, held as a claim would hold them).
struct Lessor {
    lease: AcceptLease,
    paused: HashSet<(String, String, String)>,
    leased: LeasedAtAccept,
}

impl Lessor {
    fn new(conn: &Connection, lease: AcceptLease) -> Result<Lessor, StoreError> {
        let mut read = conn
            .prepare_cached("SELECT app_id, kind, credential FROM paused_routes WHERE until > ?1")
            .map_err(raw_err)?;
        let paused = read
            .query_map(params![lease.now], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .map_err(raw_err)?
            .collect::<Result<_, _>>()
            .map_err(raw_err)?;
        Ok(Lessor {
            lease,
            paused,
            leased: LeasedAtAccept::default(),
        })
    }

    fn takes(&self, app: &str, d: &NewDelivery) -> bool {
        self.leased.rows.len() < self.lease.rows
            && !self.paused.contains(&(
                app.to_owned(),
                kind_label(d.kind).to_owned(),
                d.credential.clone(),
            ))
    }
}

/// The notifications, recipients, suppressed devices and delivery rows of new messages.
fn insert_rows(
    conn: &Connection,
    messages: &[&NewMessage],
    mut lessor: Option<&mut Lessor>,
) -> Result<(), StoreError> {
    for m in messages {
        let mut written = Written::default();
        written.notifications(conn, &m.id, &m.notifications)?;
        insert_recipients(
            conn,
            m,
            &m.recipients,
            0,
            &mut written,
            lessor.as_deref_mut(),
        )?;
    }
    Ok(())
}

/// A message's notifications written so far: their row ids by index, and whether each was
/// handed to the worker with a leased row.
#[derive(Default)]
struct Written {
    ids: Vec<i64>,
    handed: Vec<bool>,
}

impl Written {
    /// Inserts the message's next notifications.
    fn notifications(
        &mut self,
        conn: &Connection,
        message_id: &str,
        bodies: &[String],
    ) -> Result<(), StoreError> {
        let mut insert = conn
            .prepare_cached("INSERT INTO notifications (message_id, body) VALUES (?1, ?2)")
            .map_err(raw_err)?;
        for body in bodies {
            insert.execute(params![message_id, body]).map_err(raw_err)?;
            self.ids.push(conn.last_insert_rowid());
            self.handed.push(false);
        }
        Ok(())
    }
}

/// The rows of `recipients` of `m`, the first of them at `first_position` among the message's
/// recipients (`m`'s notifications up to these recipients' are in `written`).
fn insert_recipients(
    conn: &Connection,
    m: &NewMessage,
    recipients: &[NewRecipient],
    first_position: usize,
    written: &mut Written,
    mut lessor: Option<&mut Lessor>,
) -> Result<(), StoreError> {
    let prepare = |sql: &str| conn.prepare_cached(sql).map_err(raw_err);
    let mut recipient = prepare(
        "INSERT INTO recipients (message_id, position, user_id, unread, suppressed)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut suppressed = prepare(
        "INSERT INTO suppressed_devices (message_id, user_id, device_id, reason)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    // Due (pending, never tried), or as a claim at the lease's `now` would leave the row: in
    // flight, first attempt, leased.
    let mut delivery = prepare(
        "INSERT INTO deliveries (message_id, app_id, user_id, device_id, notification_id,
               kind, credential, token, state, attempts, lease_until, run_at, expires_at,
               created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?11, ?12, ?13, ?14, ?10, ?9, ?15)",
    )?;
    for (i, r) in recipients.iter().enumerate() {
        let position = first_position + i;
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
            let notification = written
                .ids
                .get(d.notification)
                .copied()
                .ok_or_else(|| StoreError::new("delivery refers to no notification"))?;
            let lessor = lessor.as_deref_mut().filter(|l| l.takes(&m.app, d));
            let (state, attempts, lease_until, run_at, updated_at) = match &lessor {
                Some(l) => (
                    "in_flight",
                    1,
                    Some(l.lease.lease_until),
                    l.lease.lease_until,
                    l.lease.now,
                ),
                None => ("pending", 0, None, m.created_at, m.created_at),
            };
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
                    m.expires_at,
                    state,
                    attempts,
                    lease_until,
                    run_at,
                    updated_at
                ])
                .map_err(raw_err)?;
            let Some(lessor) = lessor else {
                continue;
            };
            lessor.leased.rows.push(Claimed {
                id: conn.last_insert_rowid(),
                app: m.app.clone(),
                notification_id: notification,
                kind: d.kind,
                credential: d.credential.clone(),
                token: d.token.clone(),
                attempts: 1,
                retries: 0,
                expires_at: m.expires_at,
                last_reason: None,
                message_id: m.id.clone(),
                accepted_at: m.created_at,
            });
            if let Some(first) = written.handed.get_mut(d.notification)
                && !std::mem::replace(first, true)
            {
                lessor
                    .leased
                    .notifications
                    .push((notification, m.notifications[d.notification].clone()));
            }
        }
    }
    Ok(())
}
