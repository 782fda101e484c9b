//! Every row of protocols/fcm.md §5, with the example bodies given there.

use super::*;

const UNREGISTERED: &str = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
const NOT_A_TOKEN: &str = r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;
const BAD_FIELD: &str = r#"{"error":{"code":400,"message":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].value","description":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12"}]}]}}"#;
const SENDER_ID: &str = r#"{"error":{"code":403,"message":"SenderId mismatch","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SENDER_ID_MISMATCH"}]}}"#;
const THIRD_PARTY: &str = r#"{"error":{"code":401,"message":"Auth error from APNS or Web Push Service","status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"THIRD_PARTY_AUTH_ERROR"},{"@type":"type.googleapis.com/google.firebase.fcm.v1.ApnsError","statusCode":403,"reason":"InvalidProviderToken"}]}}"#;
const OAUTH_401: &str = r#"{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.","status":"UNAUTHENTICATED"}}"#;
const QUOTA: &str = r#"{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"x","description":"y"}]},{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}"#;
const TOO_BIG: &str = r#"{"error":{"code":400,"message":"Android message is too big","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest"},{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;
const APNS_DEAD: &str = r#"{"error":{"code":400,"message":"APNs device token is disabled.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},{"@type":"type.googleapis.com/google.firebase.fcm.v1.ApnsError","statusCode":410,"reason":"Unregistered"}]}}"#;
const APNS_BAD: &str = r#"{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},{"@type":"type.googleapis.com/google.firebase.fcm.v1.ApnsError","statusCode":400,"reason":"BadDeviceToken"}]}}"#;
const PERMISSION: &str = r#"{"error":{"code":403,"message":"Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/p' (or it may not exist).","status":"PERMISSION_DENIED"}}"#;
const HTML_404: &str = "<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That\u{2019}s an error.</ins><p>The requested URL <code>/batch</code> was not found on this server.";

fn envelope(http: u16, status: &str, code: Option<&str>) -> String {
    let details = code.map_or_else(String::new, |c| {
        format!(
            r#","details":[{{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"{c}"}}]"#
        )
    });
    format!(r#"{{"error":{{"code":{http},"message":"m","status":"{status}"{details}}}}}"#)
}

fn outcome(http: u16, retry_after: Option<u64>, body: &str) -> Outcome {
    classify(http, retry_after.map(Duration::from_secs), body.as_bytes()).outcome
}

/// Code and label of an outcome, for compact asserts.
fn label(o: &Outcome) -> (String, String) {
    (
        o.as_str().to_owned(),
        o.reason().map_or_else(String::new, |r| r.code().to_owned()),
    )
}

fn is(o: Outcome, kind: &str, code: &str) {
    assert_eq!(label(&o), (kind.to_owned(), code.to_owned()), "{o:?}");
}

#[test]
fn accepted_is_delivered_with_the_message_name() {
    let body = "{\n  \"name\": \"projects/p/messages/0:1500415314455276%31bd1c9631bd1c96\"\n}\n";
    assert_eq!(
        outcome(200, None, body),
        Outcome::Delivered {
            vendor_id: Some("projects/p/messages/0:1500415314455276%31bd1c9631bd1c96".into())
        }
    );
    assert_eq!(outcome(200, None, ""), Outcome::DELIVERED);
}

#[test]
fn the_two_dead_token_shapes_are_invalid_token() {
    assert_eq!(
        outcome(404, None, UNREGISTERED),
        Outcome::InvalidToken {
            reason: Reason::new("UNREGISTERED").with_detail("Requested entity was not found."),
            since: None
        }
    );
    is(
        outcome(400, None, NOT_A_TOKEN),
        "invalid_token",
        "INVALID_ARGUMENT:token",
    );
    is(
        outcome(400, None, APNS_DEAD),
        "invalid_token",
        "APNS_Unregistered",
    );
}

#[test]
fn a_bad_apns_token_is_stale_not_deleted() {
    is(outcome(400, None, APNS_BAD), "stale", "APNS_BadDeviceToken");
}

#[test]
fn payload_errors_are_rejected() {
    is(outcome(400, None, TOO_BIG), "rejected", "PAYLOAD_TOO_LARGE");
    is(
        outcome(400, None, BAD_FIELD),
        "rejected",
        "INVALID_ARGUMENT",
    );
    let c = classify(400, None, BAD_FIELD.as_bytes());
    assert_eq!(
        (c.code, c.status.as_deref()),
        (None, Some("INVALID_ARGUMENT"))
    );
    let other = envelope(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"));
    is(outcome(400, None, &other), "rejected", "INVALID_ARGUMENT");
    is(
        outcome(400, None, "bad request"),
        "rejected",
        "INVALID_ARGUMENT",
    );
}

#[test]
fn third_party_auth_is_misconfigured_and_never_refreshes() {
    let c = classify(401, None, THIRD_PARTY.as_bytes());
    is(c.outcome.clone(), "misconfigured", "THIRD_PARTY_AUTH_ERROR");
    assert_eq!(c.code, Some(ErrorCode::ThirdPartyAuthError));
    assert!(!c.wants_new_credential());
    // Even when its text is the OAuth one (fcm.md: the message can be the very same).
    let same_text = THIRD_PARTY.replace(
        "Auth error from APNS or Web Push Service",
        "Request had invalid authentication credentials.",
    );
    assert!(!classify(401, None, same_text.as_bytes()).wants_new_credential());
}

#[test]
fn a_401_without_fcm_error_wants_a_new_token_then_is_auth() {
    for body in [OAUTH_401, "", "<html>Unauthorized</html>"] {
        let c = classify(401, None, body.as_bytes());
        is(c.outcome.clone(), "auth", "UNAUTHENTICATED");
        assert!(c.wants_new_credential(), "{body}");
    }
}

#[test]
fn sender_id_mismatch_is_misconfigured_and_keeps_the_token() {
    let o = outcome(403, None, SENDER_ID);
    is(o.clone(), "misconfigured", "SENDER_ID_MISMATCH");
    assert!(!o.should_drop_token());
}

#[test]
fn permission_denied_without_fcm_error_is_auth() {
    let c = classify(403, None, PERMISSION.as_bytes());
    is(c.outcome.clone(), "auth", "PERMISSION_DENIED");
    assert!(!c.wants_new_credential());
    is(outcome(403, None, ""), "auth", "PERMISSION_DENIED");
}

#[test]
fn a_bare_or_html_404_is_misconfigured_never_an_invalid_token() {
    for body in [HTML_404, "", &envelope(404, "NOT_FOUND", None)] {
        let o = outcome(404, None, body);
        is(o.clone(), "misconfigured", "NOT_FOUND");
        assert!(!o.should_drop_token());
    }
    is(outcome(405, None, ""), "misconfigured", "http_405");
}

#[test]
fn quota_waits_for_retry_after_or_a_minute() {
    assert_eq!(
        outcome(429, Some(7), QUOTA).retry_after(),
        Some(Duration::from_secs(7))
    );
    let o = outcome(429, None, QUOTA);
    is(o.clone(), "retry", "QUOTA_EXCEEDED");
    assert_eq!(o.retry_after(), Some(QUOTA_RETRY_AFTER));
    // No FcmError, or no JSON at all: the status says the same.
    let o = outcome(429, None, &envelope(429, "RESOURCE_EXHAUSTED", None));
    is(o.clone(), "retry", "RESOURCE_EXHAUSTED");
    assert_eq!(o.retry_after(), Some(QUOTA_RETRY_AFTER));
    assert_eq!(
        outcome(429, None, "").retry_after(),
        Some(QUOTA_RETRY_AFTER)
    );
}

#[test]
fn internal_and_unavailable_retry_with_retry_after_if_given() {
    for (http, name) in [(500, "INTERNAL"), (503, "UNAVAILABLE")] {
        let o = outcome(http, Some(3), &envelope(http, name, Some(name)));
        is(o.clone(), "retry", name);
        assert_eq!(o.retry_after(), Some(Duration::from_secs(3)));
        let o = outcome(http, None, &envelope(http, name, None));
        is(o.clone(), "retry", name);
        assert_eq!(o.retry_after(), None);
        is(outcome(http, None, "<html>"), "retry", name);
    }
}

#[test]
fn gateway_errors_retry() {
    is(
        outcome(502, None, "<html>Bad Gateway</html>"),
        "retry",
        "http_502",
    );
    assert_eq!(
        outcome(504, Some(2), "").retry_after(),
        Some(Duration::from_secs(2))
    );
}

#[test]
fn unspecified_and_unknown_codes_are_unknown_unless_the_status_is_retryable() {
    for code in ["UNSPECIFIED_ERROR", "BRAND_NEW_CODE"] {
        is(
            outcome(400, None, &envelope(400, "INVALID_ARGUMENT", Some(code))),
            "unknown",
            code,
        );
        is(
            outcome(503, None, &envelope(503, "UNAVAILABLE", Some(code))),
            "retry",
            code,
        );
        assert_eq!(
            outcome(429, None, &envelope(429, "RESOURCE_EXHAUSTED", Some(code))).retry_after(),
            Some(QUOTA_RETRY_AFTER)
        );
    }
    let c = classify(
        400,
        None,
        envelope(400, "X", Some("BRAND_NEW_CODE")).as_bytes(),
    );
    assert_eq!(
        c.code,
        Some(ErrorCode::Unknown("BRAND_NEW_CODE".to_owned()))
    );
}

#[test]
fn the_status_name_decides_before_the_http_status() {
    // A JSON body without FcmError: `error.status` wins over a surprising HTTP status.
    is(
        outcome(400, None, &envelope(400, "NOT_FOUND", None)),
        "misconfigured",
        "NOT_FOUND",
    );
    is(
        outcome(400, None, &envelope(400, "FAILED_PRECONDITION", None)),
        "rejected",
        "FAILED_PRECONDITION",
    );
}

#[test]
fn retry_after_takes_seconds_or_an_http_date() {
    let now = httpdate::parse_http_date("Sun, 06 Dec 2026 09:00:00 GMT").unwrap();
    assert_eq!(
        parse_retry_after(" 120 ", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Dec 2026 09:01:30 GMT", now),
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Dec 2026 08:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-5", now), None);
}
