//! Row → type mapping both SQL back ends share. The SQLite and Postgres stores differ in their
//! SQL; the columns their reads return (listed on each function) and what is made of them are
//! the same, so that part is written once here, over any `sqlx` row.

use sqlx::{ColumnIndex, Decode, Row, Type};

use std::collections::HashMap;

use super::{
    ClaimedEvent, DeadLetter, DeadTokenEntry, DeliveryState, DeliveryStatus, EventCounts,
    EventMessage, MessageStatus, NotReplayed, PausedRoute, RecentDelivery, RecipientStatus,
    Replayed, RoutePaused, StoreError, SuppressedDevice,
};
use pushway_core::TokenKind;

/// Typed column reads of a row, with sqlx's error turned into a [`StoreError`].
pub(super) trait Cols {
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// A nullable integer column.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// A text column.
    fn text(&self, i: usize) -> Result<String, StoreError>;
    /// A nullable text column.
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// A boolean column.
    fn flag(&self, i: usize) -> Result<bool, StoreError>;
    /// A nullable boolean column.
    fn opt_flag(&self, i: usize) -> Result<Option<bool>, StoreError>;
}

impl<R: Row> Cols for R
where
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.try_get(i).map_err(StoreError::new)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.try_get(i).map_err(StoreError::new)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.try_get(i).map_err(StoreError::new)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.try_get(i).map_err(StoreError::new)
    }
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        self.try_get(i).map_err(StoreError::new)
    }
    fn opt_flag(&self, i: usize) -> Result<Option<bool>, StoreError> {
        self.try_get(i).map_err(StoreError::new)
    }
}

/// A stored token kind's label, back to the kind.
pub(super) fn parse_kind(label: &str) -> Result<TokenKind, StoreError> {
    Ok(match label {
        "apns_production" => TokenKind::ApnsProduction,
        "apns_sandbox" => TokenKind::ApnsSandbox,
        "xiaomi" => TokenKind::Xiaomi,
        "huawei" => TokenKind::Huawei,
        "fcm" => TokenKind::Fcm,
        "daemon" => TokenKind::Daemon,
        other => {
            return Err(StoreError::new(format!("unknown token kind {other:?}")));
        }
    })
}

/// An attempt count, clamped into `u32`.
pub(super) fn u32_of(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// A stored delivery state's label, back to the state.
pub(super) fn delivery_state(label: &str) -> Result<DeliveryState, StoreError> {
    DeliveryState::parse(label)
        .ok_or_else(|| StoreError::new(format!("unknown delivery state {label:?}")))
}

/// One device's delivery in a message's status, from `d.user_id, d.device_id, d.kind,
/// d.credential, d.state, d.attempts, d.last_outcome, d.last_reason, d.run_at, d.created_at,
/// d.updated_at, p.until, p.reason` (the last two from the route's live pause, if any).
pub(super) fn delivery_status(row: &impl Cols) -> Result<DeliveryStatus, StoreError> {
    let state = delivery_state(&row.text(4)?)?;
    let run_at = row.int(8)?;
    let route_paused = match (row.opt_int(11)?, row.opt_text(12)?) {
        (Some(until_ms), Some(reason)) if !state.is_final() => {
            Some(RoutePaused { until_ms, reason })
        }
        _ => None,
    };
    let kind = parse_kind(&row.text(2)?)?;
    Ok(DeliveryStatus {
        device_id: row.text(1)?,
        kind,
        apns_env: kind.apns_env(),
        credential: row.text(3)?,
        state,
        attempts: u32_of(row.int(5)?),
        last_outcome: row.opt_text(6)?,
        last_reason: row.opt_text(7)?,
        next_attempt_at_ms: (!state.is_final()).then_some(run_at),
        route_paused,
        created_at_ms: row.int(9)?,
        updated_at_ms: row.int(10)?,
    })
}

/// A dead-token feed entry, from `cursor, user_id, device_id, kind, credential, token, reason,
/// removed, at`.
pub(super) fn dead_token(row: &impl Cols) -> Result<DeadTokenEntry, StoreError> {
    let kind = parse_kind(&row.text(3)?)?;
    Ok(DeadTokenEntry {
        cursor: row.int(0)?,
        user_id: row.opt_text(1)?,
        device_id: row.opt_text(2)?,
        kind,
        apns_env: kind.apns_env(),
        credential: row.text(4)?,
        token: row.text(5)?,
        reason: row.text(6)?,
        removed: row.flag(7)?,
        at_ms: row.int(8)?,
    })
}

/// A message's status from its three reads: `recipients` (`user_id, suppressed`, in recipient
/// order), `deliveries` (as [`delivery_status`] reads them, in delivery order) and `suppressed`
/// devices (`user_id, device_id, reason`). Rows of users who are not recipients are left out.
pub(super) fn message_status<R: Cols>(
    message: &str,
    created_at_ms: i64,
    recipients: &[R],
    deliveries: &[R],
    suppressed: &[R],
) -> Result<MessageStatus, StoreError> {
    let mut status = MessageStatus {
        message_id: message.to_owned(),
        created_at_ms,
        recipients: Vec::with_capacity(recipients.len()),
    };
    let mut index = HashMap::new();
    for row in recipients {
        let user_id = row.text(0)?;
        index.insert(user_id.clone(), status.recipients.len());
        status.recipients.push(RecipientStatus {
            user_id,
            suppressed: row.opt_text(1)?,
            devices: Vec::new(),
            suppressed_devices: Vec::new(),
        });
    }
    for row in deliveries {
        let delivery = delivery_status(row)?;
        if let Some(&i) = index.get(&row.text(0)?) {
            status.recipients[i].devices.push(delivery);
        }
    }
    for row in suppressed {
        if let Some(&i) = index.get(&row.text(0)?) {
            status.recipients[i]
                .suppressed_devices
                .push(SuppressedDevice {
                    device_id: row.text(1)?,
                    reason: row.text(2)?,
                });
        }
    }
    Ok(status)
}

/// A dead letter, from `id, message_id, user_id, device_id, kind, credential, attempts,
/// last_outcome, last_reason, created_at, updated_at` (a dead row's last update is its death).
pub(super) fn dead_letter(row: &impl Cols) -> Result<DeadLetter, StoreError> {
    let kind = parse_kind(&row.text(4)?)?;
    Ok(DeadLetter {
        id: row.int(0)?,
        message_id: row.text(1)?,
        user_id: row.text(2)?,
        device_id: row.text(3)?,
        apns_env: kind.apns_env(),
        kind,
        credential: row.text(5)?,
        attempts: u32_of(row.int(6)?),
        last_outcome: row.opt_text(7)?,
        last_reason: row.opt_text(8)?,
        created_at_ms: row.int(9)?,
        dead_at_ms: row.int(10)?,
    })
}

/// A paused route, from `app_id, kind, credential, until, reason`.
pub(super) fn paused_route(row: &impl Cols) -> Result<PausedRoute, StoreError> {
    Ok(PausedRoute {
        app: row.text(0)?,
        kind: parse_kind(&row.text(1)?)?,
        credential: row.text(2)?,
        until: row.int(3)?,
        reason: row.text(4)?,
    })
}

/// One of a user's recent deliveries, from `id, message_id, device_id, kind, state, attempts,
/// last_outcome, last_reason, updated_at`.
pub(super) fn recent_delivery(row: &impl Cols) -> Result<RecentDelivery, StoreError> {
    Ok(RecentDelivery {
        id: row.int(0)?,
        message_id: row.text(1)?,
        device_id: row.text(2)?,
        kind: parse_kind(&row.text(3)?)?,
        state: delivery_state(&row.text(4)?)?,
        attempts: u32_of(row.int(5)?),
        last_outcome: row.opt_text(6)?,
        last_reason: row.opt_text(7)?,
        updated_at: row.int(8)?,
    })
}

/// The replay verdicts of the asked ids, from one row per asked id in the asked order: `id,
/// state` (NULL: no such row of the app), whether the device is still registered, whether with
/// the row's token (kind and credential), and its login state.
pub(super) fn replay_verdicts(rows: &[impl Cols]) -> Result<Replayed, StoreError> {
    let mut result = Replayed::default();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let id = row.int(0)?;
        let state = row.opt_text(1)?;
        let registered = row.opt_flag(2)?;
        let same = row.opt_flag(3)?;
        let login = row.text(4)?;
        let verdict = match state.as_deref() {
            None => Err(NotReplayed::Unknown),
            Some(s) if s != "dead" => Err(NotReplayed::NotDead),
            // An id asked twice is replayed once; the second is no longer dead.
            Some(_) if seen.contains(&id) => Err(NotReplayed::NotDead),
            Some(_) if registered != Some(true) => Err(NotReplayed::DeviceGone),
            Some(_) if same != Some(true) => Err(NotReplayed::TokenChanged),
            Some(_) if login != "logged_in" => Err(NotReplayed::LoggedOut),
            Some(_) => Ok(()),
        };
        match verdict {
            Ok(()) => {
                seen.insert(id);
                result.replayed.push(id);
            }
            Err(why) => result.not_replayed.push((id, why)),
        }
    }
    Ok(result)
}

/// Claimed webhook events, oldest first, from `id, body, attempts`.
pub(super) fn claimed_events(rows: &[impl Cols]) -> Result<Vec<ClaimedEvent>, StoreError> {
    let mut events = rows
        .iter()
        .map(|row| {
            Ok(ClaimedEvent {
                id: row.int(0)?,
                body: row.text(1)?,
                attempts: u32_of(row.int(2)?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING's order is unspecified; a batch lists its events oldest first.
    events.sort_by_key(|e| e.id);
    Ok(events)
}

/// A message as webhook events name it, from `id, sender, conversation type, group id,
/// idempotency_key, created_at`.
pub(super) fn event_message(row: &impl Cols) -> Result<EventMessage, StoreError> {
    Ok(EventMessage {
        id: row.text(0)?,
        sender: row.opt_text(1)?,
        conversation: row.opt_text(2)?,
        group_id: row.opt_text(3)?,
        idempotency_key: row.text(4)?,
        created_at: row.int(5)?,
    })
}

/// An app's webhook events by state, from `state, COUNT(*)` rows: all but dead are pending.
pub(super) fn event_counts(rows: &[impl Cols]) -> Result<EventCounts, StoreError> {
    let mut counts = EventCounts::default();
    for row in rows {
        let n = u64::try_from(row.int(1)?).unwrap_or(0);
        match row.text(0)?.as_str() {
            "dead" => counts.dead += n,
            _ => counts.pending += n,
        }
    }
    Ok(counts)
}
