//! Every answer family, end to end: one outcome per token, in order.

use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_huawei::MISCONFIGURED_BATCH;
use pushway_mock::fault::Trigger;
use pushway_mock::huawei::{ErrorStatus, HuaweiFault, IllegalTokensShape};

use crate::support::*;

fn code(o: &Outcome) -> &str {
    o.reason().map_or("", |r| r.code())
}

fn raw(status: u16, body: &str) -> HuaweiFault {
    HuaweiFault::Raw {
        status,
        content_type: "application/json".to_owned(),
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn success_carries_the_request_id() {
    let sim = sim().await;
    let outcomes = provider(&sim)
        .send(&c2c(), &devices(&[TOKEN_A, TOKEN_B]))
        .await;
    let Outcome::Delivered {
        vendor_id: Some(id),
    } = &outcomes[0]
    else {
        panic!("{outcomes:?}")
    };
    assert_eq!(id.len(), 24);
    assert_eq!(outcomes[0], outcomes[1]);
}

#[tokio::test]
async fn partial_success_snake_shape_marks_exactly_the_illegal_tokens() {
    let sim = sim().await;
    sim.unregister([TOKEN_B]);
    let outcomes = provider(&sim)
        .send(&c2c(), &devices(&[TOKEN_A, TOKEN_B, TOKEN_C]))
        .await;
    assert_eq!(
        labels(&outcomes),
        ["delivered", "invalid_token", "delivered"]
    );
    assert_eq!(code(&outcomes[1]), "80100000");
    assert_eq!(sends(&sim).len(), 1);
}

#[tokio::test]
async fn partial_success_camel_shape_applies_the_reason() {
    for (reason, label) in [("tokenFormatError", "invalid_token"), ("noRight", "stale")] {
        let sim = sim_builder()
            .illegal_tokens_shape(IllegalTokensShape::CamelCase {
                reason: reason.to_owned(),
            })
            .start()
            .await
            .unwrap();
        sim.unregister([TOKEN_A]);
        let outcomes = provider(&sim)
            .send(&c2c(), &devices(&[TOKEN_A, TOKEN_B]))
            .await;
        assert_eq!(labels(&outcomes), [label, "delivered"], "{reason}");
        assert_eq!(outcomes[0].reason().unwrap().detail(), Some(reason));
    }
}

#[tokio::test]
async fn an_unparseable_partial_answer_is_unknown_and_never_resent() {
    let sim = sim().await;
    sim.inject(
        Trigger::Always,
        raw(
            200,
            r#"{"code":"80100000","msg":"Check Parameter Partial Success.","requestId":"1"}"#,
        ),
    );
    let outcomes = provider(&sim)
        .send(&c2c(), &devices(&[TOKEN_A, TOKEN_B]))
        .await;
    assert_eq!(labels(&outcomes), ["unknown", "unknown"]);
    assert!(
        outcomes
            .iter()
            .all(|o| !o.is_retryable() && !o.should_drop_token())
    );
    assert_eq!(sends(&sim).len(), 1);
}

#[tokio::test]
async fn all_invalid_is_invalid_token_for_a_small_batch_and_misconfigured_for_a_large_one() {
    let sim = sim().await;
    sim.unregister([TOKEN_A, TOKEN_B]);
    let outcomes = provider(&sim)
        .send(&c2c(), &devices(&[TOKEN_A, TOKEN_B]))
        .await;
    assert_eq!(labels(&outcomes), ["invalid_token", "invalid_token"]);
    assert_eq!(code(&outcomes[0]), "80300007");

    let big = many(MISCONFIGURED_BATCH);
    sim.unregister(big.iter().map(|d| d.token.clone()));
    let outcomes = provider(&sim).send(&c2c(), &big).await;
    assert!(
        outcomes.iter().all(|o| o.as_str() == "misconfigured"),
        "{:?}",
        outcomes[0]
    );
}

#[tokio::test]
async fn all_invalid_with_no_right_detail_is_stale() {
    // F12b on the v1 path.
    let sim = sim_builder()
        .illegal_tokens_shape(IllegalTokensShape::CamelCase {
            reason: "noRight".to_owned(),
        })
        .start()
        .await
        .unwrap();
    sim.unregister([TOKEN_C]);
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_C])).await;
    assert_eq!(labels(&outcomes), ["stale"]);
    assert_eq!(code(&outcomes[0]), "80300007");
}

#[tokio::test]
async fn bad_request_codes_are_rejected_with_the_code() {
    let sim = sim().await;
    let provider = provider(&sim);
    for body in [
        r#"{"code":"80300008","msg":"Push message size is too long."}"#,
        r#"{"code":"80300010","msg":"token count should within 1 and 1000."}"#,
        r#"{"code":"80100003","msg":"Illegal payload"}"#,
        r#"{"code":"80100001","msg":"Parameter error"}"#,
    ] {
        sim.inject(Trigger::Times(1), raw(400, body));
        let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
        assert_eq!(labels(&outcomes), ["rejected", "rejected"], "{body}");
        assert_eq!(code(&outcomes[0]), &body[9..17]);
    }
}

#[tokio::test]
async fn flow_control_and_internal_errors_are_retry() {
    for status in [ErrorStatus::Documented, ErrorStatus::AlwaysOk] {
        let sim = sim_builder().error_status(status).start().await.unwrap();
        let provider = provider(&sim);
        sim.inject(Trigger::Times(1), HuaweiFault::FlowControl);
        let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
        assert_eq!(labels(&outcomes), ["retry", "retry"]);
        assert_eq!(code(&outcomes[0]), "http_503");

        sim.inject(Trigger::Times(1), HuaweiFault::InternalError);
        let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
        assert_eq!(labels(&outcomes), ["retry"]);
        assert_eq!(code(&outcomes[0]), "81000001");
    }
}

#[tokio::test]
async fn statuses_without_a_push_kit_body_decide_and_retry_after_is_kept() {
    let sim = sim().await;
    let provider = provider(&sim);
    for (fault, label) in [
        (HuaweiFault::Status(502), "retry"),
        (HuaweiFault::Status(504), "retry"),
        (
            HuaweiFault::Raw {
                status: 503,
                content_type: "text/html".into(),
                body: "<html>busy</html>".into(),
            },
            "retry",
        ),
        (HuaweiFault::Status(404), "misconfigured"),
    ] {
        sim.inject(Trigger::Times(1), fault.clone());
        assert_eq!(
            labels(&provider.send(&c2c(), &devices(&[TOKEN_A])).await),
            [label],
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn unknown_codes_are_preserved() {
    let sim = sim().await;
    sim.inject(
        Trigger::Times(1),
        raw(200, r#"{"code":"80399999","msg":"something new"}"#),
    );
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["unknown"]);
    assert_eq!(code(&outcomes[0]), "80399999");
    assert_eq!(
        outcomes[0].reason().unwrap().detail(),
        Some("something new")
    );
}

#[tokio::test]
async fn configuration_codes_are_misconfigured() {
    let sim = sim().await;
    sim.inject(
        Trigger::Times(1),
        raw(200, r#"{"code":"80300011","msg":"no permission"}"#),
    );
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["misconfigured"]);
}

#[tokio::test]
async fn a_timeout_and_a_dropped_connection_are_retry() {
    let sim = sim().await;
    let provider = builder(&sim)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    provider.send(&c2c(), &devices(&[TOKEN_A])).await; // token fetched
    sim.inject(
        Trigger::Times(1),
        HuaweiFault::Latency(Duration::from_secs(3)),
    );
    let started = std::time::Instant::now();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["retry"]);
    assert_eq!(code(&outcomes[0]), "timeout");
    assert!(started.elapsed() < Duration::from_secs(2));

    sim.inject(Trigger::Times(1), HuaweiFault::DropConnection);
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
    assert_eq!(labels(&outcomes), ["retry", "retry"]);
    assert_eq!(code(&outcomes[0]), "connection");
}

#[tokio::test]
async fn nothing_listening_is_retry() {
    let sim = sim().await;
    let url = sim.base_url();
    drop(sim);
    let provider = pushway_huawei::HuaweiProvider::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
        .base_url(url)
        .allow_plain_http(true)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["retry"]);
}
