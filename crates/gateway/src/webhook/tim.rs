//! `format = "tim"`: the same events, posted the way Tencent IM (TIM) posts its push-result
//! callback `Push.OfflinePush`, so a receiver written for TIM keeps working. From Tencent's
//! documentation:
//!
//! - the request and every event field and code: "Other Push Callbacks" / "IM 消息推送回调",
//!   <https://trtc.io/document/67552>, <https://cloud.tencent.com/document/product/269/102567>
//!   (`POST <url>?SdkAppid=…&CallbackCommand=Push.OfflinePush&contenttype=json`, body
//!   `{"Events":[…]}` with 1 to 100 events; `EventType` 1 C2C / 2 group; `PushPlatform` 0
//!   unknown, 1 APNs, 2 Xiaomi, 3 Huawei, 4 FCM, 5 Meizu, 6 OPPO, 7 vivo, 8 Honor; `PushStage`
//!   1 sending, 2 delivery, 3 click; `ErrCode` 0 success, non-zero failure);
//! - authentication: "回调配置 · 配置回调鉴权", <https://cloud.tencent.com/document/product/269/32431>
//!   (`Sign = hex(sha256(Token + RequestTime))`, appended to the query as `&Sign=…&RequestTime=…`;
//!   receivers refuse a `RequestTime` more than one minute off).
//!
//! What Tencent does not say is pushway's choice (docs/webhooks.md, "TIM format"): the non-zero
//! `ErrCode`s ([`ERR_DEAD`], [`ERR_TOKEN_INVALIDATED`], [`ERR_SUPPRESSED`]) with pushway's reason
//! as `ErrInfo`, `PushID` = the event id (what receivers dedupe on), `MsgTime` = when pushway
//! accepted the message. `MsgKey` and `MsgSeq` are never sent (pushway has no message sequence).

use std::collections::HashMap;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use super::sign::hex;
use crate::config::{ConfigError, Secret, WebhookConfig, secret};
use crate::store::{ClaimedEvent, EventMessage};

/// The `CallbackCommand` of every request and event.
pub const CALLBACK_COMMAND: &str = "Push.OfflinePush";
/// `ErrCode` of a push that will never arrive (pushway's code; TIM only says non-zero).
pub const ERR_DEAD: u32 = 1;
/// `ErrCode` of a device token the vendor reported dead (pushway's code).
pub const ERR_TOKEN_INVALIDATED: u32 = 2;
/// `ErrCode` of a recipient or device that got nothing by the rules (pushway's code).
pub const ERR_SUPPRESSED: u32 = 3;
/// The longest TIM callback token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 128;

/// How an app's batches are shaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `{"events":[…]}`, pushway's own events (the default).
    #[default]
    Pushway,
    /// Tencent IM's `Push.OfflinePush` callback.
    Tim(TimFormat),
}

/// The settings of the TIM shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimFormat {
    /// The `SdkAppid` of the query.
    pub sdkappid: u64,
    /// The callback-authentication token: with it, `Sign` and `RequestTime` are added.
    pub token: Option<Secret>,
}

/// `hex(sha256(token + request_time))`: TIM's callback `Sign` (269/32431).
pub fn tim_sign(token: &[u8], request_time: i64) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(token);
    context.update(request_time.to_string().as_bytes());
    hex(context.finish().as_ref())
}

impl TimFormat {
    /// `url` with TIM's parameters appended after any query it already has.
    pub fn url(&self, url: &reqwest::Url, now_secs: i64) -> reqwest::Url {
        let mut url = url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("SdkAppid", &self.sdkappid.to_string())
                .append_pair("CallbackCommand", CALLBACK_COMMAND)
                .append_pair("contenttype", "json");
            if let Some(token) = &self.token {
                query
                    .append_pair("Sign", &tim_sign(token.expose().as_bytes(), now_secs))
                    .append_pair("RequestTime", &now_secs.to_string());
            }
        }
        url
    }
}

/// The section's format and its settings; errors name the exact key.
pub(super) fn format(at: &str, c: &WebhookConfig) -> Result<Format, ConfigError> {
    match c.format.as_str() {
        "pushway" => {
            let tim_keys = [
                ("tim_sdkappid", c.tim_sdkappid.is_some()),
                ("tim_token", c.tim_token.is_some()),
                ("tim_token_file", c.tim_token_file.is_some()),
            ];
            if let Some((key, _)) = tim_keys.iter().find(|(_, set)| *set) {
                return Err(ConfigError::at(
                    &format!("{at}.{key}"),
                    "only used with format = \"tim\"",
                ));
            }
            Ok(Format::Pushway)
        }
        "tim" => {
            let sdkappid = match c.tim_sdkappid {
                Some(0) => {
                    return Err(ConfigError::at(
                        &format!("{at}.tim_sdkappid"),
                        "must be at least 1",
                    ));
                }
                Some(id) => id,
                None => {
                    return Err(ConfigError::at(
                        &format!("{at}.tim_sdkappid"),
                        "required with format = \"tim\" (the SdkAppid your receiver checks)",
                    ));
                }
            };
            let token = if c.tim_token.is_some() || c.tim_token_file.is_some() {
                let key = format!("{at}.tim_token");
                let token = secret(&key, &c.tim_token, &c.tim_token_file)?;
                if token.expose().is_empty() || token.expose().len() > MAX_TOKEN_BYTES {
                    let key = if c.tim_token_file.is_some() {
                        format!("{key}_file")
                    } else {
                        key
                    };
                    return Err(ConfigError::at(
                        &key,
                        format!("a TIM callback token is 1 to {MAX_TOKEN_BYTES} bytes"),
                    ));
                }
                Some(token)
            } else {
                None
            };
            Ok(Format::Tim(TimFormat { sdkappid, token }))
        }
        other => Err(ConfigError::at(
            &format!("{at}.format"),
            format!("unknown format {other:?}; one of pushway, tim"),
        )),
    }
}

/// An event as stored (pushway's shape).
#[derive(Deserialize)]
struct Stored {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    message_id: Option<String>,
    user_id: Option<String>,
    channel: Option<String>,
    reason: Option<String>,
    at_ms: i64,
}

/// One TIM event, fields in the order of Tencent's example; absent ones are left out.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "CallbackCommand")]
    command: &'static str,
    #[serde(rename = "EventType", skip_serializing_if = "Option::is_none")]
    event_type: Option<u8>,
    #[serde(rename = "EventTime")]
    event_time: i64,
    #[serde(rename = "From_Account", skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(rename = "To_Account", skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(rename = "PushPlatform")]
    platform: u8,
    #[serde(rename = "PushStage")]
    stage: u8,
    #[serde(rename = "GroupID", skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(rename = "MsgRandom", skip_serializing_if = "Option::is_none")]
    random: Option<u32>,
    #[serde(rename = "MsgTime", skip_serializing_if = "Option::is_none")]
    msg_time: Option<i64>,
    #[serde(rename = "PushID")]
    push_id: &'a str,
    #[serde(rename = "ErrCode")]
    code: u32,
    #[serde(rename = "ErrInfo")]
    info: &'a str,
}

#[derive(Serialize)]
struct Batch<'a> {
    #[serde(rename = "Events")]
    events: Vec<Event<'a>>,
}

/// The message ids the events name, each once.
pub(super) fn message_ids(events: &[ClaimedEvent]) -> Vec<String> {
    let mut ids: Vec<String> = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Stored>(&e.body).ok()?.message_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `{"Events":[…]}` for `events`, with what `messages` (by id) adds.
pub(super) fn body(events: &[ClaimedEvent], messages: &[EventMessage]) -> String {
    let messages: HashMap<&str, &EventMessage> =
        messages.iter().map(|m| (m.id.as_str(), m)).collect();
    let stored: Vec<Stored> = events
        .iter()
        .filter_map(|e| match serde_json::from_str::<Stored>(&e.body) {
            Ok(s) => Some(s),
            Err(error) => {
                // Never happens with bodies the store wrote; the row is acknowledged with its
                // batch rather than blocking every later event of the app.
                tracing::error!(event = e.id, %error, "webhooks: an unreadable stored event");
                None
            }
        })
        .collect();
    let out: Vec<Event<'_>> = stored
        .iter()
        .map(|s| {
            let message = s.message_id.as_deref().and_then(|id| messages.get(id));
            event(s, message.copied())
        })
        .collect();
    // A struct, not a `json!` map: the fields keep their order.
    serde_json::to_string(&Batch { events: out }).unwrap_or_else(|_| "{\"Events\":[]}".to_owned())
}

fn event<'a>(s: &'a Stored, message: Option<&'a EventMessage>) -> Event<'a> {
    let group = message.is_some_and(|m| m.conversation.as_deref() == Some("group"));
    let c2c = message.is_some_and(|m| m.conversation.as_deref() == Some("c2c"));
    let kind = s.channel.as_deref().and_then(|c| c.split('/').next());
    let (stage, code) = match s.kind.as_str() {
        // A daemon device acked it: it reached the device. A vendor accepted it: sent.
        "delivered" if kind == Some("daemon") => (2, 0),
        "delivered" => (1, 0),
        "dead" => (1, ERR_DEAD),
        "token_invalidated" => (1, ERR_TOKEN_INVALIDATED),
        _ => (1, ERR_SUPPRESSED),
    };
    let info = if code == 0 {
        "OK"
    } else {
        s.reason.as_deref().unwrap_or(s.kind.as_str())
    };
    Event {
        command: CALLBACK_COMMAND,
        event_type: if c2c {
            Some(1)
        } else if group {
            Some(2)
        } else {
            None
        },
        event_time: s.at_ms.div_euclid(1000),
        from: message.and_then(|m| m.sender.as_deref()),
        to: s.user_id.as_deref(),
        platform: match kind {
            Some("apns_production" | "apns_sandbox") => 1,
            Some("xiaomi") => 2,
            Some("huawei") => 3,
            Some("fcm") => 4,
            _ => 0,
        },
        stage,
        group: message
            .filter(|_| group)
            .and_then(|m| m.group_id.as_deref()),
        // TIM sends MsgRandom for C2C only; pushway knows it for messages its TIM ingest took.
        random: message
            .filter(|_| c2c)
            .and_then(|m| msg_random(&m.idempotency_key)),
        msg_time: message.map(|m| m.created_at.div_euclid(1000)),
        push_id: &s.id,
        code,
        info,
    }
}

/// The `MsgRandom` of a key the TIM ingest built (`tim:<command>:<random>:<digest>`).
fn msg_random(key: &str) -> Option<u32> {
    let mut parts = key.split(':');
    if parts.next() != Some("tim") {
        return None;
    }
    match parts.next()? {
        "sendmsg" | "batchsendmsg" | "timpush_batch" => parts.next()?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
#[path = "tim_tests.rs"]
mod tests;
