//! What the test sends: users with 1-4 devices across every channel, and group messages whose
//! recipients add up to exactly [`DELIVERIES`] (message, device) deliveries; and the HTTP calls
//! of an IM back end that sends them.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

/// The app the test configures.
pub const APP: &str = "crash";
/// Its API key.
pub const API_KEY: &str = "pw_crash_test_key";
/// The credential name of every vendor credential.
pub const CREDENTIAL: &str = "sim";

/// Users `u0`…; user `i` has `1 + i % 4` devices (2.5 on average).
pub const USERS: usize = 400;
/// Group messages sent.
pub const MESSAGES: usize = 200;
/// Recipients per message: message `m` goes to users `(m·20 + k) mod 400`, so every user is a
/// recipient of exactly `MESSAGES · RECIPIENTS / USERS` = 10 messages.
pub const RECIPIENTS: usize = 20;
/// 200 messages × 20 recipients × 2.5 devices.
pub const DELIVERIES: usize = 10_000;

/// The five channels a device can be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    ApnsSandbox,
    ApnsProduction,
    Xiaomi,
    Huawei,
    Fcm,
}

/// One registered device.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Device {
    pub user: String,
    pub id: String,
    pub channel: Channel,
    pub token: String,
}

/// Device `j` of user `i`: its channel turns with `i + j`, so a user's devices are on distinct
/// channels; each channel has 200 of the 1,000 devices, so 2,000 of the deliveries.
pub fn devices_of(i: usize) -> Vec<Device> {
    (0..1 + i % 4)
        .map(|j| {
            let channel = [
                Channel::ApnsSandbox,
                Channel::ApnsProduction,
                Channel::Xiaomi,
                Channel::Huawei,
                Channel::Fcm,
            ][(i + j) % 5];
            let token = match channel {
                Channel::ApnsSandbox | Channel::ApnsProduction => format!("{i:032x}{j:032x}"),
                Channel::Xiaomi => format!("xiaomi-regid-{i}-{j}"),
                Channel::Huawei => format!("huawei-token-{i}-{j}"),
                Channel::Fcm => format!("fcm-token-{i}-{j}"),
            };
            Device {
                user: format!("u{i}"),
                id: format!("d{j}"),
                channel,
                token,
            }
        })
        .collect()
}

/// The users message `m` goes to.
pub fn recipients_of(m: usize) -> impl Iterator<Item = usize> {
    (0..RECIPIENTS).map(move |k| (m * RECIPIENTS + k) % USERS)
}

/// The label of message `m`, sent as its `ext`: every vendor's app data carries it, so a
/// simulator's recording says which message reached a token.
pub fn label(m: usize) -> String {
    format!("crash-{m}")
}

/// The (label, token) pairs the simulators must receive in all.
pub fn expected() -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for m in 0..MESSAGES {
        for i in recipients_of(m) {
            for device in devices_of(i) {
                pairs.insert((label(m), device.token));
            }
        }
    }
    pairs
}

/// The body of message `m`: the same bytes every time, so a retry under the same
/// `Idempotency-Key` is the same request. Half its recipients have an unread count of 1 and
/// half 2, so each message renders two notifications shared by ten recipients each.
pub fn message_body(m: usize) -> String {
    let recipients: Vec<Value> = recipients_of(m)
        .enumerate()
        .map(|(k, i)| json!({"user_id": format!("u{i}"), "unread": 1 + k % 2}))
        .collect();
    json!({
        "message": {
            "conversation": {"type": "group", "id": format!("g{}", m % 7)},
            "sender": {"user_id": "backend"},
            "elements": [{"type": "text", "text": format!("crash test message {m}")}],
            "push": {"ext": label(m)}
        },
        "recipients": recipients
    })
    .to_string()
}

/// An HTTP client of the gateway's API.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: &str) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("HTTP client");
        Api {
            http,
            base: base.to_owned(),
        }
    }

    /// Registers `device` (logged in from the start).
    pub async fn register(&self, device: &Device) {
        let mut body = json!({"credential": CREDENTIAL, "token": device.token});
        match device.channel {
            Channel::ApnsSandbox => {
                body["kind"] = json!("apns");
                body["apns_env"] = json!("sandbox");
            }
            Channel::ApnsProduction => {
                body["kind"] = json!("apns");
                body["apns_env"] = json!("production");
            }
            Channel::Xiaomi => body["kind"] = json!("xiaomi"),
            Channel::Huawei => body["kind"] = json!("huawei"),
            Channel::Fcm => body["kind"] = json!("fcm"),
        }
        let url = format!(
            "{}/v1/apps/{APP}/users/{}/devices/{}",
            self.base, device.user, device.id
        );
        let answer = self
            .http
            .put(url)
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .expect("register a device");
        assert!(
            answer.status().is_success(),
            "register {device:?}: {}",
            answer.status()
        );
    }

    /// Posts message `m`: `Ok(id)` on 202, `Err` when no answer came (the gateway died).
    pub async fn post(&self, m: usize) -> Result<String, reqwest::Error> {
        let answer = self
            .http
            .post(format!("{}/v1/apps/{APP}/messages", self.base))
            .bearer_auth(API_KEY)
            .header("idempotency-key", label(m))
            .header("content-type", "application/json")
            .body(message_body(m))
            .send()
            .await?;
        let status = answer.status();
        let body: Value = answer.json().await?;
        assert_eq!(status, StatusCode::ACCEPTED, "message {m}: {body}");
        Ok(body["message_id"]
            .as_str()
            .expect("a message id")
            .to_owned())
    }

    /// The status of message `id`.
    pub async fn status(&self, id: &str) -> Value {
        let answer = self
            .http
            .get(format!("{}/v1/apps/{APP}/messages/{id}", self.base))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("status answers");
        assert_eq!(answer.status(), StatusCode::OK);
        answer.json().await.expect("status JSON")
    }
}

/// The states of every device of a status body.
pub fn device_states(status: &Value) -> Vec<String> {
    status["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["devices"].as_array().into_iter().flatten())
        .map(|d| d["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Registers every user's devices, eight requests at a time.
pub async fn register_everyone(api: &Api) {
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let api = api.clone();
            tokio::spawn(async move {
                for i in (t..USERS).step_by(8) {
                    for device in devices_of(i) {
                        api.register(&device).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("registration");
    }
}
