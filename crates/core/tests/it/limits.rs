//! The budget helper: shortening on grapheme boundaries, payload fitting, the typed error.

use pushway_core::limits::ELLIPSIS;
use pushway_core::{Budget, PayloadTooLarge, fit_payload, fit_text};

#[test]
fn fit_text_borrows_when_it_fits() {
    assert!(matches!(
        fit_text("短信", Budget::Chars(2)),
        std::borrow::Cow::Borrowed("短信")
    ));
}

#[test]
fn fit_text_with_a_budget_smaller_than_the_ellipsis_is_empty() {
    assert_eq!(fit_text("hello", Budget::Bytes(2)), "");
    assert_eq!(fit_text("hello", Budget::Chars(1)), ELLIPSIS);
}

#[test]
fn fit_text_keeps_combining_marks_with_their_letter() {
    // "é" as e + U+0301: cutting between them would change the text.
    let text = "cafe\u{301}s!";
    assert_eq!(fit_text(text, Budget::Chars(6)), "cafe\u{301}…");
    assert_eq!(fit_text(text, Budget::Chars(5)), "caf…");
}

fn json_payload(body: &str, ext: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "aps": { "alert": { "body": body } }, "ext": ext }))
        .unwrap()
}

#[test]
fn fit_payload_leaves_a_fitting_payload_alone() {
    let fitted = fit_payload("hello", 4096, |b| json_payload(b, "")).unwrap();
    assert!(!fitted.shortened);
    assert_eq!(fitted.payload, json_payload("hello", ""));
}

#[test]
fn fit_payload_shortens_the_body_to_exactly_fit() {
    let body = "好".repeat(2000); // 6000 bytes
    let fitted = fit_payload(&body, 4096, |b| json_payload(b, "x")).unwrap();
    assert!(fitted.shortened);
    assert!(fitted.payload.len() <= 4096);
    // The largest body that fits: every 好 is 3 bytes, the ellipsis 3 bytes.
    let overhead = json_payload("", "x").len();
    let kept = (4096 - overhead - 3) / 3;
    assert_eq!(
        fitted.payload,
        json_payload(&format!("{}…", "好".repeat(kept)), "x")
    );
}

#[test]
fn fit_payload_accounts_for_escaping() {
    // Each control character becomes six bytes of JSON (\u0001).
    let body = "\u{1}".repeat(1000);
    let fitted = fit_payload(&body, 1024, |b| json_payload(b, "")).unwrap();
    assert!(fitted.payload.len() <= 1024);
    let value: serde_json::Value = serde_json::from_slice(&fitted.payload).unwrap();
    let shortened = value["aps"]["alert"]["body"].as_str().unwrap();
    assert!(shortened.ends_with(ELLIPSIS));
    assert!(
        shortened
            .trim_end_matches(ELLIPSIS)
            .chars()
            .all(|c| c == '\u{1}')
    );
}

#[test]
fn fit_payload_never_splits_an_emoji() {
    let body = "👍🏽".repeat(500); // 8 bytes each: thumbs up + skin tone
    let fitted = fit_payload(&body, 1000, |b| json_payload(b, "")).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&fitted.payload).unwrap();
    let shortened = value["aps"]["alert"]["body"]
        .as_str()
        .unwrap()
        .trim_end_matches(ELLIPSIS);
    assert_eq!(shortened.len() % 8, 0, "a skin-tone emoji was split");
}

#[test]
fn fit_payload_reports_a_typed_error_when_the_ext_alone_is_too_big() {
    let ext = "x".repeat(5000);
    let err = fit_payload("hello", 4096, |b| json_payload(b, &ext)).unwrap_err();
    assert_eq!(
        err,
        PayloadTooLarge {
            size: json_payload(ELLIPSIS, &ext).len(),
            limit: 4096
        }
    );
    let error: pushway_core::Error = err.into();
    assert_eq!(error.payload_too_large().map(|e| e.limit), Some(4096));
}
