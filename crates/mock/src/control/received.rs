//! What each simulator received, one entry per (send, device token), read from its recording:
//! how a test in another process checks which pushes reached which device, e.g. that nothing
//! acknowledged was lost across a crash (`GET /_control/received?simulator=NAME`).
//!
//! | simulator | an entry per | `data` | also |
//! |---|---|---|---|
//! | `apns` | request to `/3/device/<token>` | the JSON payload | `apns_id` (the request's, else the answered one), `status` (answered; `null` when refused or dropped) |
//! | `xiaomi` | regid of a send to `/v3` or `/v2/message/regid` | the `payload` field | |
//! | `huawei` | token of a `messages:send` (not `validate_only`) | `message.data` | |
//! | `fcm` | `messages:send` to a `token` (not `validate_only`) | `android.data`, else `message.data` | `status` (answered; `null` when refused or dropped) |
//!
//! `data` is the value as JSON when it parses as JSON, else the text (`null` when absent), so
//! pushway's app data (the same keys on every channel) reads the same for every vendor.
//!
//! The entries come from the kept requests (the recording bound, [`crate::Recording`]); a
//! recording that is off keeps none. Xiaomi and Huawei recordings keep no answer: their entries
//! are what was sent, whatever was answered (with no fault rules and every token valid, what
//! was accepted). APNs entries say what was answered.

use bytes::Bytes;
use http::{Method, header};
use serde::Serialize;
use serde_json::Value;

use crate::RecordedRequest;
use crate::apns::{ApnsOutcome, ApnsRequest};
use crate::fcm::FcmRequest;

/// The path of the endpoint.
pub const RECEIVED_PATH: &str = "/_control/received";
/// The most entries one answer holds (and the default `limit`); page on with `offset`.
pub const MAX_RECEIVED_LIMIT: usize = 20_000;

/// One device token a recorded send targeted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Received {
    /// The device token (APNs: from the path; Xiaomi: a regid; Huawei: a push token).
    pub token: String,
    /// The app-facing data of the send (see the module docs).
    pub data: Value,
    /// APNs only: the `apns-id` of the request, else the one answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apns_id: Option<String>,
    /// APNs and FCM: the answered status; `None` when the stream was refused or the connection
    /// dropped. Absent for Xiaomi and Huawei, whose recordings keep no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Option<u16>>,
    /// FCM only, and only when asked for (`&body=1`): the whole request body as JSON, for
    /// field-by-field comparisons with other clients (the firebase-admin check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// What one simulator received, from its recording.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    /// Requests that arrived in all (every path, kept or not).
    pub requests: u64,
    /// Requests the recording still keeps; fewer than `requests` when some were evicted (or
    /// the recording is off), so the entries are then incomplete.
    pub kept: usize,
    /// One entry per (kept send, device token), in arrival order.
    pub entries: Vec<Received>,
}

/// `text` as JSON when it parses, else as a string.
fn data_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The entries of the APNs simulator's kept requests.
pub fn apns_entries(requests: &[ApnsRequest]) -> Vec<Received> {
    requests
        .iter()
        .filter_map(|r| {
            let token = r.device_token.clone()?;
            let answered = match &r.outcome {
                ApnsOutcome::Answered {
                    status, apns_id, ..
                } => Some((*status, apns_id.clone())),
                _ => None,
            };
            let apns_id = r
                .header("apns-id")
                .map(str::to_owned)
                .or_else(|| answered.as_ref().map(|(_, id)| id.clone()));
            Some(Received {
                token,
                data: serde_json::from_slice(&r.request.body).unwrap_or(Value::Null),
                apns_id,
                status: Some(answered.map(|(status, _)| status)),
                body: None,
            })
        })
        .collect()
}

/// The entries of the Xiaomi simulator's kept requests: one per regid of each send, with its
/// `payload`. Parameters are read as the simulator reads them: the query, then a form body.
pub fn xiaomi_entries(requests: &[RecordedRequest]) -> Vec<Received> {
    let mut out = Vec::new();
    for r in requests {
        let path = r.path.split('?').next().unwrap_or_default();
        if r.method != Method::POST || !matches!(path, "/v3/message/regid" | "/v2/message/regid") {
            continue;
        }
        let mut pairs: Vec<(String, String)> = match r.path.split_once('?') {
            Some((_, query)) => form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            None => Vec::new(),
        };
        let is_form = r
            .header(header::CONTENT_TYPE.as_str())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            pairs.extend(r.form());
        }
        let first = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let data = first("payload").map_or(Value::Null, |p| data_of(p));
        for regid in first("registration_id")
            .into_iter()
            .flat_map(|v| v.split(','))
            .filter(|v| !v.is_empty())
        {
            out.push(Received {
                token: regid.to_owned(),
                data: data.clone(),
                apns_id: None,
                status: None,
                body: None,
            });
        }
    }
    out
}

/// The entries of the Huawei simulator's kept requests: one per token of each
/// `messages:send` that is not `validate_only`, with its `message.data`.
pub fn huawei_entries(requests: &[RecordedRequest]) -> Vec<Received> {
    let mut out = Vec::new();
    for r in requests {
        let path = r.path.split('?').next().unwrap_or_default();
        if r.method != Method::POST || !path.ends_with("/messages:send") {
            continue;
        }
        let body = body_json(&r.body);
        if body["validate_only"] == Value::Bool(true) {
            continue;
        }
        let message = &body["message"];
        let data = message["data"].as_str().map_or(Value::Null, data_of);
        for token in message["token"].as_array().into_iter().flatten() {
            if let Some(token) = token.as_str() {
                out.push(Received {
                    token: token.to_owned(),
                    data: data.clone(),
                    apns_id: None,
                    status: None,
                    body: None,
                });
            }
        }
    }
    out
}

/// The entries of the FCM simulator's kept requests: one per `messages:send` to a device
/// token that is not `validate_only`, with its effective data and the answered status.
pub fn fcm_entries(requests: &[FcmRequest]) -> Vec<Received> {
    let mut out = Vec::new();
    for r in requests {
        if !r.request.path.ends_with("/messages:send") {
            continue;
        }
        let body = body_json(&r.request.body);
        let dry = |name: &str| body[name] == Value::Bool(true);
        if dry("validate_only") || dry("validateOnly") {
            continue;
        }
        let message = &body["message"];
        let Some(token) = message["token"].as_str() else {
            continue;
        };
        let data = match &message["android"]["data"] {
            Value::Null => message["data"].clone(),
            data => data.clone(),
        };
        out.push(Received {
            token: token.to_owned(),
            data,
            apns_id: None,
            status: Some(r.status()),
            body: Some(body.clone()),
        });
    }
    out
}

fn body_json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// `simulator`, `offset`, `limit` and `body` (whether to include FCM request bodies) of the
/// query string; `Err` says what is wrong.
pub(crate) fn query(text: Option<&str>) -> Result<(Option<String>, usize, usize, bool), String> {
    let mut simulator = None;
    let mut body = false;
    let mut offset = 0;
    let mut limit = MAX_RECEIVED_LIMIT;
    for (name, value) in form_urlencoded::parse(text.unwrap_or_default().as_bytes()) {
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{name}={value}: expected a whole number"))
        };
        match name.as_ref() {
            "simulator" => simulator = Some(value.clone().into_owned()),
            "offset" => offset = number()?,
            "body" => body = value == "1" || value == "true",
            "limit" => {
                limit = number()?;
                if limit > MAX_RECEIVED_LIMIT {
                    return Err(format!("limit is at most {MAX_RECEIVED_LIMIT}"));
                }
            }
            _ => {
                return Err(format!(
                    "unknown parameter {name:?}: use simulator, offset, limit, body"
                ));
            }
        }
    }
    Ok((simulator, offset, limit, body))
}

/// The answer for entries `offset..offset + limit` of `log`.
pub(crate) fn answer(simulator: &str, log: &ReceivedLog, offset: usize, limit: usize) -> Value {
    let total = log.entries.len();
    let start = offset.min(total);
    let end = start.saturating_add(limit).min(total);
    let next = (end < total).then_some(end);
    serde_json::json!({
        "simulator": simulator,
        "requests": log.requests,
        "kept": log.kept,
        "complete": u64::try_from(log.kept).is_ok_and(|kept| kept == log.requests),
        "total": total,
        "offset": start,
        "next_offset": next,
        "received": &log.entries[start..end],
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Version};

    use super::*;

    fn request(path: &str, content_type: &str, body: &str) -> RecordedRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("header"),
        );
        RecordedRequest {
            method: Method::POST,
            path: path.to_owned(),
            version: Version::HTTP_11,
            headers,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn xiaomi_gives_one_entry_per_regid_with_the_payload() {
        let form =
            "restricted_package_name=p&registration_id=a%2Bb,c&payload=%7B%22ext%22%3A%22m1%22%7D";
        let entries = xiaomi_entries(&[
            request(
                "/v3/message/regid",
                "application/x-www-form-urlencoded",
                form,
            ),
            request(
                "/v2/message/regid?payload=plain&registration_id=d",
                "text/plain",
                "",
            ),
            request("/v3/other", "application/x-www-form-urlencoded", form),
        ]);
        let got: Vec<(&str, &Value)> = entries
            .iter()
            .map(|e| (e.token.as_str(), &e.data))
            .collect();
        let m1 = serde_json::json!({"ext": "m1"});
        let plain = Value::String("plain".into());
        assert_eq!(got, [("a+b", &m1), ("c", &m1), ("d", &plain)]);
        assert!(
            entries
                .iter()
                .all(|e| e.status.is_none() && e.apns_id.is_none())
        );
    }

    #[test]
    fn huawei_gives_one_entry_per_token_and_skips_validation_and_oauth() {
        let send = r#"{"message":{"data":"{\"ext\":\"m2\"}","token":["t1","t2"]}}"#;
        let dry = r#"{"validate_only":true,"message":{"data":"x","token":["t3"]}}"#;
        let entries = huawei_entries(&[
            request("/v1/123/messages:send", "application/json", send),
            request("/v2/p/messages:send", "application/json", dry),
            request(
                "/oauth2/v3/token",
                "application/x-www-form-urlencoded",
                "a=b",
            ),
        ]);
        let tokens: Vec<&str> = entries.iter().map(|e| e.token.as_str()).collect();
        assert_eq!(tokens, ["t1", "t2"]);
        assert_eq!(entries[1].data, serde_json::json!({"ext": "m2"}));
    }

    #[test]
    fn fcm_entries_carry_the_whole_body_and_skip_validation_only() {
        let send = r#"{"message":{"android":{"data":{"k":"v"}},"token":"t1"}}"#;
        let dry = r#"{"validate_only":true,"message":{"data":{"k":"v"},"token":"t2"}}"#;
        let requests: Vec<FcmRequest> = [send, dry]
            .into_iter()
            .map(|body| FcmRequest {
                request: request("/v1/projects/p/messages:send", "application/json", body),
                connection_id: 1,
                outcome: crate::fcm::FcmOutcome::Refused,
            })
            .collect();
        let entries = fcm_entries(&requests);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].token, "t1");
        assert_eq!(entries[0].data, serde_json::json!({"k": "v"}));
        assert_eq!(entries[0].status, Some(None));
        assert_eq!(
            entries[0].body,
            Some(serde_json::from_str::<Value>(send).expect("json"))
        );
    }

    #[test]
    fn pages_are_bounded_and_say_where_to_go_on() {
        let log = ReceivedLog {
            requests: 3,
            kept: 3,
            entries: (0..3)
                .map(|i| Received {
                    token: format!("t{i}"),
                    data: Value::Null,
                    apns_id: None,
                    status: None,
                    body: None,
                })
                .collect(),
        };
        let first = answer("xiaomi", &log, 0, 2);
        assert_eq!(first["received"].as_array().map(Vec::len), Some(2));
        assert_eq!(first["next_offset"], 2);
        assert_eq!(first["complete"], true);
        let last = answer("xiaomi", &log, 2, 2);
        assert_eq!(last["received"][0]["token"], "t2");
        assert_eq!(last["next_offset"], Value::Null);
        assert_eq!(answer("xiaomi", &log, 9, 2)["offset"], 3);

        assert_eq!(
            query(Some("simulator=apns&offset=5&limit=7")),
            Ok((Some("apns".into()), 5, 7, false))
        );
        assert_eq!(
            query(Some("simulator=fcm&body=1")),
            Ok((Some("fcm".into()), 0, MAX_RECEIVED_LIMIT, true))
        );
        assert!(query(Some("limit=20001")).is_err());
        assert!(query(Some("offset=x")).is_err());
        assert!(query(Some("since=1")).is_err());
    }
}
