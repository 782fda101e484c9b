//! Webhook events: written in the transactions of what caused them (outcomes, dead tokens,
//! daemon acks and drops, accepts' suppressed recipients), claimed per app under a lease by the
//! webhook worker. Only the (app, type) pairs of the store's [`WebhookFilter`] are written;
//! with an empty filter none of this runs a statement.
//!
//! The worker's reads and writes are in `queue.rs`.
//!
//! Each event's JSON is built by SQLite's `json_object` at creation (one shape for every
//! source, fields in the documented order) and never changes: every post sends the same bytes.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::raw::raw_err;
use super::{SqliteStore, kind_label};
use crate::store::{
    DaemonUpdate, DeliveryState, EventType, NewMessage, NewRecipient, StoreError, WebhookFilter,
    WriteBatch,
};

mod queue;

/// The store's filter, shared by its clones; replaced whole, read per transaction.
pub(super) type SharedFilter = Arc<RwLock<Arc<WebhookFilter>>>;

/// A fresh event id: what receivers dedupe on.
fn event_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

/// The insert every source shares: rows are JSON arrays `[event_id, app, type, message_id,
/// user_id, device_id, channel, reason]`.
const INSERT_EVENTS: &str = "INSERT INTO webhook_events
       (event_id, app_id, type, body, state, attempts, run_at, created_at, updated_at)
     SELECT value ->> 0, value ->> 1, value ->> 2,
            json_object('type', value ->> 2, 'id', value ->> 0, 'app', value ->> 1,
                        'message_id', value ->> 3, 'user_id', value ->> 4,
                        'device_id', value ->> 5, 'channel', value ->> 6,
                        'reason', value ->> 7, 'at_ms', ?1),
            'pending', 0, ?1, ?1, ?1
     FROM json_each(?2) ORDER BY key";

fn insert(conn: &Connection, rows: Vec<Value>, now: i64) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    conn.execute(INSERT_EVENTS, params![now, Value::Array(rows).to_string()])
        .map_err(raw_err)?;
    Ok(())
}

impl SqliteStore {
    pub(super) fn webhook_filter(&self) -> Arc<WebhookFilter> {
        match self.webhooks.read() {
            Ok(filter) => filter.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The events of the writer's outcomes and dead tokens, written before they are applied (in the
/// same transaction): an outcome counts only over an in-flight row, the first per row, as
/// `record_outcomes` applies it; a dead token only where its registration is removed.
pub(super) fn record_events(
    conn: &Connection,
    batch: &WriteBatch,
    now: i64,
    filter: &WebhookFilter,
) -> Result<(), StoreError> {
    if filter.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let outcomes: Vec<Value> = batch
        .outcomes
        .iter()
        .filter(|o| seen.insert(o.delivery_id))
        .filter_map(|o| {
            let (t, reason) = match o.state {
                DeliveryState::Delivered => (EventType::Delivered, None),
                DeliveryState::Dead => (
                    EventType::Dead,
                    Some(o.reason.clone().unwrap_or_else(|| o.outcome.clone())),
                ),
                _ => return None,
            };
            filter
                .any(t)
                .then(|| json!([o.delivery_id, t.as_str(), reason, event_id()]))
        })
        .collect();
    if !outcomes.is_empty() {
        conn.execute(
            "INSERT INTO webhook_events
                   (event_id, app_id, type, body, state, attempts, run_at, created_at, updated_at)
             SELECT o.value ->> 3, d.app_id, o.value ->> 1,
                    json_object('type', o.value ->> 1, 'id', o.value ->> 3, 'app', d.app_id,
                                'message_id', d.message_id, 'user_id', d.user_id,
                                'device_id', d.device_id,
                                'channel', d.kind || '/' || d.credential,
                                'reason', o.value ->> 2, 'at_ms', ?1),
                    'pending', 0, ?1, ?1, ?1
             FROM json_each(?2) AS o JOIN deliveries d ON d.id = o.value ->> 0
             WHERE d.state = 'in_flight'
               AND (d.app_id, o.value ->> 1) IN
                   (SELECT value ->> 0, value ->> 1 FROM json_each(?3))
             ORDER BY o.key",
            params![now, Value::Array(outcomes).to_string(), filter.to_json()],
        )
        .map_err(raw_err)?;
    }

    // Rare (a vendor's dead-token report): one lookup each, with the DELETE's own condition.
    let mut removed = HashSet::new();
    let mut rows = Vec::new();
    for d in &batch.dead {
        if !filter.wants(&d.app, EventType::TokenInvalidated) {
            continue;
        }
        let key = (&d.app, d.kind, &d.credential, &d.token);
        if removed.contains(&key) {
            continue;
        }
        let found: Option<(String, String)> = conn
            .query_row(
                "SELECT user_id, device_id FROM devices WHERE app_id = ?1 AND kind = ?2
                   AND credential = ?3 AND token = ?4 AND (?5 IS NULL OR updated_at <= ?5)",
                params![d.app, kind_label(d.kind), d.credential, d.token, d.since],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(raw_err)?;
        let Some((user, device)) = found else {
            continue;
        };
        removed.insert(key);
        rows.push(json!([
            event_id(),
            d.app,
            EventType::TokenInvalidated.as_str(),
            None::<String>,
            user,
            device,
            format!("{}/{}", kind_label(d.kind), d.credential),
            d.reason
        ]));
    }
    insert(conn, rows, now)
}

/// The events of daemon acks and drops, written before they are applied: each counts where its
/// row is not finished yet, the first per row.
pub(super) fn daemon_events(
    conn: &Connection,
    updates: &[DaemonUpdate],
    now: i64,
    filter: &WebhookFilter,
) -> Result<(), StoreError> {
    if filter.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    for u in updates {
        let t = match u.state {
            DeliveryState::Delivered => EventType::Delivered,
            DeliveryState::Dead => EventType::Dead,
            _ => continue,
        };
        if !filter.wants(&u.app, t) || !seen.insert((&u.app, &u.user, &u.device_id, &u.message_id))
        {
            continue;
        }
        let reason = (t == EventType::Dead).then(|| u.reason.clone().unwrap_or(u.outcome.clone()));
        conn.execute(
            "INSERT INTO webhook_events
                   (event_id, app_id, type, body, state, attempts, run_at, created_at, updated_at)
             SELECT ?1, app_id, ?2,
                    json_object('type', ?2, 'id', ?1, 'app', app_id, 'message_id', message_id,
                                'user_id', user_id, 'device_id', device_id,
                                'channel', kind || '/' || credential, 'reason', ?3,
                                'at_ms', ?4),
                    'pending', 0, ?4, ?4, ?4
             FROM deliveries
             WHERE message_id = ?5 AND user_id = ?6 AND device_id = ?7 AND app_id = ?8
               AND kind = 'daemon'
               AND (state = 'pending' OR state = 'in_flight' OR state = 'retrying'
                    OR state = 'queued')",
            params![
                event_id(),
                t.as_str(),
                reason,
                now,
                u.message_id,
                u.user,
                u.device_id,
                u.app
            ],
        )
        .map_err(raw_err)?;
    }
    Ok(())
}

/// The `suppressed` events of newly accepted messages: one per recipient who gets nothing, one
/// per device that gets nothing (`device_id` set).
pub(super) fn accept_events(
    conn: &Connection,
    messages: &[(&NewMessage, &[NewRecipient])],
    filter: &WebhookFilter,
) -> Result<(), StoreError> {
    if !filter.any(EventType::Suppressed) {
        return Ok(());
    }
    let t = EventType::Suppressed.as_str();
    let mut rows = Vec::new();
    let mut now = 0;
    for (m, recipients) in messages {
        if !filter.wants(&m.app, EventType::Suppressed) {
            continue;
        }
        now = now.max(m.created_at);
        for r in *recipients {
            if let Some(reason) = &r.suppressed {
                let device = None::<String>;
                rows.push(json!([
                    event_id(),
                    m.app,
                    t,
                    m.id,
                    r.user,
                    device,
                    None::<String>,
                    reason
                ]));
            }
            for (device, reason) in &r.suppressed_devices {
                rows.push(json!([
                    event_id(),
                    m.app,
                    t,
                    m.id,
                    r.user,
                    device,
                    None::<String>,
                    reason
                ]));
            }
        }
    }
    insert(conn, rows, now)
}
