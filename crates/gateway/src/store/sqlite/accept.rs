//! The accept path's write: a group commit of messages with their notifications, recipients and
//! delivery rows, in one durable transaction.
//!
//! It runs on the hot paths' connection (see `raw.rs`): each row is bound to a statement
//! kept prepared and stepped in place, so a 10,000-recipient message costs
//! SQLite's own work and no thread hand-off per row. Messages go in accept order, and a
//! message's delivery rows grouped by notification (see `insert_rows`). (Postgres: `unnest` of
//! arrays.)
//!
//! A message whose recipients come in parts (`accept_streamed`) is written part by part as
//! they arrive, in the one transaction: the writer inserts a part's rows while the next part's
//! recipients are read and rendered on other threads.

use rusqlite::{Connection, OptionalExtension, params};

use super::raw::raw_err;
use super::{SqliteStore, kind_label};
use crate::store::{
    AcceptLease, Accepted, Claimed, LeasedAtAccept, MorePart, MoreRecipients, NewDelivery,
    NewMessage, NewRecipient, StoreError, WebhookFilter,
};

impl SqliteStore {
    pub(super) async fn accept_impl(
        &self,
        messages: Vec<NewMessage>,
        lease: Option<AcceptLease>,
    ) -> Result<(Vec<Accepted>, LeasedAtAccept), StoreError> {
        let filter = self.webhook_filter();
        self.hot
            .transaction(true, move |conn| {
                let written = accept(conn, &messages, lease, &filter)?;
                let leased = written.lessor.map(|l| l.leased).unwrap_or_default();
                Ok((written.accepted, leased))
            })
            .await
    }

    pub(super) async fn accept_streamed_impl(
        &self,
        message: NewMessage,
        mut more: MoreRecipients,
        lease: Option<AcceptLease>,
    ) -> Result<(Accepted, LeasedAtAccept), StoreError> {
        let filter = self.webhook_filter();
        self.hot
            .transaction(true, move |conn| {
                let messages = std::slice::from_ref(&message);
                let Written {
                    mut accepted,
                    mut lessor,
                    rows,
                } = accept(conn, messages, lease, &filter)?;
                let accepted = accepted
                    .pop()
                    .ok_or_else(|| StoreError::new("an accept answered no message"))?;
                // A key taken meanwhile: nothing was written, and the parts are not wanted.
                if let Some(mut rows) = rows.into_iter().next() {
                    loop {
                        match more.blocking_next() {
                            MorePart::Recipients {
                                notifications,
                                recipients,
                            } => {
                                rows.insert(conn, &notifications, &recipients, lessor.as_mut())?;
                                super::webhooks::accept_events(
                                    conn,
                                    &[(&message, &recipients[..])],
                                    &filter,
                                )?;
                            }
                            MorePart::End => break,
                            // The transaction is rolled back.
                            MorePart::Failed(why) => return Err(StoreError::new(why)),
                        }
                    }
                }
                Ok((accepted, lessor.map(|l| l.leased).unwrap_or_default()))
            })
            .await
    }
}

/// What [`accept`] wrote.
struct Written<'m> {
    /// Each message's answer.
    accepted: Vec<Accepted>,
    /// The rows leased so far (with a lease).
    lessor: Option<Lessor>,
    /// Per new message, its writer, to add more recipients with.
    rows: Vec<MessageRows<'m>>,
}

/// Inserts the messages that are new (their keys not taken) with their notifications,
/// recipients and delivery rows.
fn accept<'m>(
    conn: &Connection,
    messages: &'m [NewMessage],
    lease: Option<AcceptLease>,
    filter: &WebhookFilter,
) -> Result<Written<'m>, StoreError> {
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
    let mut lessor = None;
    let mut writers = Vec::with_capacity(new.len());
    if !new.is_empty() {
        lessor = match lease {
            Some(lease) => Some(Lessor::new(conn, lease)?),
            None => None,
        };
        for m in &new {
            let mut rows = MessageRows::new(m);
            rows.insert(conn, &m.notifications, &m.recipients, lessor.as_mut())?;
            writers.push(rows);
        }
        let parts: Vec<(&NewMessage, &[NewRecipient])> =
            new.iter().map(|m| (*m, &m.recipients[..])).collect();
        super::webhooks::accept_events(conn, &parts, filter)?;
    }
    Ok(Written {
        accepted,
        lessor,
        rows: writers,
    })
}

/// Which new rows are written leased (see `worker::Handoff`): the first `lease.rows` of routes
/// not paused (a paused route's rows stay due, held as a claim would hold them).
struct Lessor {
    lease: AcceptLease,
    /// `(app, kind, credential)` of the paused routes: a few at most, compared in place so a
    /// row's check builds nothing.
    paused: Vec<(String, String, String)>,
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
        let kind = kind_label(d.kind);
        self.leased.rows.len() < self.lease.rows
            && !self
                .paused
                .iter()
                .any(|(a, k, c)| a == app && k == kind && *c == d.credential)
    }
}

/// Writes a new message's notifications, recipients, suppressed devices and delivery rows,
/// in one part or several.
struct MessageRows<'m> {
    message: &'m NewMessage,
    /// Every notification written so far, by index: its row id and its JSON.
    notifications: Vec<(i64, String)>,
    /// Whether a leased row of the notification was handed over (its JSON goes once).
    handed: Vec<bool>,
    /// The next recipient's position in the request.
    position: i64,
}

impl<'m> MessageRows<'m> {
    fn new(message: &'m NewMessage) -> Self {
        MessageRows {
            message,
            notifications: Vec::new(),
            handed: Vec::new(),
            position: 0,
        }
    }

    /// Writes `notifications` (the next indices) and `recipients` (the next positions).
    fn insert(
        &mut self,
        conn: &Connection,
        notifications: &[String],
        recipients: &[NewRecipient],
        mut lessor: Option<&mut Lessor>,
    ) -> Result<(), StoreError> {
        let m = self.message;
        let prepare = |sql: &str| conn.prepare_cached(sql).map_err(raw_err);
        let mut notification =
            prepare("INSERT INTO notifications (message_id, body) VALUES (?1, ?2)")?;
        let mut recipient = prepare(
            "INSERT INTO recipients (message_id, position, user_id, unread, suppressed)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut suppressed = prepare(
            "INSERT INTO suppressed_devices (message_id, user_id, device_id, reason)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        // Due (pending, never tried), or as a claim at the lease's `now` would leave the row:
        // in flight, first attempt, leased.
        let mut delivery = prepare(
            "INSERT INTO deliveries (message_id, app_id, user_id, device_id, notification_id,
                   kind, credential, token, state, attempts, lease_until, run_at, expires_at,
                   created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?11, ?12, ?13, ?14, ?10, ?9, ?15)",
        )?;
        for body in notifications {
            notification.execute(params![m.id, body]).map_err(raw_err)?;
            self.notifications
                .push((conn.last_insert_rowid(), body.clone()));
            self.handed.push(false);
        }
        for r in recipients {
            recipient
                .execute(params![m.id, self.position, r.user, r.unread, r.suppressed])
                .map_err(raw_err)?;
            self.position += 1;
            for (device, reason) in &r.suppressed_devices {
                suppressed
                    .execute(params![m.id, r.user, device, reason])
                    .map_err(raw_err)?;
            }
        }
        // The delivery rows of one notification go in together, in recipient order: they are
        // sent as one dispatch and their outcomes recorded together, so that record rewrites a
        // few adjacent pages rather than a page per row (a group message whose recipients
        // share 99 renderings had each record touch ~250 pages spread over the message's),
        // and their ids are consecutive, so alike outcomes are recorded by id range
        // (`outbox.rs`). (Within a part, for a message written in parts.)
        let mut rows: Vec<(&str, &NewDelivery)> = recipients
            .iter()
            .flat_map(|r| r.deliveries.iter().map(|d| (r.user.as_str(), d)))
            .collect();
        rows.sort_by_key(|(_, d)| d.notification);
        for (user, d) in rows {
            let notification = self
                .notifications
                .get(d.notification)
                .map(|(id, _)| *id)
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
                    user,
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
            if let Some(first) = self.handed.get_mut(d.notification)
                && !std::mem::replace(first, true)
            {
                lessor
                    .leased
                    .notifications
                    .push((notification, self.notifications[d.notification].1.clone()));
            }
        }
        Ok(())
    }
}
