//! Every answer family, end to end through the simulator.

use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::XiaomiFault;
use pushway_xiaomi::XiaomiCode;

use crate::common::*;

fn code(outcome: &Outcome) -> &str {
    outcome.reason().map_or("", |r| r.code())
}

fn raw(status: u16, content_type: &str, body: &str) -> XiaomiFault {
    XiaomiFault::Raw {
        status,
        content_type: content_type.into(),
        body: body.into(),
    }
}

#[tokio::test]
async fn success_gives_every_regid_the_message_id() {
    let sim = sim().await;
    let outcomes = provider(&sim).send(&c2c(), &tokens(&regids(3))).await;
    let expected = Outcome::Delivered {
        vendor_id: Some("sdm00000000000000001bb".into()),
    };
    assert_eq!(outcomes, vec![expected; 3]);
}

#[tokio::test]
async fn partial_bad_regids_give_per_token_outcomes() {
    let sim = sim().await;
    let regids = regids(5);
    sim.unregister([regids[1].clone(), regids[4].clone()]);
    let outcomes = provider(&sim).send(&c2c(), &tokens(&regids)).await;
    let labels: Vec<_> = outcomes.iter().map(Outcome::as_str).collect();
    assert_eq!(
        labels,
        [
            "delivered",
            "invalid_token",
            "delivered",
            "delivered",
            "invalid_token"
        ]
    );
    assert_eq!(code(&outcomes[1]), "bad_regid");
    assert!(outcomes[1].should_drop_token());
    assert!(!outcomes[0].should_drop_token());
}

#[tokio::test]
async fn no_valid_targets_for_a_single_regid_is_an_invalid_token() {
    let sim = sim().await;
    sim.unregister(["dead+regid=="]);
    let outcomes = provider(&sim)
        .send(&c2c(), &tokens(&["dead+regid=="]))
        .await;
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].should_drop_token(), "{outcomes:?}");
    assert_eq!(code(&outcomes[0]), "20301");
    assert!(
        outcomes[0]
            .reason()
            .unwrap()
            .detail()
            .unwrap()
            .contains("No valid targets!")
    );
}

#[tokio::test]
async fn small_batch_all_dead_is_invalid_tokens() {
    let sim = sim().await;
    let regids = regids(3);
    sim.unregister(regids.clone());
    let outcomes = provider(&sim).send(&c2c(), &tokens(&regids)).await;
    assert!(
        outcomes.iter().all(Outcome::should_drop_token),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn wrong_package_for_a_large_batch_is_misconfigured_and_keeps_tokens() {
    let sim = sim().await;
    let provider = provider_builder(&sim)
        .package("com.example.wrong")
        .build()
        .unwrap();
    let outcomes = provider.send(&c2c(), &tokens(&regids(50))).await;
    assert_eq!(outcomes.len(), 50);
    for outcome in &outcomes {
        assert!(
            matches!(outcome, Outcome::Misconfigured { .. }),
            "{outcome:?}"
        );
        assert!(!outcome.should_drop_token());
        assert_eq!(code(outcome), "20301");
    }
    let detail = outcomes[0].reason().unwrap().detail().unwrap();
    assert!(detail.contains("restricted_package_name"), "{detail}");
}

#[tokio::test]
async fn a_run_of_refused_single_sends_turns_into_misconfigured_until_a_success() {
    let sim = sim().await;
    let provider = provider_builder(&sim)
        .misconfiguration_safeguard(10, 3)
        .build()
        .unwrap();
    let all = regids(8);
    sim.unregister(all[..6].to_vec());
    let mut labels = Vec::new();
    for regid in &all[..5] {
        let outcome = provider.send(&c2c(), &tokens(&[regid])).await;
        labels.push(outcome[0].as_str());
    }
    // Three refusals are believed; from the fourth on, the streak points at the configuration.
    assert_eq!(
        labels,
        [
            "invalid_token",
            "invalid_token",
            "invalid_token",
            "misconfigured",
            "misconfigured"
        ]
    );
    // A success resets the streak.
    assert!(provider.send(&c2c(), &tokens(&[&all[7]])).await[0].is_delivered());
    let outcome = provider.send(&c2c(), &tokens(&[&all[5]])).await;
    assert_eq!(outcome[0].as_str(), "invalid_token");
}

#[tokio::test]
async fn wrong_secret_is_auth() {
    let sim = sim().await;
    let provider = provider_builder(&sim).app_secret("WRONG").build().unwrap();
    let outcomes = provider.send(&c2c(), &tokens(&regids(2))).await;
    for outcome in &outcomes {
        assert!(matches!(outcome, Outcome::Auth { .. }), "{outcome:?}");
        assert_eq!(code(outcome), "21301");
    }
}

#[tokio::test]
async fn rate_limit_retries_after_a_second() {
    let sim = sim().await;
    sim.inject(Trigger::Times(1), XiaomiFault::RateLimited);
    let outcomes = provider(&sim).send(&c2c(), &tokens(&regids(2))).await;
    for outcome in &outcomes {
        assert!(outcome.is_retryable());
        assert_eq!(outcome.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(code(outcome), "10027");
        let parsed: XiaomiCode = code(outcome).parse().unwrap();
        assert!(parsed.is_rate_limited() && !parsed.is_quota_exhausted());
    }
}

#[tokio::test]
async fn daily_quota_is_a_retry_told_apart_from_rate_limits() {
    let sim = sim_builder().daily_quota(3).start().await.unwrap();
    let provider = provider(&sim);
    assert!(provider.send(&c2c(), &tokens(&regids(3))).await[0].is_delivered());
    let outcomes = provider.send(&c2c(), &tokens(&regids(2))).await;
    for outcome in &outcomes {
        assert!(outcome.is_retryable(), "{outcome:?}");
        assert_eq!(outcome.retry_after(), None);
        assert_eq!(code(outcome), "200001");
        let parsed: XiaomiCode = code(outcome).parse().unwrap();
        assert!(parsed.is_quota_exhausted());
        assert!(
            outcome
                .reason()
                .unwrap()
                .detail()
                .unwrap()
                .contains("exceed quota")
        );
    }
    // The injected fault gives the same answer.
    let faulty = crate::common::sim().await;
    faulty.inject(Trigger::Always, XiaomiFault::QuotaExceeded);
    let outcome = &provider_builder(&faulty)
        .build()
        .unwrap()
        .send(&c2c(), &tokens(&["a"]))
        .await[0];
    assert_eq!(code(outcome), "200001");
}

#[tokio::test]
async fn channel_mismatch_and_missing_parameter_are_rejected_with_the_code() {
    let sim = sim().await;
    let provider = provider(&sim);
    sim.inject(
        Trigger::Times(1),
        raw(
            200,
            "application/json",
            r#"{"result":"error","reason":"invalid channel info!","trace_id":"Xdm8","code":27001,"description":"channel相关信息不匹配"}"#,
        ),
    );
    sim.inject(
        Trigger::Times(1),
        raw(
            200,
            "application/json",
            r#"{"result":"error","reason":"registration_id参数不能为空","code":10016,"description":"缺失必选参数"}"#,
        ),
    );
    let first = provider.send(&c2c(), &tokens(&regids(2))).await;
    let second = provider.send(&c2c(), &tokens(&regids(2))).await;
    for (outcomes, expected) in [(first, "27001"), (second, "10016")] {
        for outcome in &outcomes {
            assert!(matches!(outcome, Outcome::Rejected { .. }), "{outcome:?}");
            assert_eq!(code(outcome), expected);
        }
    }
}

#[tokio::test]
async fn transport_level_failures_are_retries() {
    let sim = sim().await;
    let provider = provider(&sim);
    let cases = [
        (XiaomiFault::Status(503), "http_503"),
        (XiaomiFault::Status(500), "http_500"),
        (
            raw(502, "text/html", "<html><body>Bad Gateway</body></html>"),
            "http_502",
        ),
        (raw(200, "text/plain", "upstream says hi"), "http_200"),
        (raw(200, "application/json", ""), "http_200"),
        (XiaomiFault::DropConnection, "connection"),
    ];
    for (fault, expected) in cases {
        sim.clear_faults();
        sim.inject(Trigger::Always, fault.clone());
        let outcomes = provider.send(&c2c(), &tokens(&regids(3))).await;
        assert_eq!(outcomes.len(), 3);
        for outcome in &outcomes {
            assert!(outcome.is_retryable(), "{fault:?}: {outcome:?}");
            assert_eq!(code(outcome), expected, "{fault:?}");
        }
    }
}

#[tokio::test]
async fn a_json_code_wins_over_the_http_status() {
    let sim = sim().await;
    sim.inject(
        Trigger::Always,
        raw(
            401,
            "application/json",
            r#"{"result":"error","reason":"Invalid application secret.","code":21301}"#,
        ),
    );
    let outcome = &provider(&sim).send(&c2c(), &tokens(&["a"])).await[0];
    assert!(matches!(outcome, Outcome::Auth { .. }));
    assert_eq!(code(outcome), "21301");
}

#[tokio::test]
async fn unknown_codes_are_preserved() {
    let sim = sim().await;
    sim.inject(
        Trigger::Always,
        raw(
            200,
            "application/json",
            r#"{"result":"error","reason":"something new","trace_id":"Xq1","code":424242}"#,
        ),
    );
    let outcome = &provider(&sim).send(&c2c(), &tokens(&["a", "b"])).await[1];
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    assert_eq!(code(outcome), "424242");
    assert_eq!(
        outcome.reason().unwrap().detail(),
        Some("something new (trace_id Xq1)")
    );
    assert_eq!(code(outcome).parse(), Ok(XiaomiCode::Unknown(424242)));
}

#[tokio::test]
async fn a_slow_answer_times_out_as_a_retry() {
    let sim = sim().await;
    sim.inject(
        Trigger::Always,
        XiaomiFault::Latency(Duration::from_secs(3)),
    );
    let provider = provider_builder(&sim)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let outcomes = provider.send(&c2c(), &tokens(&regids(2))).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    for outcome in &outcomes {
        assert!(outcome.is_retryable());
        assert_eq!(code(outcome), "timeout");
    }
}

#[tokio::test]
async fn an_unreachable_host_is_a_connection_retry() {
    // Bind a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let provider = pushway_xiaomi::XiaomiProvider::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
        .channel_id(CHANNEL)
        .base_url(format!("http://127.0.0.1:{port}"))
        .allow_plain_http(true)
        .build()
        .unwrap();
    let outcomes = provider.send(&c2c(), &tokens(&["a"])).await;
    assert!(outcomes[0].is_retryable());
    assert_eq!(code(&outcomes[0]), "connection");
    let detail = outcomes[0].reason().unwrap().detail().unwrap();
    assert!(!detail.contains(SECRET), "{detail}");
}

#[tokio::test]
async fn malformed_regids_are_rejected_in_place_and_the_rest_sent() {
    let sim = sim().await;
    let outcomes = provider(&sim)
        .send(&c2c(), &tokens(&["good1", "", "bad,one", "good2"]))
        .await;
    let labels: Vec<_> = outcomes.iter().map(Outcome::as_str).collect();
    assert_eq!(labels, ["delivered", "rejected", "rejected", "delivered"]);
    assert_eq!(
        only_request(&sim).form_value("registration_id").unwrap(),
        "good1,good2"
    );
}

#[tokio::test]
async fn empty_and_oversized_batches_make_no_request() {
    let sim = sim().await;
    let provider = provider(&sim);
    assert!(provider.send(&c2c(), &[]).await.is_empty());
    let outcomes = provider.send(&c2c(), &tokens(&regids(1001))).await;
    assert_eq!(outcomes.len(), 1001);
    assert!(outcomes.iter().all(|o| o.as_str() == "rejected"));
    assert_eq!(sim.request_count(), 0);
    assert_eq!(provider.max_batch_size(), 1000);
}
