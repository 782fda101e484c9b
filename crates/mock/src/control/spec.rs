//! The text form of a fault rule, shared by `pushway-mock`'s `--*-fault` flags and its control
//! endpoint, so that tools outside Rust can inject every fault the library can.
//!
//! A rule is `[TRIGGER:]FAULT`; without a trigger it applies to every request.
//!
//! | trigger | requests hit |
//! |---|---|
//! | `always` | every request |
//! | `times=N` | the next `N` requests that reach the rule |
//! | `ratio=K/N` | `K` in every `N`, evenly and deterministically ([`Trigger::Ratio`]) |
//! | `token=T` | requests to device token `T` (no `:` in `T`) |
//!
//! | fault | simulators | answer |
//! |---|---|---|
//! | `latency=MS` | all | the normal answer (or another fault's), `MS` milliseconds later |
//! | `drop` | all | the connection closes without an answer |
//! | `reason=NAME` | APNs | the status and body of an APNs reason, e.g. `reason=TooManyRequests` |
//! | `refused_stream` | APNs | `RST_STREAM` with `REFUSED_STREAM` |
//! | `goaway`, `goaway=NAME` | APNs | the answer, then a GOAWAY with `{"reason":"Shutdown"}` (or `NAME`) |
//! | `rate_limited`, `quota_exceeded` | Xiaomi | codes 10027 / 200001 |
//! | `flow_control`, `internal_error` | Huawei | HTTP 503 / code 81000001 |
//! | `status=CODE` | Xiaomi, Huawei | this HTTP status, empty body |
//! | `raw=CODE,CONTENT_TYPE,BODY` | Xiaomi, Huawei, FCM | this status, content type (may be empty) and body |
//! | `unregistered`, `invalid_token`, `apns_unregistered`, `sender_id_mismatch`, `third_party_auth_error`, `unauthenticated`, `permission_denied` | FCM | that documented error (protocols/fcm.md §5) |
//! | `quota_exceeded[=SECS]`, `unavailable[=SECS]`, `internal[=SECS]` | FCM | 429 / 503 / 500, with `retry-after: SECS` when given |
//! | `not_found_html`, `refused_stream`, `goaway` | FCM | Google's HTML 404; `RST_STREAM REFUSED_STREAM`; the answer, then GOAWAY |
//!
//! Examples: `reason=ServiceUnavailable`, `times=2:status=503`, `ratio=1/10:rate_limited`,
//! `token=REGID_A:drop`, `raw=502,text/html,<html>Bad Gateway</html>`.

use std::time::Duration;

use crate::apns::{ApnsFault, ApnsReason, GoAway};
use crate::fault::Trigger;
use crate::fcm::FcmFault;
use crate::huawei::HuaweiFault;
use crate::xiaomi::XiaomiFault;

/// Splits `[TRIGGER:]FAULT` and parses both halves; `fault` parses the simulator's faults.
pub fn parse_rule<F>(
    text: &str,
    fault: impl Fn(&str) -> Result<F, String>,
) -> Result<(Trigger, F), String> {
    let text = text.trim();
    let has_trigger = ["always:", "times=", "ratio=", "token="]
        .iter()
        .any(|prefix| text.starts_with(prefix));
    let (trigger, rest) = match text.split_once(':') {
        Some((trigger, rest)) if has_trigger => (parse_trigger(trigger)?, rest),
        _ if has_trigger => return Err(format!("{text:?}: a trigger needs `:FAULT` after it")),
        _ => (Trigger::Always, text),
    };
    Ok((trigger, fault(rest)?))
}

/// `always`, `times=N`, `ratio=K/N` or `token=T`.
pub fn parse_trigger(text: &str) -> Result<Trigger, String> {
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("trigger {text:?}: {s:?} is not a whole number"))
    };
    match text.split_once('=') {
        None if text == "always" => Ok(Trigger::Always),
        Some(("times", n)) => Ok(Trigger::Times(number(n)?)),
        Some(("ratio", kn)) => {
            let (k, n) = kn
                .split_once('/')
                .ok_or_else(|| format!("trigger {text:?}: expected ratio=K/N"))?;
            Ok(Trigger::ratio(number(k)?, number(n)?))
        }
        Some(("token", token)) if !token.is_empty() => Ok(Trigger::token(token)),
        _ => Err(format!(
            "unknown trigger {text:?}: expected always, times=N, ratio=K/N or token=T"
        )),
    }
}

/// A fault name with its optional `=value`.
fn split(text: &str) -> (&str, Option<&str>) {
    match text.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (text, None),
    }
}

fn latency(value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("latency={value}: expected whole milliseconds"))
}

fn status(value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| format!("status {value:?}: expected an HTTP status 100-999"))
}

/// `raw=CODE,CONTENT_TYPE,BODY` (the body may hold commas).
fn raw(value: &str) -> Result<(u16, String, String), String> {
    let mut parts = value.splitn(3, ',');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(code), Some(content_type), Some(body)) => {
            Ok((status(code)?, content_type.to_owned(), body.to_owned()))
        }
        _ => Err(format!("raw={value}: expected raw=CODE,CONTENT_TYPE,BODY")),
    }
}

fn unknown(simulator: &str, text: &str, known: &str) -> String {
    format!("unknown {simulator} fault {text:?}: expected {known}")
}

/// An APNs fault: `reason=NAME`, `latency=MS`, `refused_stream`, `drop`, `goaway[=NAME]`.
pub fn parse_apns_fault(text: &str) -> Result<ApnsFault, String> {
    let reason = |name: &str| {
        ApnsReason::from_name(name).ok_or_else(|| format!("unknown APNs reason {name:?}"))
    };
    match split(text) {
        ("reason", Some(name)) => Ok(ApnsFault::Reason(reason(name)?)),
        ("latency", Some(ms)) => Ok(ApnsFault::Latency(latency(ms)?)),
        ("refused_stream", None) => Ok(ApnsFault::RefusedStream),
        ("drop", None) => Ok(ApnsFault::DropConnection),
        ("goaway", None) => Ok(ApnsFault::GoAway(GoAway::shutdown())),
        ("goaway", Some(name)) => Ok(ApnsFault::GoAway(GoAway::with_reason(reason(name)?))),
        _ => Err(unknown(
            "APNs",
            text,
            "reason=NAME, latency=MS, refused_stream, drop or goaway[=NAME]",
        )),
    }
}

/// A Xiaomi fault: `rate_limited`, `quota_exceeded`, `status=CODE`, `raw=…`, `latency=MS`, `drop`.
pub fn parse_xiaomi_fault(text: &str) -> Result<XiaomiFault, String> {
    match split(text) {
        ("rate_limited", None) => Ok(XiaomiFault::RateLimited),
        ("quota_exceeded", None) => Ok(XiaomiFault::QuotaExceeded),
        ("status", Some(code)) => Ok(XiaomiFault::Status(status(code)?)),
        ("raw", Some(value)) => {
            let (status, content_type, body) = raw(value)?;
            Ok(XiaomiFault::Raw {
                status,
                content_type,
                body,
            })
        }
        ("latency", Some(ms)) => Ok(XiaomiFault::Latency(latency(ms)?)),
        ("drop", None) => Ok(XiaomiFault::DropConnection),
        _ => Err(unknown(
            "Xiaomi",
            text,
            "rate_limited, quota_exceeded, status=CODE, raw=CODE,TYPE,BODY, latency=MS or drop",
        )),
    }
}

/// A Huawei fault: `flow_control`, `internal_error`, `status=CODE`, `raw=…`, `latency=MS`, `drop`.
pub fn parse_huawei_fault(text: &str) -> Result<HuaweiFault, String> {
    match split(text) {
        ("flow_control", None) => Ok(HuaweiFault::FlowControl),
        ("internal_error", None) => Ok(HuaweiFault::InternalError),
        ("status", Some(code)) => Ok(HuaweiFault::Status(status(code)?)),
        ("raw", Some(value)) => {
            let (status, content_type, body) = raw(value)?;
            Ok(HuaweiFault::Raw {
                status,
                content_type,
                body,
            })
        }
        ("latency", Some(ms)) => Ok(HuaweiFault::Latency(latency(ms)?)),
        ("drop", None) => Ok(HuaweiFault::DropConnection),
        _ => Err(unknown(
            "Huawei",
            text,
            "flow_control, internal_error, status=CODE, raw=CODE,TYPE,BODY, latency=MS or drop",
        )),
    }
}

/// An FCM fault (see the table above).
pub fn parse_fcm_fault(text: &str) -> Result<FcmFault, String> {
    let secs = |value: Option<&str>| {
        value
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("{text}: expected whole seconds after `=`"))
            })
            .transpose()
    };
    match split(text) {
        ("unregistered", None) => Ok(FcmFault::Unregistered),
        ("invalid_token", None) => Ok(FcmFault::InvalidToken),
        ("apns_unregistered", None) => Ok(FcmFault::ApnsUnregistered),
        ("sender_id_mismatch", None) => Ok(FcmFault::SenderIdMismatch),
        ("third_party_auth_error", None) => Ok(FcmFault::ThirdPartyAuthError),
        ("unauthenticated", None) => Ok(FcmFault::Unauthenticated),
        ("permission_denied", None) => Ok(FcmFault::PermissionDenied),
        ("quota_exceeded", value) => Ok(FcmFault::QuotaExceeded {
            retry_after: secs(value)?,
        }),
        ("unavailable", value) => Ok(FcmFault::Unavailable {
            retry_after: secs(value)?,
        }),
        ("internal", value) => Ok(FcmFault::Internal {
            retry_after: secs(value)?,
        }),
        ("not_found_html", None) => Ok(FcmFault::NotFoundHtml),
        ("raw", Some(value)) => {
            let (status, content_type, body) = raw(value)?;
            Ok(FcmFault::Raw {
                status,
                content_type,
                body,
            })
        }
        ("latency", Some(ms)) => Ok(FcmFault::Latency(latency(ms)?)),
        ("drop", None) => Ok(FcmFault::DropConnection),
        ("refused_stream", None) => Ok(FcmFault::RefusedStream),
        ("goaway", None) => Ok(FcmFault::GoAway),
        _ => Err(unknown(
            "FCM",
            text,
            "unregistered, invalid_token, apns_unregistered, sender_id_mismatch, \
             third_party_auth_error, unauthenticated, permission_denied, quota_exceeded[=SECS], \
             unavailable[=SECS], internal[=SECS], not_found_html, raw=CODE,TYPE,BODY, latency=MS, \
             drop, refused_stream or goaway",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_and_without_a_trigger() {
        assert_eq!(
            parse_rule("status=503", parse_xiaomi_fault).unwrap(),
            (Trigger::Always, XiaomiFault::Status(503))
        );
        assert_eq!(
            parse_rule("times=2:rate_limited", parse_xiaomi_fault).unwrap(),
            (Trigger::Times(2), XiaomiFault::RateLimited)
        );
        assert_eq!(
            parse_rule("ratio=1/10:flow_control", parse_huawei_fault).unwrap(),
            (Trigger::ratio(1, 10), HuaweiFault::FlowControl)
        );
        assert_eq!(
            parse_rule("token=ab+cd/ef==:drop", parse_xiaomi_fault).unwrap(),
            (Trigger::token("ab+cd/ef=="), XiaomiFault::DropConnection)
        );
        assert_eq!(
            parse_rule("always:reason=TooManyRequests", parse_apns_fault).unwrap(),
            (
                Trigger::Always,
                ApnsFault::Reason(ApnsReason::TooManyRequests)
            )
        );
        assert_eq!(
            parse_rule("raw=502,text/html,<p>a, b: c</p>", parse_huawei_fault).unwrap(),
            (
                Trigger::Always,
                HuaweiFault::Raw {
                    status: 502,
                    content_type: "text/html".into(),
                    body: "<p>a, b: c</p>".into()
                }
            )
        );
        assert_eq!(
            parse_apns_fault("latency=250").unwrap(),
            ApnsFault::Latency(Duration::from_millis(250))
        );
        assert_eq!(
            parse_apns_fault("goaway").unwrap(),
            ApnsFault::GoAway(GoAway::shutdown())
        );
    }

    #[test]
    fn fcm_rules_parse() {
        assert_eq!(
            parse_rule("times=1:quota_exceeded=30", parse_fcm_fault).unwrap(),
            (
                Trigger::Times(1),
                FcmFault::QuotaExceeded {
                    retry_after: Some(30)
                }
            )
        );
        assert_eq!(
            parse_fcm_fault("unavailable").unwrap(),
            FcmFault::Unavailable { retry_after: None }
        );
        assert_eq!(
            parse_rule("token=fGw0:APA91b:unregistered", parse_fcm_fault),
            Err("unknown FCM fault \"APA91b:unregistered\": expected unregistered, invalid_token, apns_unregistered, sender_id_mismatch, third_party_auth_error, unauthenticated, permission_denied, quota_exceeded[=SECS], unavailable[=SECS], internal[=SECS], not_found_html, raw=CODE,TYPE,BODY, latency=MS, drop, refused_stream or goaway".to_owned())
        );
        assert!(
            parse_fcm_fault("internal=soon")
                .unwrap_err()
                .contains("whole seconds")
        );
        assert_eq!(parse_fcm_fault("goaway").unwrap(), FcmFault::GoAway);
    }

    #[test]
    fn mistakes_are_errors_that_say_what_is_expected() {
        for (text, needle) in [
            ("reason=Nope", "unknown APNs reason"),
            ("status=503", "unknown APNs fault"),
            ("times=x:drop", "not a whole number"),
            ("times=2", "needs `:FAULT`"),
            ("ratio=3:drop", "ratio=K/N"),
            ("latency=fast", "whole milliseconds"),
        ] {
            let err = parse_rule(text, parse_apns_fault).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
        let err = parse_rule("status=42", parse_xiaomi_fault).unwrap_err();
        assert!(err.contains("100-999"), "{err}");
        let err = parse_rule("raw=500", parse_huawei_fault).unwrap_err();
        assert!(err.contains("raw=CODE,CONTENT_TYPE,BODY"), "{err}");
    }
}
