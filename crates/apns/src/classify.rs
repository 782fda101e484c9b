//! The one place APNs answers become pushway [`Outcome`]s (protocols/apns.md §4). Pure: status,
//! headers and body in, outcome out; no I/O, no clock.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode};
use pushway_core::{Outcome, Reason};
use serde::Deserialize;

use crate::reason::ApnsReason;

/// What an APNs answer means: the [`Outcome`] for the token, the reason APNs gave, and whether
/// the connection it came on should be replaced (APNs asks for a new connection after some
/// reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The outcome for the device token.
    pub outcome: Outcome,
    /// The reason from the body, when there was one.
    pub reason: Option<ApnsReason>,
    /// Stop opening streams on this connection and use a new one for later sends.
    pub recycle_connection: bool,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow, default)]
    reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<serde_json::Value>,
}

/// Classifies one APNs answer.
///
/// | status | reason | outcome |
/// |---|---|---|
/// | 200 | — | `Delivered { vendor_id: apns-id }` |
/// | 410 | `Unregistered`, `ExpiredToken`, any | `InvalidToken { since: timestamp }` |
/// | 400 | `BadDeviceToken`, `DeviceTokenNotForTopic` | `InvalidToken` |
/// | 400 | `BadTopic`, `MissingTopic`, `TopicDisallowed` | `Misconfigured` |
/// | 400 | `IdleTimeout` | `Retry`, new connection |
/// | 400 | other (bad headers, empty payload…) | `Rejected` |
/// | 403 | `ExpiredProviderToken` | `Auth` (the provider refreshes and resends once before this) |
/// | 403 | `UnrelatedKeyIdInToken` | `Retry`, new connection |
/// | 403 | other (`InvalidProviderToken`, `BadEnvironmentKey(Id)InToken`, `Forbidden`…) | `Auth`, new connection |
/// | 404, 405, 413 | any | `Rejected` |
/// | 429 | `TooManyRequests`, `TooManyProviderTokenUpdates`, any | `Retry` |
/// | 500 | any | `Retry` |
/// | 503 | any | `Retry`, new connection |
/// | other | any | `Retry` |
///
/// Reasons are matched first and statuses second, so a reason Apple adds later still lands by
/// its status, with its string kept. `Retry-After` is honoured if it ever appears (APNs documents
/// none). A missing, empty or non-JSON body (a proxy) is classified by status alone.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Classified {
    if status == StatusCode::OK {
        // The static name: no parsing of "apns-id" on every success.
        return delivered(headers.get(&crate::request::APNS_ID));
    }
    let parsed: Option<ErrorBody<'_>> = serde_json::from_slice(body).ok();
    let reason = parsed
        .as_ref()
        .and_then(|b| b.reason.as_deref())
        .filter(|r| !r.is_empty())
        .map(ApnsReason::parse);
    let since = parsed
        .as_ref()
        .and_then(|b| b.timestamp.as_ref())
        .and_then(timestamp_ms)
        .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    let code: Reason = match &reason {
        Some(r) => Reason::new(r.as_str().to_owned()),
        None => Reason::new(format!("http_{}", status.as_u16())),
    };
    let after = retry_after(headers);
    let retry = |code: Reason| Outcome::Retry {
        after,
        reason: code,
    };
    use ApnsReason as R;
    let (outcome, recycle) = match (status.as_u16(), &reason) {
        (410, _) => (
            Outcome::InvalidToken {
                reason: code,
                since,
            },
            false,
        ),
        // BadDeviceToken means "malformed, or a token of the other environment": a sandbox
        // (development-build) token sent to the production host, or the reverse, answers exactly
        // like a dead token. The provider refuses tokens whose kind does not match its own
        // environment before sending, so here the token really is bad for this host — but if many
        // tokens start failing this way, suspect tokens stored under the wrong environment.
        (_, Some(R::BadDeviceToken | R::DeviceTokenNotForTopic)) => (
            Outcome::InvalidToken {
                reason: code,
                since: None,
            },
            false,
        ),
        (_, Some(R::BadTopic | R::MissingTopic | R::TopicDisallowed)) => {
            (Outcome::Misconfigured { reason: code }, false)
        }
        (_, Some(R::IdleTimeout | R::UnrelatedKeyIdInToken | R::Shutdown)) => (retry(code), true),
        (_, Some(R::ServiceUnavailable)) => (retry(code), true),
        (_, Some(R::TooManyRequests | R::TooManyProviderTokenUpdates | R::InternalServerError)) => {
            (retry(code), false)
        }
        (_, Some(R::PayloadTooLarge)) => (Outcome::Rejected { reason: code }, false),
        (_, Some(R::ExpiredProviderToken)) => (Outcome::Auth { reason: code }, true),
        (403, _) => (Outcome::Auth { reason: code }, true),
        (400 | 404 | 405 | 413, _) => (Outcome::Rejected { reason: code }, false),
        (429 | 500, _) => (retry(code), false),
        (503, _) => (retry(code), true),
        _ => (retry(code), false),
    };
    Classified {
        outcome,
        reason,
        recycle_connection: recycle,
    }
}

/// A 200: delivered, with the `apns-id` APNs echoed (the transport calls this directly, without
/// building a header map for every success).
pub(crate) fn delivered(apns_id: Option<&HeaderValue>) -> Classified {
    Classified {
        outcome: Outcome::Delivered {
            vendor_id: apns_id.and_then(|v| v.to_str().ok()).map(str::to_owned),
        },
        reason: None,
        recycle_connection: false,
    }
}

/// The 410 `timestamp`: epoch milliseconds, an integer (leniently also a float or a numeric
/// string, as a proxy might rewrite it).
fn timestamp_ms(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `Retry-After` in delta-seconds (APNs documents none; honoured if a proxy or APNs sends one).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: u16, body: &str) -> Classified {
        classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    fn body(reason: &str) -> String {
        format!(r#"{{"reason":"{reason}"}}"#)
    }

    /// Every status/reason pair of protocols/apns.md §4, with its outcome label.
    const TABLE: &[(u16, &str, &str, bool)] = &[
        (400, "BadCollapseId", "rejected", false),
        (400, "BadDeviceToken", "invalid_token", false),
        (400, "BadExpirationDate", "rejected", false),
        (400, "BadMessageId", "rejected", false),
        (400, "BadPriority", "rejected", false),
        (400, "BadTopic", "misconfigured", false),
        (400, "DeviceTokenNotForTopic", "invalid_token", false),
        (400, "DuplicateHeaders", "rejected", false),
        (400, "IdleTimeout", "retry", true),
        (400, "InvalidPushType", "rejected", false),
        (400, "MissingDeviceToken", "rejected", false),
        (400, "MissingTopic", "misconfigured", false),
        (400, "PayloadEmpty", "rejected", false),
        (400, "TopicDisallowed", "misconfigured", false),
        (403, "BadCertificate", "auth", true),
        (403, "BadCertificateEnvironment", "auth", true),
        (403, "ExpiredProviderToken", "auth", true),
        (403, "Forbidden", "auth", true),
        (403, "InvalidProviderToken", "auth", true),
        (403, "MissingProviderToken", "auth", true),
        (403, "UnrelatedKeyIdInToken", "retry", true),
        (403, "BadEnvironmentKeyIdInToken", "auth", true),
        (403, "BadEnvironmentKeyInToken", "auth", true),
        (404, "BadPath", "rejected", false),
        (405, "MethodNotAllowed", "rejected", false),
        (410, "ExpiredToken", "invalid_token", false),
        (410, "Unregistered", "invalid_token", false),
        (413, "PayloadTooLarge", "rejected", false),
        (429, "TooManyProviderTokenUpdates", "retry", false),
        (429, "TooManyRequests", "retry", false),
        (500, "InternalServerError", "retry", false),
        (503, "ServiceUnavailable", "retry", true),
        (503, "Shutdown", "retry", true),
    ];

    #[test]
    fn every_reason_of_the_notes_maps_to_its_outcome() {
        for &(status, reason, label, recycle) in TABLE {
            let c = run(status, &body(reason));
            assert_eq!(c.outcome.as_str(), label, "{status} {reason}");
            assert_eq!(c.recycle_connection, recycle, "{status} {reason}");
            assert_eq!(c.outcome.reason().unwrap().code(), reason);
            assert_eq!(c.reason.as_ref().map(ApnsReason::as_str), Some(reason));
            assert!(
                !matches!(c.reason, Some(ApnsReason::Unknown(_))),
                "{reason}"
            );
        }
        // Every known reason is in the table.
        assert_eq!(TABLE.len(), ApnsReason::KNOWN.len());
    }

    #[test]
    fn success_carries_the_echoed_apns_id() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "apns-id",
            "3F2B6C1E-8D4A-4E7B-9C0D-1A2B3C4D5E6F".parse().unwrap(),
        );
        let c = classify(StatusCode::OK, &headers, b"");
        assert_eq!(
            c.outcome,
            Outcome::Delivered {
                vendor_id: Some("3F2B6C1E-8D4A-4E7B-9C0D-1A2B3C4D5E6F".into())
            }
        );
    }

    #[test]
    fn gone_tokens_carry_their_timestamp() {
        let c = run(
            410,
            r#"{"reason":"Unregistered","timestamp":1767222000000}"#,
        );
        let Outcome::InvalidToken { reason, since } = c.outcome else {
            panic!("{:?}", c.outcome)
        };
        assert_eq!(reason.code(), "Unregistered");
        assert_eq!(
            since,
            Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_222_000_000))
        );
        let c = run(410, r#"{ "reason" : "ExpiredToken" }"#);
        assert!(matches!(
            c.outcome,
            Outcome::InvalidToken { since: None, .. }
        ));
    }

    #[test]
    fn unknown_reasons_are_kept_and_classified_by_status() {
        for (status, label) in [
            (400, "rejected"),
            (403, "auth"),
            (404, "rejected"),
            (410, "invalid_token"),
            (413, "rejected"),
            (429, "retry"),
            (500, "retry"),
            (503, "retry"),
            (502, "retry"),
        ] {
            let c = run(status, &body("BrandNewReason"));
            assert_eq!(c.outcome.as_str(), label, "{status}");
            assert_eq!(c.outcome.reason().unwrap().code(), "BrandNewReason");
            assert_eq!(c.reason, Some(ApnsReason::Unknown("BrandNewReason".into())));
        }
    }

    #[test]
    fn bodies_that_are_not_json_are_classified_by_status() {
        for (status, text, label) in [
            (502, "<html>bad gateway</html>", "retry"),
            (400, "", "rejected"),
            (403, "{}", "auth"),
            (410, r#"{"reason":""}"#, "invalid_token"),
        ] {
            let c = run(status, text);
            assert_eq!(c.outcome.as_str(), label, "{status} {text}");
            assert_eq!(c.reason, None);
            assert_eq!(c.outcome.reason().unwrap().code(), format!("http_{status}"));
        }
    }

    #[test]
    fn retry_after_is_honoured_when_present() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        let c = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            body("TooManyRequests").as_bytes(),
        );
        assert_eq!(c.outcome.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            run(429, &body("TooManyRequests")).outcome.retry_after(),
            None
        );
    }
}
