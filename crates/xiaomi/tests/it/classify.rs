//! The pure classifier on the documented answer bodies (protocols/xiaomi.md §10.4).

use std::time::Duration;

use http::HeaderMap;
use pushway_core::{Outcome, Reason};
use pushway_xiaomi::{Safeguard, Verdict, classify};

const OK: &str = r#"{"result":"ok","trace_id":"Xdm00000000000000001aa","code":0,"data":{"id":"sdm00000000000000001bb","day_acked":"12","day_quota":"20000"},"description":"成功","info":"Received push messages for 2 REGID"}"#;
const OK_BAD: &str = r#"{"result":"ok","trace_id":"Xdm00000000000000002aa","code":0,"data":{"id":"sdm00000000000000002bb","bad_regids":"REGID_B"},"description":"成功","info":"Received push messages for 1 REGID"}"#;
const NO_TARGETS: &str = r#"{"result":"error","reason":"No valid targets!","trace_id":"Xdm00000000000000003aa","code":20301,"description":"发送消息失败"}"#;

fn verdict(status: u16, body: &str) -> Verdict {
    classify(status, &HeaderMap::new(), body.as_bytes())
}

fn one(status: u16, body: &str) -> Outcome {
    verdict(status, body)
        .outcomes(&["REGID_A"], Safeguard::default())
        .remove(0)
}

#[test]
fn success_and_partial_success() {
    assert_eq!(
        verdict(200, OK).outcomes(&["REGID_A", "REGID_B"], Safeguard::default()),
        vec![
            Outcome::Delivered {
                vendor_id: Some("sdm00000000000000001bb".into())
            };
            2
        ]
    );
    let outcomes = verdict(200, OK_BAD).outcomes(&["REGID_A", "REGID_B"], Safeguard::default());
    assert_eq!(
        outcomes[0],
        Outcome::Delivered {
            vendor_id: Some("sdm00000000000000002bb".into())
        }
    );
    assert_eq!(
        outcomes[1],
        Outcome::InvalidToken {
            reason: Reason::new("bad_regid"),
            since: None
        }
    );
}

#[test]
fn success_without_data_id_falls_back_to_the_trace_id() {
    let outcome = one(200, r#"{"result":"ok","code":0,"trace_id":"Xt1"}"#);
    assert_eq!(
        outcome,
        Outcome::Delivered {
            vendor_id: Some("Xt1".into())
        }
    );
}

#[test]
fn bad_regids_as_an_array_and_unreadable() {
    let body = r#"{"code":0,"data":{"id":"m","bad_regids":["b"]}}"#;
    let outcomes = verdict(200, body).outcomes(&["a", "b"], Safeguard::default());
    assert_eq!(outcomes[1].as_str(), "invalid_token");
    let body = r#"{"code":0,"data":{"id":"m","bad_regids":42}}"#;
    assert_eq!(one(200, body).as_str(), "unknown");
}

#[test]
fn whole_batch_refusal_and_the_safeguard() {
    let small = verdict(200, NO_TARGETS).outcomes(&["a", "b"], Safeguard::default());
    assert!(small.iter().all(Outcome::should_drop_token));
    let large: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let outcomes = verdict(200, NO_TARGETS).outcomes(&large, Safeguard::default());
    assert!(outcomes.iter().all(|o| o.as_str() == "misconfigured"));
    let suspected = Safeguard {
        min_batch: 10,
        config_suspected: true,
    };
    assert_eq!(
        verdict(200, NO_TARGETS).outcomes(&["a"], suspected)[0].as_str(),
        "misconfigured"
    );
    // A success listing every regid as bad is the same refusal.
    let body = r#"{"code":0,"data":{"id":"m","bad_regids":"r0,r1,r2,r3,r4,r5,r6,r7,r8,r9"}}"#;
    let outcomes = verdict(200, body).outcomes(&large, Safeguard::default());
    assert!(outcomes.iter().all(|o| o.as_str() == "misconfigured"));
    // 20301 with another reason is not read as dead tokens.
    let other = r#"{"code":20301,"reason":"send failed: internal"}"#;
    assert!(one(200, other).is_retryable());
}

#[test]
fn code_families() {
    let body = |code: i64| format!(r#"{{"result":"error","reason":"r","code":{code}}}"#);
    for code in [21301, 21302, 22000, 22022, 10026] {
        assert_eq!(one(200, &body(code)).as_str(), "auth", "{code}");
    }
    for code in [10022, 10023, 10024, 10027, 10028, 26004, 200002] {
        let outcome = one(200, &body(code));
        assert!(outcome.is_retryable(), "{code}");
        assert_eq!(
            outcome.retry_after(),
            Some(Duration::from_secs(1)),
            "{code}"
        );
    }
    for code in [200001, 10034] {
        let outcome = one(200, &body(code));
        assert!(outcome.is_retryable(), "{code}");
        assert_eq!(outcome.retry_after(), None);
        assert_eq!(outcome.reason().unwrap().code(), code.to_string());
    }
    for code in [-1, 1, 10001, 10002, 10003, 22102, 26003, 65029] {
        assert!(one(200, &body(code)).is_retryable(), "{code}");
    }
    for code in [27001, 10016, 10017, 65011, 65009, 22100] {
        let outcome = one(200, &body(code));
        assert_eq!(outcome.as_str(), "rejected", "{code}");
        assert_eq!(outcome.reason().unwrap().code(), code.to_string());
    }
    assert_eq!(one(200, &body(65003)).as_str(), "unknown");
}

#[test]
fn a_numeric_string_code_is_accepted() {
    assert_eq!(one(200, r#"{"code":"21301"}"#).as_str(), "auth");
}

#[test]
fn statuses_without_a_json_code() {
    let cases = [
        (503, "", "retry"),
        (500, "<html>oops</html>", "retry"),
        (429, "", "retry"),
        (408, "", "retry"),
        (200, "", "retry"),
        (200, "<html></html>", "retry"),
        (200, r#"{"result":"ok"}"#, "retry"),
        (401, "", "auth"),
        (403, "Forbidden", "auth"),
        (404, "", "rejected"),
        (400, "bad", "rejected"),
    ];
    for (status, body, expected) in cases {
        let outcome = one(status, body);
        assert_eq!(outcome.as_str(), expected, "{status} {body:?}");
        assert_eq!(outcome.reason().unwrap().code(), format!("http_{status}"));
    }
}

#[test]
fn retry_after_header_is_honoured() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "7".parse().unwrap());
    let outcome = classify(429, &headers, b"")
        .outcomes(&["a"], Safeguard::default())
        .remove(0);
    assert_eq!(outcome.retry_after(), Some(Duration::from_secs(7)));
    let outcome = classify(200, &headers, br#"{"code":10027}"#)
        .outcomes(&["a"], Safeguard::default())
        .remove(0);
    assert_eq!(outcome.retry_after(), Some(Duration::from_secs(7)));
}

#[test]
fn one_outcome_per_regid_even_for_an_empty_batch() {
    let none: [&str; 0] = [];
    assert!(
        verdict(200, OK)
            .outcomes(&none, Safeguard::default())
            .is_empty()
    );
    assert!(
        verdict(200, NO_TARGETS)
            .outcomes(&none, Safeguard::default())
            .is_empty()
    );
}
