//! Webhook events: written in the transactions of what caused them (outcomes, dead tokens,
//! daemon acks and drops, accepts' suppressed recipients), claimed per app under a lease by the
//! webhook worker (`webhooks/queue.rs`). Only the (app, type) pairs of the store's
//! [`WebhookFilter`] are written; with an empty filter none of this runs a statement.
//!
//! Each event's JSON is built here, byte for byte as SQLite's `json_object` builds it in the
//! twin (one shape for every source, fields in the documented order; Postgres' own JSON
//! builders space their output differently), and never changes: every post sends the same
//! bytes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use sqlx::{Postgres, Row, Transaction};

use super::{PgStore, err, kind_label};
use crate::store::{
    DaemonUpdate, DeliveryState, EventType, NewMessage, StoreError, WebhookFilter, WriteBatch,
};

mod queue;

/// The store's filter, shared by its clones; replaced whole, read per transaction.
pub(super) type SharedFilter = Arc<RwLock<Arc<WebhookFilter>>>;

/// A fresh event id: what receivers dedupe on.
fn event_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

/// One event to write.
struct Event {
    id: String,
    app: String,
    t: EventType,
    message_id: Option<String>,
    user_id: Option<String>,
    device_id: Option<String>,
    channel: Option<String>,
    reason: Option<String>,
}

impl Event {
    /// The event's JSON, as the SQLite twin's `json_object` writes it.
    fn body(&self, at_ms: i64) -> String {
        fn q(s: Option<&str>) -> String {
            serde_json::to_string(&s).unwrap_or_else(|_| "null".to_owned())
        }
        format!(
            "{{\"type\":{},\"id\":{},\"app\":{},\"message_id\":{},\"user_id\":{},\
             \"device_id\":{},\"channel\":{},\"reason\":{},\"at_ms\":{at_ms}}}",
            q(Some(self.t.as_str())),
            q(Some(&self.id)),
            q(Some(&self.app)),
            q(self.message_id.as_deref()),
            q(self.user_id.as_deref()),
            q(self.device_id.as_deref()),
            q(self.channel.as_deref()),
            q(self.reason.as_deref()),
        )
    }
}

/// Writes `events` (in order: their row ids follow it) as pending at `now`.
async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    events: &[Event],
    now: i64,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let apps: Vec<&str> = events.iter().map(|e| e.app.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.t.as_str()).collect();
    let bodies: Vec<String> = events.iter().map(|e| e.body(now)).collect();
    sqlx::query(
        "INSERT INTO webhook_events
               (event_id, app_id, type, body, state, attempts, run_at, created_at, updated_at)
         SELECT event_id, app_id, type, body, 'pending', 0, $1, $1, $1
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
              AS e(event_id, app_id, type, body, n)
         ORDER BY n",
    )
    .bind(now)
    .bind(&ids)
    .bind(&apps)
    .bind(&types)
    .bind(&bodies)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

impl PgStore {
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
pub(super) async fn record_events(
    tx: &mut Transaction<'static, Postgres>,
    batch: &WriteBatch,
    now: i64,
    filter: &WebhookFilter,
) -> Result<(), StoreError> {
    if filter.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let outcomes: Vec<(i64, EventType, Option<String>)> = batch
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
            filter.any(t).then_some((o.delivery_id, t, reason))
        })
        .collect();
    let mut events = Vec::new();
    if !outcomes.is_empty() {
        let mut ids: Vec<i64> = outcomes.iter().map(|o| o.0).collect();
        ids.sort_unstable();
        // Locked (in id order) until the commit: another node's writer recording an outcome
        // of the same row (its lease ran out and it was claimed again) waits, then no longer
        // sees it in flight, and writes no second event, as SQLite's one writer would.
        let rows = sqlx::query(
            "SELECT id, app_id, message_id, user_id, device_id, kind, credential
             FROM outbox WHERE id = ANY($1) AND state = 'in_flight' ORDER BY id
             FOR UPDATE",
        )
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(err)?;
        let mut rows_by_id = HashMap::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get(0).map_err(err)?;
            let kind: String = row.try_get(5).map_err(err)?;
            let credential: String = row.try_get(6).map_err(err)?;
            let fields: (String, String, String, String) = (
                row.try_get(1).map_err(err)?,
                row.try_get(2).map_err(err)?,
                row.try_get(3).map_err(err)?,
                row.try_get(4).map_err(err)?,
            );
            rows_by_id.insert(id, (fields, format!("{kind}/{credential}")));
        }
        for (id, t, reason) in outcomes {
            let Some(((app, message, user, device), channel)) = rows_by_id.get(&id) else {
                continue;
            };
            if !filter.wants(app, t) {
                continue;
            }
            events.push(Event {
                id: event_id(),
                app: app.clone(),
                t,
                message_id: Some(message.clone()),
                user_id: Some(user.clone()),
                device_id: Some(device.clone()),
                channel: Some(channel.clone()),
                reason,
            });
        }
    }

    // Rare (a vendor's dead-token report): one lookup each, with the DELETE's own condition.
    let mut removed = HashSet::new();
    for d in &batch.dead {
        if !filter.wants(&d.app, EventType::TokenInvalidated) {
            continue;
        }
        let key = (&d.app, d.kind, &d.credential, &d.token);
        if removed.contains(&key) {
            continue;
        }
        let found = sqlx::query(
            "SELECT user_id, device_id FROM devices WHERE app_id = $1 AND kind = $2
               AND credential = $3 AND token = $4 AND ($5::bigint IS NULL OR updated_at <= $5)
             FOR UPDATE",
        )
        .bind(&d.app)
        .bind(kind_label(d.kind))
        .bind(&d.credential)
        .bind(&d.token)
        .bind(d.since)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?;
        let Some(found) = found else { continue };
        removed.insert(key);
        events.push(Event {
            id: event_id(),
            app: d.app.clone(),
            t: EventType::TokenInvalidated,
            message_id: None,
            user_id: Some(found.try_get(0).map_err(err)?),
            device_id: Some(found.try_get(1).map_err(err)?),
            channel: Some(format!("{}/{}", kind_label(d.kind), d.credential)),
            reason: Some(d.reason.clone()),
        });
    }
    insert(tx, &events, now).await
}

/// The events of daemon acks and drops, written before they are applied: each counts where its
/// row is not finished yet, the first per row.
pub(super) async fn daemon_events(
    tx: &mut Transaction<'static, Postgres>,
    updates: &[DaemonUpdate],
    now: i64,
    filter: &WebhookFilter,
) -> Result<(), StoreError> {
    if filter.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let mut events = Vec::new();
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
        // Locked until the commit, as the outcomes' rows are (see `record_events`).
        let found = sqlx::query(
            "SELECT credential FROM outbox
             WHERE message_id = $1 AND user_id = $2 AND device_id = $3 AND app_id = $4
               AND kind = 'daemon' AND state IN ('pending', 'in_flight', 'retrying', 'queued')
             FOR UPDATE",
        )
        .bind(&u.message_id)
        .bind(&u.user)
        .bind(&u.device_id)
        .bind(&u.app)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?;
        let Some(found) = found else { continue };
        let credential: String = found.try_get(0).map_err(err)?;
        let reason = (t == EventType::Dead).then(|| u.reason.clone().unwrap_or(u.outcome.clone()));
        events.push(Event {
            id: event_id(),
            app: u.app.clone(),
            t,
            message_id: Some(u.message_id.clone()),
            user_id: Some(u.user.clone()),
            device_id: Some(u.device_id.clone()),
            channel: Some(format!("daemon/{credential}")),
            reason,
        });
    }
    insert(tx, &events, now).await
}

/// The `suppressed` events of newly accepted messages: one per recipient who gets nothing, one
/// per device that gets nothing (`device_id` set).
pub(super) async fn accept_events(
    tx: &mut Transaction<'static, Postgres>,
    messages: &[&NewMessage],
    filter: &WebhookFilter,
) -> Result<(), StoreError> {
    if !filter.any(EventType::Suppressed) {
        return Ok(());
    }
    let mut events = Vec::new();
    let mut now = 0;
    for m in messages {
        if !filter.wants(&m.app, EventType::Suppressed) {
            continue;
        }
        now = now.max(m.created_at);
        for r in &m.recipients {
            let event = |device: Option<&String>, reason: &String| Event {
                id: event_id(),
                app: m.app.clone(),
                t: EventType::Suppressed,
                message_id: Some(m.id.clone()),
                user_id: Some(r.user.clone()),
                device_id: device.cloned(),
                channel: None,
                reason: Some(reason.clone()),
            };
            if let Some(reason) = &r.suppressed {
                events.push(event(None, reason));
            }
            for (device, reason) in &r.suppressed_devices {
                events.push(event(Some(device), reason));
            }
        }
    }
    insert(tx, &events, now).await
}
