//! The console's "send a test push": a text message to one user, previewed as the vendors will
//! show it, rendered by the same renderer and from the same stored state as the accept path,
//! then sent through [`Service::accept`] like any message.

use pushway_core::{Budget, ChannelKey, IosSound, Message, Recipient, Rendered, Renderer};
use pushway_core::{UserPushSettings, fit_text};
use serde_json::json;

use super::input::check_id;
use super::{MessageRequest, Service, ServiceError};
use crate::store::{Accepted, DeviceState, Login};

/// The longest test text, in characters: far below the 4 KB message budgets of FCM and Huawei,
/// so only APNs's payload limit and Xiaomi's title and text limits can shorten it.
pub const MAX_TEST_TEXT: usize = 1000;

/// A test push: a C2C text message from `sender` to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPush {
    /// The sender's user id (shown as the title by the default placeholders).
    pub sender: String,
    /// The text.
    pub text: String,
    /// The user's unread count including this message (the iOS badge).
    pub unread: u32,
}

/// How one platform shows the notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The title.
    pub title: String,
    /// The body, as the vendor gets it (shortened to its limit, with `…`).
    pub body: String,
    /// Whether the title or body was shortened.
    pub shortened: bool,
    /// The sound: `default`, a file or URI, or `none`.
    pub sound: String,
    /// The badge, where the platform has one and the push sets it.
    pub badge: Option<u32>,
}

/// What a test push would do for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// Why the user gets nothing at all, if so (settings, no devices…).
    pub suppressed: Option<String>,
    /// iOS (the APNs payload's alert, sound and badge).
    pub ios: Option<Shown>,
    /// Android through Xiaomi (title below 50 and text below 128 UTF-16 units).
    pub xiaomi: Option<Shown>,
    /// Android through FCM and Huawei (the texts in full: see [`MAX_TEST_TEXT`]).
    pub android: Option<Shown>,
    /// Each device: (device id, channel, what happens: `send` or why not).
    pub devices: Vec<(String, String, String)>,
}

impl TestPush {
    /// Checks the fields.
    pub fn check(&self) -> Result<(), ServiceError> {
        check_id("sender", &self.sender)?;
        let chars = self.text.chars().count();
        if chars == 0 || chars > MAX_TEST_TEXT {
            return Err(ServiceError::invalid(
                "text",
                format!("1 to {MAX_TEST_TEXT} characters"),
            ));
        }
        Ok(())
    }

    /// The `POST /messages` request of this push to `user`.
    pub fn request(&self, user: &str) -> serde_json::Value {
        json!({
            "message": {
                "conversation": {"type": "c2c", "peer": user},
                "sender": {"user_id": self.sender},
                "elements": [{"type": "text", "text": self.text}],
            },
            "recipients": [{"user_id": user, "unread": self.unread}],
        })
    }
}

impl Service {
    /// How the test push would look on the user's platforms, and what it would do per device.
    pub async fn preview(
        &self,
        app: &str,
        user: &str,
        push: &TestPush,
    ) -> Result<Preview, ServiceError> {
        let the_app = self.app(app)?.clone();
        check_id("user", user)?;
        push.check()?;
        let request = push.request(user);
        let mut text = request["message"].clone();
        text["id"] = json!("preview");
        let message: Message = pushway_core::json::from_str(&text.to_string())
            .map_err(|e| ServiceError::invalid("message", e.to_string()))?;
        let state = self
            .store
            .recipients(app, &[user.to_owned()])
            .await?
            .remove(user)
            .unwrap_or_default();
        // As the accept path builds the recipient (service/accept.rs, `Plan::recipient`).
        let stored = state.settings.clone().unwrap_or_default();
        let mut recipient = Recipient::new(user);
        recipient.unread = push.unread;
        recipient.settings = UserPushSettings {
            enabled: stored.enabled.unwrap_or(true),
            c2c_sound: stored.c2c_sound,
            group_sound: stored.group_sound,
        };
        recipient.locale = state.devices.first().and_then(|d| d.device.locale.clone());
        let rendered = Renderer::default()
            .render(&message, &recipient)
            .map_err(|e| ServiceError::invalid("message", e.to_string()))?;
        let notification = match rendered {
            Rendered::Notification(n) => n,
            Rendered::Suppressed(reason) => {
                return Ok(Preview {
                    suppressed: Some(reason.as_str().to_owned()),
                    ios: None,
                    xiaomi: None,
                    android: None,
                    devices: Vec::new(),
                });
            }
        };
        let devices = state
            .devices
            .iter()
            .map(|DeviceState { device, login, .. }| {
                let route = ChannelKey::new(device.kind, device.credential.as_str());
                let what = match login {
                    Login::LoggedIn if !the_app.channels.contains(&route) => {
                        super::NO_CREDENTIAL.to_owned()
                    }
                    Login::LoggedIn => "send".to_owned(),
                    other => other.as_str().to_owned(),
                };
                (device.device_id.clone(), route.to_string(), what)
            })
            .collect::<Vec<_>>();
        let apns = pushway_apns::build_payload(&notification)
            .map_err(|e| ServiceError::invalid("text", e.to_string()))?;
        let payload: serde_json::Value = serde_json::from_slice(&apns.json)
            .map_err(|e| ServiceError::invalid("text", e.to_string()))?;
        let alert = &payload["aps"]["alert"];
        let ios = Shown {
            title: alert["title"].as_str().unwrap_or_default().to_owned(),
            body: alert["body"].as_str().unwrap_or_default().to_owned(),
            shortened: apns.shortened,
            sound: match &notification.ios_sound {
                IosSound::NoSoundNoVibration => "none".to_owned(),
                _ => payload["aps"]["sound"]
                    .as_str()
                    .unwrap_or("default")
                    .to_owned(),
            },
            badge: payload["aps"]["badge"]
                .as_u64()
                .and_then(|b| u32::try_from(b).ok()),
        };
        let android_sound = notification
            .android_sound
            .as_ref()
            .map_or_else(|| "default".to_owned(), |s| s.uri().to_owned());
        let title = fit_text(
            notification.android_title(),
            Budget::Utf16(pushway_xiaomi::request::TITLE_MAX_UTF16),
        );
        let body = fit_text(
            &notification.body,
            Budget::Utf16(pushway_xiaomi::request::DESCRIPTION_MAX_UTF16),
        );
        let xiaomi = Shown {
            shortened: title != notification.android_title() || body != notification.body,
            title: title.into_owned(),
            body: body.into_owned(),
            sound: android_sound.clone(),
            badge: None,
        };
        let android = Shown {
            title: notification.android_title().to_owned(),
            body: notification.body.clone(),
            shortened: false,
            sound: android_sound,
            badge: None,
        };
        Ok(Preview {
            suppressed: (state.devices.is_empty()).then(|| super::NO_DEVICES.to_owned()),
            ios: Some(ios),
            xiaomi: Some(xiaomi),
            android: Some(android),
            devices,
        })
    }

    /// Sends the test push to `user` through the accept path, under `key` (so a form posted
    /// twice sends once).
    pub async fn send_test(
        &self,
        app: &str,
        user: &str,
        key: &str,
        push: &TestPush,
    ) -> Result<Accepted, ServiceError> {
        check_id("user", user)?;
        push.check()?;
        let body = push.request(user);
        let raw = body.to_string();
        let request: MessageRequest = serde_json::from_value(body)
            .map_err(|e| ServiceError::invalid("message", e.to_string()))?;
        self.accept(app, key, raw.as_bytes(), request).await
    }
}
