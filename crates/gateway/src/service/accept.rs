//! Accepting a message: validate, render every recipient as of now, commit the message and one
//! delivery row per device in one transaction.

use std::collections::{HashMap, HashSet};

use aws_lc_rs::digest;
use pushway_core::{
    ChannelKey, ChannelStrategy, DeviceToken, Message, Notification, Presence, Recipient, Rendered,
    Renderer, SuppressReason, UserPushSettings,
};

use super::input::check_id;
use super::lookup::Query;
use super::{MessageRequest, RecipientIn, Service, ServiceError};
use crate::app::App;
use crate::store::{
    Accepted, DeviceState, Login, MorePart, MoreRecipients, NewDelivery, NewMessage, NewRecipient,
    RecipientState, StoreError,
};

/// The most recipients one message may name.
pub const MAX_RECIPIENTS: usize = 10_000;
/// Suppression reason of a recipient with no registered device.
pub const NO_DEVICES: &str = "no_devices";
/// Suppression reason of a device whose credential the app no longer has.
pub const NO_CREDENTIAL: &str = "no_credential";

impl Service {
    /// Accepts a message under `key`. The same key with the same request returns the same id
    /// and adds nothing; with another request it is refused.
    pub async fn accept(
        &self,
        app_id: &str,
        key: &str,
        raw_body: &[u8],
        request: MessageRequest,
    ) -> Result<Accepted, ServiceError> {
        let app = self.app(app_id)?.clone();
        check_id("Idempotency-Key", key)?;
        let request_hash = sha256(raw_body);
        // Time-ordered (UUIDv7): rows keyed by message id go in at the end of their indexes,
        // so a group commit dirties a few pages, not one random page per message and index.
        let id = uuid::Uuid::now_v7().to_string();
        let checked = parse_message(request.message, &id)
            .and_then(|parsed| check_recipients(&request.recipients).map(|()| parsed));
        let (message, body) = match checked {
            Ok(parsed) => parsed,
            Err(e) => {
                // A repeated key answers as the first request did, whatever this body is.
                if let Some((id, hash)) = self.store.find_idempotent(app_id, key).await? {
                    return replay(id, hash, request_hash);
                }
                return Err(e);
            }
        };

        let now = self.clock.now_ms();
        let ttl_ms = message
            .ttl
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_else(|| {
                i64::try_from(self.worker.default_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
            });
        // A group message's later recipients are read, rendered and written in parts, each
        // part's rows written while the next part is read and rendered (`stream_rest`).
        let (first, rest) = request
            .recipients
            .split_at(request.recipients.len().min(STREAM_PART));
        // The key and the (first) recipients are read with those of concurrent accepts.
        let found = self
            .lookups
            .lookup(Query {
                app: app_id.to_owned(),
                key: key.to_owned(),
                users: first.iter().map(|r| r.user_id.clone()).collect(),
            })
            .await?;
        if let Some((id, hash)) = found.earlier {
            return replay(id, hash, request_hash);
        }
        let mut plan = Plan {
            app: &app,
            message: &message,
            renderer: &app.renderer,
            now,
            notifications: Vec::new(),
            seen: HashMap::new(),
        };
        let recipients = plan.part(first, found.recipients)?;
        let new = NewMessage {
            id,
            app: app_id.to_owned(),
            idempotency_key: key.to_owned(),
            request_hash,
            body,
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            notifications: plan.notifications.clone(),
            recipients,
        };
        let accepted = if rest.is_empty() {
            self.committer.commit(new).await?
        } else {
            let (parts, more) = tokio::sync::mpsc::channel(STREAM_AHEAD);
            let (committed, streamed) = tokio::join!(
                self.committer.commit_streamed(new, MoreRecipients(more)),
                self.stream_rest(app_id, rest, &mut plan, parts)
            );
            // A part that failed to render or read is the answer (the commit then failed for
            // it, storing nothing).
            streamed?;
            committed?
        };
        if !accepted.created {
            // Another request took the key meanwhile; it may have been a different one.
            if let Some((id, hash)) = self.store.find_idempotent(app_id, key).await? {
                return replay(id, hash, request_hash);
            }
        }
        // The committer woke the workers (or handed them the rows).
        Ok(accepted)
    }
}

/// Recipients read, rendered and written per part, for a message with more than this many.
pub const STREAM_PART: usize = 1_000;
/// Parts rendered ahead of the writer at most.
const STREAM_AHEAD: usize = 2;

impl Service {
    /// Reads and renders `rest` in parts of [`STREAM_PART`] and sends each to the writer
    /// (`parts`), reading the next part's recipients while rendering one; ends the stream
    /// with [`MorePart::End`], or with [`MorePart::Failed`] and the error.
    async fn stream_rest(
        &self,
        app_id: &str,
        rest: &[RecipientIn],
        plan: &mut Plan<'_>,
        parts: tokio::sync::mpsc::Sender<MorePart>,
    ) -> Result<(), ServiceError> {
        let read = |part: &[RecipientIn]| {
            let store = self.store.clone();
            let app = app_id.to_owned();
            let users: Vec<String> = part.iter().map(|r| r.user_id.clone()).collect();
            tokio::spawn(async move { store.recipients(&app, &users).await })
        };
        let mut chunks = rest.chunks(STREAM_PART);
        let mut next = chunks.next().map(|part| (part, read(part)));
        let mut sent = plan.notifications.len();
        while let Some((part, reading)) = next.take() {
            next = chunks.next().map(|part| (part, read(part)));
            let rendered = match reading.await {
                Ok(Ok(known)) => plan.part(part, known),
                Ok(Err(e)) => Err(e.into()),
                Err(e) => Err(StoreError::new(e).into()),
            };
            let recipients = match rendered {
                Ok(recipients) => recipients,
                Err(e) => {
                    let _ = parts.send(MorePart::Failed(e.to_string())).await;
                    return Err(e);
                }
            };
            let notifications = plan.notifications[sent..].to_vec();
            sent = plan.notifications.len();
            let part = MorePart::Recipients {
                notifications,
                recipients,
            };
            if parts.send(part).await.is_err() {
                // The writer wants no more (the key was taken meanwhile, or the commit
                // failed): the commit's answer says which.
                return Ok(());
            }
        }
        let _ = parts.send(MorePart::End).await;
        Ok(())
    }
}

/// Renders a message for its recipients, one rendering per distinct (recipient, locale), and
/// keeps each distinct notification once (a group message with equal badges shares one).
struct Plan<'a> {
    app: &'a App,
    message: &'a Message,
    renderer: &'a Renderer,
    /// The accept time: do-not-disturb windows are checked against it.
    now: i64,
    /// Distinct rendered notifications, as JSON.
    notifications: Vec<String>,
    seen: HashMap<String, usize>,
}

impl Plan<'_> {
    /// What each of `part` gets, given the states `known` read for them.
    fn part(
        &mut self,
        part: &[RecipientIn],
        mut known: HashMap<String, RecipientState>,
    ) -> Result<Vec<NewRecipient>, ServiceError> {
        let mut recipients = Vec::with_capacity(part.len());
        for r in part {
            let state = known.remove(&r.user_id).unwrap_or_default();
            recipients.push(self.recipient(r, state)?);
        }
        Ok(recipients)
    }

    /// What `r` gets: suppressed as a whole, or a delivery per logged-in device.
    fn recipient(
        &mut self,
        r: &RecipientIn,
        state: RecipientState,
    ) -> Result<NewRecipient, ServiceError> {
        let stored = state.settings.unwrap_or_default();
        let mut recipient = Recipient::new(r.user_id.as_str());
        recipient.unread = r.unread;
        recipient.settings = UserPushSettings {
            enabled: stored.enabled.unwrap_or(true),
            c2c_sound: stored.c2c_sound,
            group_sound: stored.group_sound,
        };
        recipient.receive = stored.receive.unwrap_or_default();
        recipient.now_ms = Some(self.now);
        // A device's locale picks its placeholder table; the user's stands in for devices
        // that registered none.
        let user_locale = stored.locale;
        recipient.locale = state
            .devices
            .first()
            .and_then(|d| d.device.locale.clone())
            .or_else(|| user_locale.clone());
        let mut out = NewRecipient {
            user: r.user_id.clone(),
            unread: r.unread,
            suppressed: None,
            deliveries: Vec::new(),
            suppressed_devices: Vec::new(),
        };
        // Reasons that hold for the whole recipient come first (system message, settings,
        // sender); login states are per device, below.
        let first = match self.render(&recipient)? {
            Rendered::Suppressed(reason) => {
                out.suppressed = Some(reason.as_str().to_owned());
                return Ok(out);
            }
            Rendered::Notification(n) => n,
        };
        if state.devices.is_empty() {
            out.suppressed = Some(NO_DEVICES.to_owned());
            return Ok(out);
        }
        // The rendering above is the first device's locale's (keyed, like the loop below, by
        // the device's own locale): it is not rendered again.
        let mut by_locale: HashMap<Option<String>, Result<usize, &'static str>> = HashMap::new();
        let first_locale = state.devices.first().and_then(|d| d.device.locale.clone());
        by_locale.insert(first_locale, Ok(self.intern(&first)?));
        let routed = self.strategy_skips(&state.devices);
        for (i, DeviceState { device, login, .. }) in state.devices.into_iter().enumerate() {
            let route = ChannelKey::new(device.kind, device.credential.as_str());
            let skip = match login {
                Login::LoggedIn if !self.app.channels.contains(&route) => Some(NO_CREDENTIAL),
                Login::LoggedIn => routed.get(i).copied().flatten(),
                Login::LoggedOut => Some(SuppressReason::RecipientLoggedOut.as_str()),
                Login::Kicked => Some(SuppressReason::RecipientKickedOffline.as_str()),
            };
            let notification = match skip {
                Some(reason) => Err(reason),
                None => match by_locale.get(&device.locale) {
                    Some(&rendered) => rendered,
                    None => {
                        recipient.locale = device.locale.clone().or_else(|| user_locale.clone());
                        let rendered = self.notification(&recipient)?;
                        by_locale.insert(device.locale.clone(), rendered);
                        rendered
                    }
                },
            };
            match notification {
                Ok(notification) => out.deliveries.push(NewDelivery {
                    device_id: device.device_id,
                    kind: device.kind,
                    credential: device.credential,
                    token: device.token,
                    notification,
                }),
                Err(reason) => out
                    .suppressed_devices
                    .push((device.device_id, reason.to_owned())),
            }
        }
        Ok(out)
    }

    /// Why the app's channel strategy leaves each of `devices` out, by index (`None`: sent;
    /// empty: every device is sent to, as with `all_devices`). The strategy sees only the
    /// devices that could be sent to: logged in, with a credential the app has (the others
    /// are suppressed for that reason, as without a strategy). Presence is the hub's at this
    /// moment: a device connecting later still gets its push when it was queued for it.
    fn strategy_skips(&self, devices: &[DeviceState]) -> Vec<Option<&'static str>> {
        let Some(daemon) = &self.app.daemon else {
            return Vec::new();
        };
        if daemon.strategy == ChannelStrategy::AllDevices {
            return Vec::new();
        }
        let mut candidates = Vec::with_capacity(devices.len());
        let mut tokens = Vec::with_capacity(devices.len());
        for (i, d) in devices.iter().enumerate() {
            let route = ChannelKey::new(d.device.kind, d.device.credential.as_str());
            if d.login == Login::LoggedIn && self.app.channels.contains(&route) {
                candidates.push(i);
                let device = &d.device;
                tokens.push(DeviceToken::new(
                    device.kind,
                    device.credential.as_str(),
                    device.token.as_str(),
                ));
            }
        }
        let plan = daemon.strategy.plan(
            &tokens,
            |d| Presence::is_connected(&daemon.hub, d),
            |_| true,
        );
        let mut skips = vec![None; devices.len()];
        for (i, skip) in candidates.into_iter().zip(plan) {
            skips[i] = skip;
        }
        skips
    }

    /// The index of the recipient's notification, or why there is none.
    fn notification(
        &mut self,
        recipient: &Recipient,
    ) -> Result<Result<usize, &'static str>, ServiceError> {
        match self.render(recipient)? {
            Rendered::Notification(n) => Ok(Ok(self.intern(&n)?)),
            Rendered::Suppressed(reason) => Ok(Err(reason.as_str())),
        }
    }

    /// The index of `notification` among the distinct ones, added if new.
    fn intern(&mut self, notification: &Notification) -> Result<usize, ServiceError> {
        let json = serde_json::to_string(notification)
            .map_err(|e| ServiceError::invalid("message", e.to_string()))?;
        if let Some(&index) = self.seen.get(&json) {
            return Ok(index);
        }
        let index = self.notifications.len();
        self.seen.insert(json.clone(), index);
        self.notifications.push(json);
        Ok(index)
    }

    fn render(&self, recipient: &Recipient) -> Result<Rendered, ServiceError> {
        // The only render error (a window without a time) cannot happen: `now_ms` is set.
        self.renderer
            .render(self.message, recipient)
            .map_err(|e| ServiceError::invalid("message", e.to_string()))
    }
}

fn replay(id: String, stored: [u8; 32], presented: [u8; 32]) -> Result<Accepted, ServiceError> {
    if stored == presented {
        Ok(Accepted {
            message_id: id,
            created: false,
        })
    } else {
        Err(ServiceError::IdempotencyKeyReused)
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// The core message from the request's `message` object, with the gateway's id; and its JSON.
fn parse_message(
    mut object: serde_json::Map<String, serde_json::Value>,
    id: &str,
) -> Result<(Message, String), ServiceError> {
    if object.contains_key("id") {
        return Err(ServiceError::invalid(
            "message.id",
            "unknown field: the gateway assigns message ids",
        ));
    }
    object.insert("id".to_owned(), serde_json::Value::String(id.to_owned()));
    let value = serde_json::Value::Object(object);
    let text = value.to_string();
    let message: Message = pushway_core::json::from_value(value).map_err(|e| {
        let field = e.field().unwrap_or(".");
        let field = if field == "." {
            "message".to_owned()
        } else {
            format!("message.{field}")
        };
        ServiceError::invalid(field, e.to_string())
    })?;
    Ok((message, text))
}

fn check_recipients(recipients: &[RecipientIn]) -> Result<(), ServiceError> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(ServiceError::invalid(
            "recipients",
            format!("must name 1 to {MAX_RECIPIENTS} recipients"),
        ));
    }
    let mut users = HashSet::with_capacity(recipients.len());
    for (i, r) in recipients.iter().enumerate() {
        check_id(&format!("recipients[{i}].user_id"), &r.user_id)?;
        if !users.insert(r.user_id.as_str()) {
            return Err(ServiceError::invalid(
                format!("recipients[{i}].user_id"),
                "named twice",
            ));
        }
    }
    Ok(())
}
