//! What the vendor simulators received, read from their recordings (the demo owns the
//! simulators, so it may look inside them; everything else goes through the HTTP API): per
//! device, the request fields that decide what the phone shows.

use std::collections::HashMap;

use pushway::gateway::simulate::Simulators;
use serde_json::Value;

/// Every request each simulator has recorded so far, decoded; `since` gives the part after an
/// earlier snapshot.
#[derive(Debug, Default, Clone)]
pub(super) struct Recorded {
    /// APNs: (device token from the `:path`, JSON payload).
    apns: Vec<(Option<String>, Value)>,
    /// Xiaomi: the form fields of each send.
    xiaomi: Vec<Vec<(String, String)>>,
    /// Huawei: the JSON body of each send (OAuth token requests left out).
    huawei: Vec<Value>,
    /// FCM: the JSON body of each send (one token each; token requests are recorded apart).
    fcm: Vec<Value>,
}

impl Recorded {
    /// What the simulators hold now.
    pub(super) fn now(sims: &Simulators) -> Recorded {
        Recorded {
            apns: sims
                .apns
                .requests()
                .iter()
                .map(|r| (r.device_token.clone(), r.request.json()))
                .collect(),
            xiaomi: sims.xiaomi.requests().iter().map(|r| r.form()).collect(),
            huawei: sims
                .huawei
                .requests()
                .iter()
                .map(|r| r.json())
                .filter(|body| body["message"].is_object())
                .collect(),
            fcm: sims.fcm.requests().iter().map(|r| r.json()).collect(),
        }
    }

    /// The requests recorded after `earlier`.
    pub(super) fn since(&self, earlier: &Recorded) -> Recorded {
        Recorded {
            apns: self.apns[earlier.apns.len().min(self.apns.len())..].to_vec(),
            xiaomi: self.xiaomi[earlier.xiaomi.len().min(self.xiaomi.len())..].to_vec(),
            huawei: self.huawei[earlier.huawei.len().min(self.huawei.len())..].to_vec(),
            fcm: self.fcm[earlier.fcm.len().min(self.fcm.len())..].to_vec(),
        }
    }

    /// One entry per device reached, sorted by vendor then device; `labels` names each token
    /// (`user/device`), so no token is printed.
    pub(super) fn per_device(&self, labels: &HashMap<String, String>) -> Vec<Received> {
        let label = |token: &str| {
            labels
                .get(token)
                .cloned()
                .unwrap_or_else(|| "an unknown token".to_owned())
        };
        let mut out = Vec::new();
        for (token, payload) in &self.apns {
            out.push(Received {
                vendor: "apns",
                device: label(token.as_deref().unwrap_or_default()),
                fields: apns_fields(payload),
            });
        }
        for form in &self.xiaomi {
            let fields = xiaomi_fields(form);
            let regids = form
                .iter()
                .find(|(k, _)| k == "registration_id")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            // One request carries up to 1,000 regids, comma-separated.
            for regid in regids.split(',') {
                out.push(Received {
                    vendor: "xiaomi",
                    device: label(regid),
                    fields: fields.clone(),
                });
            }
        }
        for body in &self.huawei {
            let fields = huawei_fields(body);
            for token in body["message"]["token"].as_array().into_iter().flatten() {
                out.push(Received {
                    vendor: "huawei",
                    device: label(token.as_str().unwrap_or_default()),
                    fields: fields.clone(),
                });
            }
        }
        for body in &self.fcm {
            out.push(Received {
                vendor: "fcm",
                device: label(body["message"]["token"].as_str().unwrap_or_default()),
                fields: fcm_fields(body),
            });
        }
        out.sort_by(|a, b| (a.vendor, &a.device).cmp(&(b.vendor, &b.device)));
        out
    }
}

/// What one device's vendor received.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Received {
    /// `apns`, `xiaomi`, `huawei`, `fcm` or `daemon`.
    pub(super) vendor: &'static str,
    /// `user/device`.
    pub(super) device: String,
    /// The fields that matter, in a fixed order, as JSON values (form fields as strings).
    pub(super) fields: Vec<(String, Value)>,
}

impl std::fmt::Display for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<7} {:<13} ", self.vendor, self.device)?;
        for (i, (name, value)) in self.fields.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}{name} {value}")?;
        }
        Ok(())
    }
}

/// `aps.alert` title and body, `aps.sound`, `aps.badge`, `aps.thread-id`, and the app's `ext`.
fn apns_fields(payload: &Value) -> Vec<(String, Value)> {
    let aps = &payload["aps"];
    [
        ("title", &aps["alert"]["title"]),
        ("body", &aps["alert"]["body"]),
        ("sound", &aps["sound"]),
        ("badge", &aps["badge"]),
        ("thread-id", &aps["thread-id"]),
        ("ext", &payload["ext"]),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_null())
    .map(|(k, v)| (k.to_owned(), v.clone()))
    .collect()
}

/// `title`, `description`, `extra.notify_effect`, `extra.sound_uri`, `extra.intent_uri`.
fn xiaomi_fields(form: &[(String, String)]) -> Vec<(String, Value)> {
    [
        ("title", "title"),
        ("description", "description"),
        ("notify_effect", "extra.notify_effect"),
        ("sound_uri", "extra.sound_uri"),
        ("intent_uri", "extra.intent_uri"),
    ]
    .into_iter()
    .filter_map(|(name, key)| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| (name.to_owned(), Value::from(v.as_str())))
    })
    .collect()
}

/// `message.android.notification`: `title`, `body`, `sound`, `click_action`.
fn huawei_fields(body: &Value) -> Vec<(String, Value)> {
    let notification = &body["message"]["android"]["notification"];
    ["title", "body", "sound", "click_action"]
        .into_iter()
        .filter(|k| !notification[*k].is_null())
        .map(|k| (k.to_owned(), notification[k].clone()))
        .collect()
}

/// `message.android.notification`: `title`, `body`, `sound` (or `default_sound`),
/// `notification_count`, `tag`, `click_action`; and the app's `ext` from `message.data`.
fn fcm_fields(body: &Value) -> Vec<(String, Value)> {
    let notification = &body["message"]["android"]["notification"];
    let mut fields: Vec<(String, Value)> = [
        "title",
        "body",
        "sound",
        "default_sound",
        "notification_count",
        "tag",
        "click_action",
    ]
    .into_iter()
    .filter(|k| !notification[*k].is_null())
    .map(|k| (k.to_owned(), notification[k].clone()))
    .collect();
    let ext = &body["message"]["data"]["ext"];
    if !ext.is_null() {
        fields.push(("ext".to_owned(), ext.clone()));
    }
    fields
}
