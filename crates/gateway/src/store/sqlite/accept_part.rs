//! A big message's accept in parts, each a durable transaction of its own.
//!
//! Why: one transaction for a 10,000-recipient message held the one writer for a third of the
//! end-to-end time, and its rows reached the worker only after its commit. In parts, the rows of
//! each part are sent while the next part is written, and the worker's outcomes commit between
//! the parts.
//!
//! The message row says whether it is whole (`complete`, migration 0006): written 0 by the first
//! part, 1 by the last. The API answers 202 only after the last part's commit. If the accept
//! stops half-way (a crash, a failed part), the same idempotency key again runs it again under
//! the same id (`Service::accept`): rows already there are kept (every row is unique per message
//! and recipient, or message, recipient and device), the missing ones written, and the message
//! marked complete.

use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::accept::{Lessor, insert_rows};
use super::raw::raw_err;
use crate::store::{
    AcceptLease, AcceptPart, Accepted, LeasedAtAccept, NewMessage, StoreError, WebhookFilter,
};

impl SqliteStore {
    pub(super) async fn accept_part_impl(
        &self,
        part: NewMessage,
        which: AcceptPart,
        lease: Option<AcceptLease>,
    ) -> Result<(Accepted, LeasedAtAccept), StoreError> {
        let filter = self.webhook_filter();
        self.hot
            .transaction(true, move |conn| {
                accept_part(conn, part, which, lease, &filter)
            })
            .await
    }

    pub(super) async fn incomplete_impl(
        &self,
        app: &str,
        message: &str,
    ) -> Result<bool, StoreError> {
        let (app, message) = (app.to_owned(), message.to_owned());
        self.hot_reader
            .run(move |conn| {
                let complete: Option<bool> = conn
                    .prepare_cached("SELECT complete FROM messages WHERE id = ?1 AND app_id = ?2")
                    .map_err(raw_err)?
                    .query_row(params![message, app], |row| row.get(0))
                    .optional()
                    .map_err(raw_err)?;
                Ok(complete == Some(false))
            })
            .await
    }
}

fn accept_part(
    conn: &Connection,
    mut part: NewMessage,
    which: AcceptPart,
    lease: Option<AcceptLease>,
    filter: &WebhookFilter,
) -> Result<(Accepted, LeasedAtAccept), StoreError> {
    let mut created = false;
    if which.first {
        created = conn
            .prepare_cached(
                "INSERT INTO messages (id, app_id, idempotency_key, request_hash, body,
                       created_at, expires_at, complete)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (app_id, idempotency_key) DO NOTHING",
            )
            .map_err(raw_err)?
            .execute(params![
                part.id,
                part.app,
                part.idempotency_key,
                &part.request_hash[..],
                part.body,
                part.created_at,
                part.expires_at,
                which.last
            ])
            .map_err(raw_err)?
            == 1;
        if !created {
            let earlier: Option<String> = conn
                .prepare_cached(
                    "SELECT id FROM messages WHERE app_id = ?1 AND idempotency_key = ?2",
                )
                .map_err(raw_err)?
                .query_row(params![part.app, part.idempotency_key], |row| row.get(0))
                .optional()
                .map_err(raw_err)?;
            let earlier =
                earlier.ok_or_else(|| StoreError::new("messages: a taken key has no message"))?;
            if earlier != part.id {
                // Another message took the key: it answers, and this one writes nothing.
                let accepted = Accepted {
                    message_id: earlier,
                    created: false,
                };
                return Ok((accepted, LeasedAtAccept::default()));
            }
            // The same message, written in part by an accept that stopped: resumed below.
        }
    } else {
        let found: Option<i64> = conn
            .prepare_cached("SELECT 1 FROM messages WHERE id = ?1 AND app_id = ?2")
            .map_err(raw_err)?
            .query_row(params![part.id, part.app], |row| row.get(0))
            .optional()
            .map_err(raw_err)?;
        if found.is_none() {
            return Err(StoreError::new("messages: a later part's message is gone"));
        }
    }
    let mut lessor = match lease {
        Some(lease) => Some(Lessor::new(conn, lease)?),
        None => None,
    };
    // Only the first part of a new message writes into an empty message.
    let resume = !(which.first && created);
    let fresh = insert_rows(conn, &part, which.offset, resume, lessor.as_mut())?;
    // A new message written whole by its one part was inserted complete.
    if which.last && !created {
        conn.prepare_cached("UPDATE messages SET complete = 1 WHERE id = ?1 AND complete = 0")
            .map_err(raw_err)?
            .execute(params![part.id])
            .map_err(raw_err)?;
    }
    // Suppression events for the recipients written now only (a resumed accept's earlier ones
    // had theirs).
    let mut fresh = fresh.into_iter();
    part.recipients.retain(|_| fresh.next().unwrap_or(false));
    super::webhooks::accept_events(conn, &[&part], filter)?;
    let leased = lessor.map(|l| l.leased).unwrap_or_default();
    let accepted = Accepted {
        message_id: part.id,
        created,
    };
    Ok((accepted, leased))
}
