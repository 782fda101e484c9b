use std::time::Duration;

use pushway_core::{Outcome, Reason};

use super::*;

const A: &str = "IQAAAACy0aaaTOKEN-A";
const B: &str = "IQAAAACy0bbbTOKEN-B";
const C: &str = "IQAAAACy0cccTOKEN-C";

fn labels(c: &Classified) -> Vec<&'static str> {
    c.outcomes.iter().map(Outcome::as_str).collect()
}

fn code_of(o: &Outcome) -> &str {
    o.reason().map(Reason::code).unwrap_or("")
}

#[test]
fn success_is_delivered_with_the_request_id() {
    let body = br#"{"code":"80000000","msg":"Success","requestId":"170000000012345678900101"}"#;
    let c = classify(200, None, body, &[A, B]);
    assert_eq!(c.code, Some(ResultCode::Success));
    let delivered = Outcome::Delivered {
        vendor_id: Some("170000000012345678900101".to_owned()),
    };
    assert_eq!(c.outcomes, vec![delivered.clone(), delivered]);
    // PHP tolerates an integer code: so do we.
    let c = classify(200, None, br#"{"code":80000000,"msg":"Success"}"#, &[A]);
    assert_eq!(labels(&c), ["delivered"]);
}

#[test]
fn partial_success_snake_shape_marks_exactly_the_listed_tokens() {
    let body = br#"{"code":"80100000","msg":"{\"success\":2,\"failure\":1,\"illegal_tokens\":[\"IQAAAACy0bbbTOKEN-B\"]}","requestId":"r2"}"#;
    let c = classify(200, None, body, &[A, B, C]);
    assert_eq!(labels(&c), ["delivered", "invalid_token", "delivered"]);
    assert_eq!(code_of(&c.outcomes[1]), "80100000");
    assert!(c.outcomes[1].should_drop_token());
}

#[test]
fn partial_success_camel_shape_applies_the_reasons() {
    let body = br#"{"code":"80100000","msg":"{\"failure\":3,\"illegalTokens\":{\"tokenFormatError\":[\"IQAAAACy0aaaTOKEN-A\"],\"noRight\":[\"IQAAAACy0bbbTOKEN-B\"],\"appinfoError\":[\"IQAAAACy0cccTOKEN-C\"]}}","requestId":"r3"}"#;
    let c = classify(200, None, body, &[A, B, C, "D"]);
    assert_eq!(
        labels(&c),
        ["invalid_token", "stale", "misconfigured", "delivered"]
    );
    assert_eq!(c.outcomes[1].reason().unwrap().detail(), Some("noRight"));
    assert!(!c.outcomes[1].should_drop_token());
    assert!(!c.outcomes[1].is_retryable());
}

#[test]
fn other_reasons_are_rejected_or_unknown() {
    let body = br#"{"code":"80100000","msg":"{\"illegalTokens\":{\"countryNotSupport\":[\"IQAAAACy0aaaTOKEN-A\"],\"somethingNew\":[\"IQAAAACy0bbbTOKEN-B\"]}}"}"#;
    let c = classify(200, None, body, &[A, B, C]);
    assert_eq!(labels(&c), ["rejected", "unknown", "delivered"]);
}

#[test]
fn unparseable_partial_detail_is_unknown_for_every_token_never_retry_never_prune() {
    for msg in [
        r#""Check Parameter Partial Success.""#,
        r#""{\"illegal_tokens\":[]}""#,
        r#""{\"illegal_tokens\":[\"NOT-IN-BATCH\"]}""#,
        r#"42"#,
    ] {
        let body = format!(r#"{{"code":"80100000","msg":{msg}}}"#);
        let c = classify(200, None, body.as_bytes(), &[A, B]);
        assert_eq!(labels(&c), ["unknown", "unknown"], "{msg}");
        assert!(
            c.outcomes
                .iter()
                .all(|o| !o.is_retryable() && !o.should_drop_token())
        );
        assert_eq!(code_of(&c.outcomes[0]), "80100000");
    }
}

#[test]
fn all_invalid_plain_text_small_batch_is_invalid_token() {
    let body = br#"{"code":"80300007","msg":"All the tokens are invalid","requestId":"r4"}"#;
    let c = classify(200, None, body, &[A, B]);
    assert_eq!(labels(&c), ["invalid_token", "invalid_token"]);
    assert_eq!(code_of(&c.outcomes[0]), "80300007");
    // HTTP 400 with the same body: the body decides.
    assert_eq!(labels(&classify(400, None, body, &[A])), ["invalid_token"]);
}

#[test]
fn all_invalid_large_batch_is_misconfigured_not_pruned() {
    let tokens: Vec<String> = (0..MISCONFIGURED_BATCH).map(|i| format!("T{i}")).collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let body = br#"{"code":"80300007","msg":"All the tokens are invalid"}"#;
    let c = classify(200, None, body, &refs);
    assert!(c.outcomes.iter().all(|o| o.as_str() == "misconfigured"));
    let c = classify(200, None, body, &refs[..MISCONFIGURED_BATCH - 1]);
    assert!(c.outcomes.iter().all(Outcome::should_drop_token));
}

#[test]
fn all_invalid_with_camel_detail_uses_the_reasons() {
    // F12 and F12b.
    let body = br#"{"code":"80300007","msg":"{\"failure\":1,\"illegalTokens\":{\"tokenFormatError\":[\"IQAAAACy0aaaTOKEN-A\"]}}"}"#;
    assert_eq!(labels(&classify(200, None, body, &[A])), ["invalid_token"]);
    let body = br#"{"code":"80300007","msg":"{\"illegalTokens\":{\"noRight\":[\"IQAAAACy0cccTOKEN-C\"]},\"failure\":1}"}"#;
    assert_eq!(labels(&classify(200, None, body, &[C])), ["stale"]);
    // A listed token missing from an all-invalid answer is not guessed at.
    let body = br#"{"code":"80300007","msg":"{\"illegalTokens\":{\"noRight\":[\"IQAAAACy0cccTOKEN-C\"]}}"}"#;
    assert_eq!(
        labels(&classify(200, None, body, &[A, C])),
        ["unknown", "stale"]
    );
}

#[test]
fn no_right_on_every_token_of_a_large_batch_is_misconfigured() {
    let tokens: Vec<String> = (0..12).map(|i| format!("T{i}")).collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let msg = serde_json::json!({"illegalTokens": {"noRight": refs}}).to_string();
    let body = serde_json::json!({"code": "80300007", "msg": msg}).to_string();
    let c = classify(200, None, body.as_bytes(), &refs);
    assert!(c.outcomes.iter().all(|o| o.as_str() == "misconfigured"));
}

#[test]
fn auth_codes_are_auth_and_ask_for_a_new_credential_with_401_or_200() {
    for (status, code) in [
        (401, "80200001"),
        (200, "80200003"),
        (401, "80200003"),
        (401, "80200005"),
    ] {
        let body = format!(r#"{{"code":"{code}","msg":"Oauth Token expired"}}"#);
        let c = classify(status, None, body.as_bytes(), &[A]);
        assert_eq!(labels(&c), ["auth"]);
        assert_eq!(code_of(&c.outcomes[0]), code);
        assert!(c.wants_new_credential());
    }
    let bare = classify(401, None, b"", &[A]);
    assert_eq!(labels(&bare), ["auth"]);
    assert!(bare.wants_new_credential());
    assert!(!classify(403, None, b"", &[A]).wants_new_credential());
}

#[test]
fn bad_request_codes_are_rejected_with_the_code() {
    for code in [
        "80100001", "80100002", "80100003", "80100004", "80100013", "80100016", "80100018",
        "80300008", "80300010",
    ] {
        let body = format!(r#"{{"code":"{code}","msg":"x"}}"#);
        let c = classify(400, None, body.as_bytes(), &[A, B]);
        assert_eq!(labels(&c), ["rejected", "rejected"], "{code}");
        assert_eq!(code_of(&c.outcomes[0]), code);
        assert!(!c.wants_new_credential());
    }
}

#[test]
fn configuration_codes_are_misconfigured() {
    for code in ["80300002", "80300011"] {
        let body = format!(r#"{{"code":"{code}","msg":"x"}}"#);
        assert_eq!(
            labels(&classify(200, None, body.as_bytes(), &[A])),
            ["misconfigured"]
        );
    }
}

#[test]
fn retry_codes_and_statuses_are_retry() {
    for (status, body) in [
        (500, r#"{"code":"81000001","msg":"Inner Error."}"#),
        (200, r#"{"code":"81000001","msg":"Inner Error."}"#),
        (200, r#"{"code":"80100017","msg":"x"}"#),
        (200, r#"{"code":"80600003","msg":"x"}"#),
        (503, ""),
        (503, "<html>busy</html>"),
        (502, ""),
        (504, ""),
        (429, ""),
    ] {
        let c = classify(status, None, body.as_bytes(), &[A]);
        assert_eq!(labels(&c), ["retry"], "{status} {body}");
    }
    let c = classify(503, Some("7"), b"", &[A, B]);
    assert_eq!(c.outcomes[1].retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(code_of(&c.outcomes[0]), "http_503");
    assert_eq!(c.code, None);
}

#[test]
fn unknown_codes_are_preserved_and_the_status_decides() {
    let body = br#"{"code":"80300036","msg":"new"}"#;
    for (status, label) in [
        (200, "unknown"),
        (500, "retry"),
        (401, "auth"),
        (400, "rejected"),
    ] {
        let c = classify(status, None, body, &[A]);
        assert_eq!(labels(&c), [label], "{status}");
        assert_eq!(code_of(&c.outcomes[0]), "80300036");
        assert_eq!(c.code, Some(ResultCode::Unknown("80300036".to_owned())));
    }
}

#[test]
fn without_a_push_kit_body_the_status_decides() {
    for (status, label) in [
        (404, "misconfigured"),
        (400, "rejected"),
        (413, "rejected"),
        (200, "unknown"),
        (403, "auth"),
    ] {
        assert_eq!(
            labels(&classify(status, None, b"not json", &[A])),
            [label],
            "{status}"
        );
    }
    // JSON without a code is not a Push Kit answer either.
    assert_eq!(
        labels(&classify(502, None, br#"{"error":"bad gateway"}"#, &[A])),
        ["retry"]
    );
}

#[test]
fn one_outcome_per_token_in_every_case() {
    let bodies: [&[u8]; 4] = [
        br#"{"code":"80000000"}"#,
        br#"{"code":"80300007","msg":"All the tokens are invalid"}"#,
        br#"{"code":"80100000","msg":"{\"illegal_tokens\":[\"T3\"]}"}"#,
        b"",
    ];
    let tokens: Vec<String> = (0..1000).map(|i| format!("T{i}")).collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    for body in bodies {
        assert_eq!(classify(200, None, body, &refs).outcomes.len(), 1000);
    }
}
