//! The JSON bodies the Xiaomi simulator answers with.
//!
//! Shapes and texts follow protocols/xiaomi.md §5 and §10.4. Every body is an object with its
//! keys in a fixed order, so a test can compare bytes with `fixtures/xiaomi/*.json`.

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use crate::http_server::Reply;

const JSON: &str = "application/json";

/// The trace id of the n-th answered request (`Xdm` + 17 digits + `aa`, the fixture pattern).
fn trace_id(seq: u64) -> String {
    format!("Xdm{seq:017}aa")
}

/// The message id of the n-th answered request (`sdm` + 17 digits + `bb`).
fn message_id(seq: u64) -> String {
    format!("sdm{seq:017}bb")
}

#[derive(Serialize)]
struct OkBody<'a> {
    result: &'static str,
    trace_id: String,
    code: u32,
    data: OkData<'a>,
    description: &'static str,
    info: String,
}

#[derive(Serialize)]
struct OkData<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_acked: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_quota: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bad_regids: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    result: &'static str,
    reason: &'a str,
    trace_id: String,
    code: u32,
    description: &'a str,
}

/// The daily quota state reported with a success, when a quota is configured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quota {
    pub acked: u64,
    pub quota: u64,
}

/// `code` 0: the message was accepted for `valid` regids; `bad` lists the others.
pub(crate) fn success(seq: u64, valid: usize, bad: &[&str], quota: Option<Quota>) -> Reply {
    let bad_joined = (!bad.is_empty()).then(|| bad.join(","));
    let body = OkBody {
        result: "ok",
        trace_id: trace_id(seq),
        code: 0,
        data: OkData {
            id: message_id(seq),
            day_acked: quota.map(|q| q.acked.to_string()),
            day_quota: quota.map(|q| q.quota.to_string()),
            bad_regids: bad_joined.as_deref(),
        },
        description: "成功",
        info: format!("Received push messages for {valid} REGID"),
    };
    json(&body)
}

/// A business error: HTTP 200 with `result:"error"` (§1: every observed error uses 200).
pub(crate) fn error(seq: u64, code: u32, reason: &str, description: &str) -> Reply {
    json(&ErrorBody {
        result: "error",
        reason,
        trace_id: trace_id(seq),
        code,
        description,
    })
}

/// 20301: no target of the request is valid (also what a wrong package name gets).
pub(crate) fn no_valid_targets(seq: u64) -> Reply {
    error(seq, 20301, "No valid targets!", "发送消息失败")
}

/// 21301: the `Authorization: key=<AppSecret>` header is missing or wrong.
pub(crate) fn bad_secret(seq: u64) -> Reply {
    error(seq, 21301, "Invalid application secret.", "认证失败")
}

/// 10016: a required parameter is missing (reason and description as in the official SDK
/// examples: `"<name>参数不能为空"`, `"缺失必选参数"`).
pub(crate) fn missing_parameter(seq: u64, name: &str) -> Reply {
    error(seq, 10016, &format!("{name}参数不能为空"), "缺失必选参数")
}

/// 65011: a notification without title or description.
pub(crate) fn empty_title(seq: u64) -> Reply {
    error(seq, 65011, "Title or Description is empty!", "未提供参数")
}

/// 10017: more regids than one request may carry (the code Xiaomi answers is not documented;
/// 10017 "illegal parameter value" is the modelled one).
pub(crate) fn too_many_regids(seq: u64, limit: usize) -> Reply {
    let reason = format!("registration_id count exceeds the limit of {limit}");
    error(seq, 10017, &reason, "参数值非法")
}

/// 27001: `extra.channel_id` missing while the app must send with a channel.
pub(crate) fn invalid_channel(seq: u64) -> Reply {
    error(seq, 27001, "invalid channel info!", "channel相关信息不匹配")
}

/// 200001: the daily quota is used up.
pub(crate) fn quota_exceeded(seq: u64, quota: u64, acked: u64) -> Reply {
    let reason = format!("exceed quota, quota: {quota}, have acked: {acked}");
    error(seq, 200001, &reason, "exceed quota")
}

/// 10027: the app calls the API too often (rate limit).
pub(crate) fn rate_limited(seq: u64) -> Reply {
    error(
        seq,
        10027,
        "app api call too frequently",
        "应用的API调用太频繁",
    )
}

fn json(body: &impl Serialize) -> Reply {
    match serde_json::to_vec(body) {
        Ok(bytes) => Reply::body(StatusCode::OK, JSON, Bytes::from(bytes)),
        Err(_) => Reply::empty(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
