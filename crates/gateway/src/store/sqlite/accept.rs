//! The accept path's write: a group commit of messages with their notifications, recipients and
//! delivery rows, in one durable transaction.
//!
//! It runs on the hot paths' connection (see `raw.rs`): each row is bound to a statement
//! kept prepared and stepped in place, so a 10,000-recipient message costs
//! SQLite's own work and no thread hand-off per row. Messages go in accept order, and a
//! message's delivery rows grouped by notification (see `insert_rows`). (Postgres: `unnest` of
//! arrays.)

use rusqlite::{Connection, OptionalExtension, params};

use super::raw::raw_err;
use super::{SqliteStore, kind_label};
use crate::store::{
    AcceptLease, Accepted, Claimed, LeasedAtAccept, NewDelivery, NewMessage, StoreError,
    WebhookFilter,
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
}

fn accept(
    conn: &Connection,
    messages: &[NewMessage],
    lease: Option<AcceptLease>,
    filter: &WebhookFilter,
) -> Result<(Vec<Accepted>, LeasedAtAccept), StoreError> {
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

/// The notifications, recipients, suppressed devices and delivery rows of new messages.
fn insert_rows(
    conn: &Connection,
    messages: &[&NewMessage],
    mut lessor: Option<&mut Lessor>,
) -> Result<(), StoreError> {
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
    // Due (pending, never tried), or as a claim at the lease's `now` would leave the row: in
    // flight, first attempt, leased.
    let mut delivery = prepare(
        "INSERT INTO deliveries (message_id, app_id, user_id, device_id, notification_id,
               kind, credential, token, state, attempts, lease_until, run_at, expires_at,
               created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?11, ?12, ?13, ?14, ?10, ?9, ?15)",
    )?;
    for m in messages {
        let mut notification_ids = Vec::with_capacity(m.notifications.len());
        for body in &m.notifications {
            notification.execute(params![m.id, body]).map_err(raw_err)?;
            notification_ids.push(conn.last_insert_rowid());
        }
        let mut handed = vec![false; m.notifications.len()];
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
        }
        // The delivery rows of one notification go in together, in recipient order: they are
        // sent as one dispatch and their outcomes recorded together, so that record rewrites a
        // few adjacent pages rather than a page per row (a group message whose recipients
        // share 99 renderings had each record touch ~250 pages spread over the message's),
        // and their ids are consecutive, so alike outcomes are recorded by id range
        // (`outbox.rs`).
        let mut rows: Vec<(&str, &NewDelivery)> = m
            .recipients
            .iter()
            .flat_map(|r| r.deliveries.iter().map(|d| (r.user.as_str(), d)))
            .collect();
        rows.sort_by_key(|(_, d)| d.notification);
        for (user, d) in rows {
            let notification = notification_ids
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
            if let Some(first) = handed.get_mut(d.notification)
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
