//! The table-driven rendering cases in `fixtures/render/`: each file is one rule's input and its
//! exact expected output.

use std::path::PathBuf;

use pushway_core::{Budget, Message, Recipient, Rendered, Renderer, fit_text};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[allow(dead_code)]
    rule: String,
    #[serde(default)]
    options: Options,
    #[serde(default)]
    budget: Option<BudgetSpec>,
    message: Value,
    recipient: Value,
    expect: Value,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {
    custom_desc_brackets: Option<bool>,
    android_package: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum BudgetSpec {
    Chars(usize),
    Bytes(usize),
    Utf16(usize),
}

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/render")
}

fn load_cases() -> Vec<(String, Case)> {
    let mut files: Vec<_> = std::fs::read_dir(fixture_dir())
        .expect("fixtures/render exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable fixture");
            let case: Case =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                case,
            )
        })
        .collect()
}

fn renderer(options: &Options) -> Renderer {
    let mut renderer = Renderer::new();
    if let Some(brackets) = options.custom_desc_brackets {
        renderer = renderer.custom_desc_brackets(brackets);
    }
    if let Some(package) = &options.android_package {
        renderer = renderer.android_package(package.clone());
    }
    renderer
}

/// What a case produced, in the fixtures' `expect` shape.
fn actual(case: &Case) -> Value {
    let message: Message = pushway_core::json::from_str(&case.message.to_string())
        .unwrap_or_else(|e| panic!("{}: message: {e}", case.name));
    let recipient: Recipient = pushway_core::json::from_str(&case.recipient.to_string())
        .unwrap_or_else(|e| panic!("{}: recipient: {e}", case.name));
    match renderer(&case.options).render(&message, &recipient) {
        Ok(Rendered::Suppressed(reason)) => serde_json::json!({ "suppressed": reason.as_str() }),
        Ok(Rendered::Notification(mut n)) => {
            if let Some(spec) = case.budget {
                let budget = match spec {
                    BudgetSpec::Chars(n) => Budget::Chars(n),
                    BudgetSpec::Bytes(n) => Budget::Bytes(n),
                    BudgetSpec::Utf16(n) => Budget::Utf16(n),
                };
                n.body = fit_text(&n.body, budget).into_owned();
            }
            serde_json::json!({ "notification": n })
        }
        // No input fails to render (a bad sound is a warning on the notification).
        Err(other) => panic!("{}: unexpected error {other}", case.name),
    }
}

#[test]
fn every_render_fixture_produces_exactly_its_expected_output() {
    let cases = load_cases();
    assert!(cases.len() >= 30, "only {} rendering cases", cases.len());
    let mut failures = Vec::new();
    for (file, case) in &cases {
        let got = actual(case);
        if got != case.expect {
            failures.push(format!(
                "{file}\n  expected {}\n  got      {}",
                case.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_cover_every_suppression_reason() {
    let cases = load_cases();
    for reason in [
        "recipient_logged_out",
        "recipient_kicked_offline",
        "system_message",
        "recipient_disabled",
        "message_disabled",
        "recipient_is_sender",
        "nothing_to_show",
    ] {
        assert!(
            cases.iter().any(|(_, c)| c.expect["suppressed"] == reason),
            "no fixture for {reason}"
        );
    }
}

#[test]
fn a_rendered_notification_round_trips_through_json() {
    for (file, case) in load_cases() {
        if let Some(expected) = case.expect.get("notification") {
            let n: pushway_core::Notification = pushway_core::json::from_str(&expected.to_string())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(&serde_json::to_value(&n).unwrap(), expected, "{file}");
        }
    }
}
