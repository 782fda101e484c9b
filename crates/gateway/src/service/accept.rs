//! Accepting a message: validate, render every recipient as of now, commit the message and one
//! delivery row per device in one transaction.

use std::collections::{HashMap, HashSet};

use aws_lc_rs::digest;
use pushway_core::{
    ChannelKey, LoginState, Message, Recipient, Rendered, Renderer, UserPushSettings,
};

use super::input::check_id;
use super::{MessageRequest, Service, ServiceError};
use crate::store::{Accepted, Login, NewDelivery, NewMessage, NewRecipient};

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
        if let Some((id, hash)) = self.store.find_idempotent(app_id, key).await? {
            return replay(id, hash, request_hash);
        }

        let id = uuid::Uuid::new_v4().to_string();
        let (message, body) = parse_message(request.message, &id)?;
        check_recipients(&request.recipients)?;

        let now = self.clock.now_ms();
        let ttl_ms = message
            .ttl
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_else(|| {
                i64::try_from(self.worker.default_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
            });
        let renderer = Renderer::default();
        let mut notifications: Vec<String> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let users: Vec<String> = request
            .recipients
            .iter()
            .map(|r| r.user_id.clone())
            .collect();
        let mut known = self.store.recipients(app_id, &users).await?;
        let mut recipients = Vec::with_capacity(request.recipients.len());
        for r in &request.recipients {
            let state = known.remove(&r.user_id).unwrap_or_default();
            let stored = state.settings.unwrap_or_default();
            let devices = state.devices;
            let mut recipient = Recipient::new(r.user_id.as_str());
            recipient.unread = r.unread;
            recipient.settings = UserPushSettings {
                enabled: stored.enabled.unwrap_or(true),
                c2c_sound: stored.c2c_sound,
                group_sound: stored.group_sound,
            };
            recipient.locale = devices.first().and_then(|d| d.device.locale.clone());
            let mut out = NewRecipient {
                user: r.user_id.clone(),
                unread: r.unread,
                suppressed: None,
                deliveries: Vec::new(),
                suppressed_devices: Vec::new(),
            };
            // Reasons that hold for the whole recipient come first (system message, settings,
            // sender); login states are per device, below.
            if let Rendered::Suppressed(reason) = render(&renderer, &message, &recipient)? {
                out.suppressed = Some(reason.as_str().to_owned());
            } else if devices.is_empty() {
                out.suppressed = Some(NO_DEVICES.to_owned());
            }
            if out.suppressed.is_some() {
                recipients.push(out);
                continue;
            }
            let mut by_locale: HashMap<Option<String>, usize> = HashMap::new();
            for state in devices {
                let device = state.device;
                let skip = match state.login {
                    Login::LoggedIn => None,
                    Login::LoggedOut => {
                        Some(pushway_core::SuppressReason::RecipientLoggedOut.as_str())
                    }
                    Login::Kicked => {
                        Some(pushway_core::SuppressReason::RecipientKickedOffline.as_str())
                    }
                };
                let skip = skip.or_else(|| {
                    (!app
                        .channels
                        .contains(&ChannelKey::new(device.kind, device.credential.as_str())))
                    .then_some(NO_CREDENTIAL)
                });
                if let Some(reason) = skip {
                    out.suppressed_devices
                        .push((device.device_id, reason.to_owned()));
                    continue;
                }
                let index = match by_locale.get(&device.locale) {
                    Some(&index) => index,
                    None => {
                        recipient.locale = device.locale.clone();
                        recipient.login = LoginState::LoggedIn;
                        let Rendered::Notification(n) = render(&renderer, &message, &recipient)?
                        else {
                            continue;
                        };
                        let json = serde_json::to_string(&n)
                            .map_err(|e| ServiceError::invalid("message", e.to_string()))?;
                        let index = *seen.entry(json.clone()).or_insert_with(|| {
                            notifications.push(json);
                            notifications.len() - 1
                        });
                        by_locale.insert(device.locale.clone(), index);
                        index
                    }
                };
                out.deliveries.push(NewDelivery {
                    device_id: device.device_id,
                    kind: device.kind,
                    credential: device.credential,
                    token: device.token,
                    notification: index,
                });
            }
            recipients.push(out);
        }

        let new = NewMessage {
            id,
            app: app_id.to_owned(),
            idempotency_key: key.to_owned(),
            request_hash,
            body,
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            notifications,
            recipients,
        };
        let request_hash = new.request_hash;
        let accepted = self.committer.commit(new).await?;
        if !accepted.created {
            // Another request took the key meanwhile; it may have been a different one.
            if let Some((id, hash)) = self.store.find_idempotent(app_id, key).await? {
                return replay(id, hash, request_hash);
            }
        }
        self.wake.notify_waiters();
        Ok(accepted)
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

fn render(
    renderer: &Renderer,
    message: &Message,
    recipient: &Recipient,
) -> Result<Rendered, ServiceError> {
    renderer
        .render(message, recipient)
        .map_err(|e| ServiceError::invalid("message.push.android.sound", e.to_string()))
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
    let text = serde_json::Value::Object(object).to_string();
    let message: Message = pushway_core::json::from_str(&text).map_err(|e| {
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

fn check_recipients(recipients: &[super::RecipientIn]) -> Result<(), ServiceError> {
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
