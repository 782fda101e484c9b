//! The budget helper: shortening on grapheme boundaries, payload fitting, the typed error.

use proptest::prelude::*;
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

/// The longest grapheme-boundary prefix of `body` whose payload (prefix + ellipsis) fits, found
/// by building every one: the oracle `fit_payload` must match.
fn longest_fitting_prefix(
    body: &str,
    limit: usize,
    build: impl Fn(&str) -> Vec<u8>,
) -> Option<usize> {
    use unicode_segmentation::UnicodeSegmentation;
    let mut best = None;
    for (start, _) in body.grapheme_indices(true) {
        if build(&format!("{}{ELLIPSIS}", &body[..start])).len() <= limit {
            best = Some(start);
        } else {
            break;
        }
    }
    best
}

/// The body kept by a fitted JSON payload, without its ellipsis.
fn kept_body(payload: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
    let body = value["aps"]["alert"]["body"].as_str().unwrap();
    body.strip_suffix(ELLIPSIS).unwrap().to_owned()
}

/// 26 KB of pasted source code: quotes, backslashes, tabs and newlines on every line.
fn pasted_code() -> String {
    let lines = [
        "fn main() {\n",
        "\tlet path = \"C:\\\\Users\\\\ann\\\\config.json\";\n",
        "\tprintln!(\"{}\\n\", path.replace('\\\\', \"/\"));\n",
        "\tlet re = Regex::new(r\"^\\s*(\\w+)\\s*=\\s*\\\"(.*)\\\"$\").unwrap();\n",
        "}\n",
    ];
    lines.concat().repeat(26 * 1024 / lines.concat().len() + 1)
}

#[test]
fn fit_payload_keeps_the_longest_prefix_of_pasted_code() {
    let body = pasted_code();
    assert!(body.len() > 26 * 1024);
    let build = |b: &str| json_payload(b, "");
    let fitted = fit_payload(&body, 4096, build).unwrap();
    assert!(fitted.shortened);
    let kept = kept_body(&fitted.payload);
    // Before the fix, the escapes' excess was taken from the raw length: only "…" was sent.
    assert_eq!(kept.len(), 3371);
    assert_eq!(Some(kept.len()), longest_fitting_prefix(&body, 4096, build));
    assert!(body.starts_with(&kept));
}

#[test]
fn fit_payload_keeps_the_longest_prefix_of_short_lines() {
    let body = "ok\nsee you at 8\n".repeat(10 * 1024 / 16);
    let build = |b: &str| json_payload(b, "");
    let fitted = fit_payload(&body, 4096, build).unwrap();
    let kept = kept_body(&fitted.payload);
    // Before the fix: 2,775 bytes.
    assert_eq!(kept.len(), 3604);
    assert_eq!(Some(kept.len()), longest_fitting_prefix(&body, 4096, build));
}

#[test]
fn fit_payload_needs_three_builds_for_a_json_payload() {
    for body in [pasted_code(), "好\n\u{1}".repeat(3000), "👩‍👩‍👧".repeat(1000)] {
        let mut builds = 0;
        fit_payload(&body, 4096, |b| {
            builds += 1;
            json_payload(b, "x")
        })
        .unwrap();
        // The whole body, the estimate, and the estimate plus one grapheme.
        assert!(builds <= 3, "{builds} builds");
    }
}

#[test]
fn fit_payload_finds_the_longest_prefix_for_other_encodings_too() {
    // Percent-encoding, which the JSON estimate misjudges: the search still ends exact.
    let percent = |b: &str| {
        b.bytes()
            .flat_map(|c| match c {
                b'a'..=b'z' => vec![c],
                _ => format!("%{c:02X}").into_bytes(),
            })
            .collect::<Vec<u8>>()
    };
    let body = "a b&好\n".repeat(500);
    let fitted = fit_payload(&body, 1000, percent).unwrap();
    assert!(fitted.payload.len() <= 1000);
    let expected = longest_fitting_prefix(&body, 1000, percent).unwrap();
    let best = percent(&format!("{}{ELLIPSIS}", &body[..expected]));
    assert!(
        fitted.payload == best,
        "{} bytes, not {}",
        fitted.payload.len(),
        best.len()
    );
}

/// Bodies made of what escapes or segments badly: JSON escapes, control characters, CJK,
/// combining marks, skin tones, ZWJ families and flags.
fn hostile_text(pieces: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\""),
        Just("\\"),
        Just("\n"),
        Just("\t"),
        Just("\r"),
        Just("\u{1}"),
        Just("\u{1f}"),
        Just("\u{7f}"),
        Just("a"),
        Just(" "),
        Just("好"),
        Just("語"),
        Just("e\u{301}"),
        Just("👍🏽"),
        Just("👩‍👩‍👧"),
        Just("🇨🇳"),
        Just("\u{200d}"),
        Just("\r\n"),
    ];
    proptest::collection::vec(piece, pieces).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_fitted_payload_fits_and_one_more_grapheme_would_not(
        body in hostile_text(0..1200),
        title in hostile_text(0..20),
        limit in 20usize..4200,
    ) {
        use unicode_segmentation::UnicodeSegmentation;
        let build = |b: &str| json_payload(b, &title);
        let mut builds = 0;
        let result = fit_payload(&body, limit, |b| {
            builds += 1;
            build(b)
        });
        // The JSON estimate is exact: the whole body, the guess, its neighbour.
        prop_assert!(builds <= 3, "{} builds", builds);
        match result {
            Ok(fitted) => {
                prop_assert!(fitted.payload.len() <= limit);
                let value: serde_json::Value = serde_json::from_slice(&fitted.payload).unwrap();
                let sent = value["aps"]["alert"]["body"].as_str().unwrap();
                if !fitted.shortened {
                    prop_assert!(sent == body);
                    return Ok(());
                }
                let kept = sent.strip_suffix(ELLIPSIS).unwrap();
                prop_assert!(body.starts_with(kept));
                let boundaries: Vec<usize> = body.grapheme_indices(true).map(|(i, _)| i).collect();
                prop_assert!(boundaries.contains(&kept.len()), "cut inside a grapheme");
                let next = boundaries.iter().copied().find(|&i| i > kept.len()).unwrap_or(body.len());
                if next < body.len() {
                    let longer = build(&format!("{}{ELLIPSIS}", &body[..next]));
                    prop_assert!(longer.len() > limit, "one more grapheme would fit too");
                }
            }
            Err(e) => {
                prop_assert!(build(ELLIPSIS).len() > limit || body.is_empty());
                prop_assert_eq!(e.limit, limit);
                prop_assert!(e.size > limit);
            }
        }
    }
}
