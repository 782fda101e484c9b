//! Access tokens and JWTs: fetched once, reused, refreshed once, refused.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::PushProvider;
use pushway_huawei::{HuaweiProvider, ServiceAccountKey};
use pushway_mock::fault::Trigger;
use pushway_mock::huawei::{ErrorStatus, HuaweiFault, ServiceAccount};

use crate::support::*;

#[tokio::test]
async fn the_token_is_fetched_once_and_reused() {
    let sim = sim().await;
    let provider = provider(&sim);
    for _ in 0..5 {
        let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
        assert_eq!(labels(&outcomes), ["delivered"]);
    }
    assert_eq!(sim.issued_tokens(), 1);
    assert_eq!(token_requests(&sim).len(), 1);
    assert_eq!(sends(&sim).len(), 5);
    let bearers: Vec<_> = sends(&sim)
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert!(bearers.windows(2).all(|w| w[0] == w[1]));
}

async fn send_500(provider: &HuaweiProvider) {
    let provider = Arc::new(provider.clone());
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let provider = Arc::clone(&provider);
            tokio::spawn(async move {
                let token = format!("IQAAAACy0kYkAABwsc{i:08}");
                provider.send(&c2c(), &devices(&[&token])).await
            })
        })
        .collect();
    for task in tasks {
        let outcomes = task.await.unwrap();
        assert_eq!(labels(&outcomes), ["delivered"], "{outcomes:?}");
    }
}

#[tokio::test]
async fn five_hundred_concurrent_sends_in_the_refresh_window_cause_one_token_request() {
    // 4 s tokens: the provider replaces them after 2 s (half the lifetime), ahead of expiry.
    let sim = sim_builder().token_expires_in(4).start().await.unwrap();
    let provider = provider(&sim);
    provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(sim.issued_tokens(), 1);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    send_500(&provider).await;
    assert_eq!(sim.issued_tokens(), 2, "exactly one refresh for 500 sends");
    assert_eq!(provider.credential_fetches(), 2);
}

#[tokio::test]
async fn five_hundred_concurrent_sends_with_an_expired_token_cause_one_token_request() {
    let sim = sim().await;
    let provider = provider(&sim);
    provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    sim.expire_tokens(); // the server now answers 80200003 to the cached token
    send_500(&provider).await;
    assert_eq!(
        sim.issued_tokens(),
        2,
        "exactly one refresh for 500 refused sends"
    );
    // Each of the 500 was sent at most twice (refused once, then resent once).
    let total = sends(&sim).len();
    assert!((501..=1001).contains(&total), "{total}");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_send_retried_once_with_401_or_200() {
    for status in [ErrorStatus::Documented, ErrorStatus::AlwaysOk] {
        let sim = sim_builder().error_status(status).start().await.unwrap();
        let provider = provider(&sim);
        provider.send(&c2c(), &devices(&[TOKEN_A])).await;
        sim.expire_tokens();
        sim.clear_requests();
        let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
        assert_eq!(labels(&outcomes), ["delivered", "delivered"], "{status:?}");
        let sends = sends(&sim);
        assert_eq!(sends.len(), 2, "refused, then resent once");
        assert_ne!(
            sends[0].header("authorization"),
            sends[1].header("authorization")
        );
        assert_eq!(sends[0].body, sends[1].body);
        assert_eq!(token_requests(&sim).len(), 1);
    }
}

#[tokio::test]
async fn a_token_refused_again_after_the_refresh_is_auth_without_a_third_attempt() {
    for status in [ErrorStatus::Documented, ErrorStatus::AlwaysOk] {
        // Every issued token is already expired.
        let sim = sim_builder()
            .token_expires_in(0)
            .error_status(status)
            .start()
            .await
            .unwrap();
        let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
        assert_eq!(labels(&outcomes), ["auth"]);
        assert_eq!(outcomes[0].reason().unwrap().code(), "80200003");
        assert_eq!(sends(&sim).len(), 2);
        assert_eq!(sim.issued_tokens(), 2);
    }
}

#[tokio::test]
async fn a_token_for_another_project_is_80200001_auth_after_one_refresh() {
    // The token endpoint accepts the client, but the v2 URL names a project the client does not
    // belong to: Huawei answers 80200001.
    let sim = sim_builder().project_id("555").start().await.unwrap();
    let provider = HuaweiProvider::builder()
        .project_id("666")
        .oauth_client(APP_ID, SECRET)
        .base_url(sim.base_url())
        .allow_plain_http(true)
        .build()
        .unwrap();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["auth"]);
    assert_eq!(outcomes[0].reason().unwrap().code(), "80200001");
    assert_eq!(sends(&sim).len(), 2);
    assert!(sends(&sim)[0].path.starts_with("/v2/666/"));
}

#[tokio::test]
async fn a_wrong_secret_is_auth_and_nothing_is_sent() {
    let sim = sim().await;
    let provider = builder(&sim).client_secret("wrong").build().unwrap();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
    assert_eq!(labels(&outcomes), ["auth", "auth"]);
    assert_eq!(outcomes[0].reason().unwrap().code(), "oauth_12304");
    assert!(sends(&sim).is_empty());
    // The failure is held briefly: an immediate second send does not ask again.
    provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(token_requests(&sim).len(), 1);
    assert!(!format!("{outcomes:?}").contains("wrong"));
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_retry() {
    let sim = sim().await;
    sim.inject_oauth(Trigger::Times(1), HuaweiFault::FlowControl);
    let provider = provider(&sim);
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["retry"]);
    assert_eq!(outcomes[0].reason().unwrap().code(), "oauth_http_503");
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the failure hold
    assert_eq!(
        labels(&provider.send(&c2c(), &devices(&[TOKEN_A])).await),
        ["delivered"]
    );
}

#[tokio::test]
async fn a_slow_token_endpoint_times_out_as_retry() {
    let sim = sim().await;
    sim.inject_oauth(
        Trigger::Always,
        HuaweiFault::Latency(Duration::from_secs(3)),
    );
    let provider = builder(&sim)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["retry"]);
    assert_eq!(outcomes[0].reason().unwrap().code(), "timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

fn key_file() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mock/fixtures/huawei/test-service-account.json"
    );
    std::fs::read_to_string(path).unwrap()
}

fn trusted_account() -> ServiceAccount {
    let key: serde_json::Value = serde_json::from_str(&key_file()).unwrap();
    let pem_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mock/fixtures/huawei/test-service-account.pub.pem"
    );
    ServiceAccount {
        project_id: key["project_id"].as_str().unwrap().to_owned(),
        key_id: key["key_id"].as_str().unwrap().to_owned(),
        sub_account: key["sub_account"].as_str().unwrap().to_owned(),
        public_key_pem: std::fs::read_to_string(pem_path).unwrap(),
    }
}

#[tokio::test]
async fn jwt_mode_signs_a_token_the_simulator_verifies_and_reuses_it() {
    let sim = sim_builder()
        .service_account(trusted_account())
        .start()
        .await
        .unwrap();
    let key = ServiceAccountKey::from_json(&key_file()).unwrap();
    assert!(!format!("{key:?}").contains("PRIVATE"));
    let provider = HuaweiProvider::builder()
        .service_account(key.clone())
        .base_url(sim.base_url())
        .allow_plain_http(true)
        .build()
        .unwrap();
    for _ in 0..3 {
        let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
        assert_eq!(labels(&outcomes), ["delivered", "delivered"]);
    }
    assert_eq!(provider.credential_fetches(), 1, "signed once, reused");
    assert_eq!(sim.issued_tokens(), 0, "no OAuth exchange in JWT mode");
    let sends = sends(&sim);
    assert_eq!(
        sends[0].path,
        format!("/v2/{}/messages:send", key.project_id())
    );
    let jwt = sends[0]
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap();
    assert_eq!(jwt.split('.').count(), 3);
}

#[tokio::test]
async fn jwt_mode_with_a_key_the_simulator_does_not_trust_is_auth_after_one_resign() {
    let sim = sim().await; // no service account configured: every JWT is 80200001
    let key = ServiceAccountKey::from_json(&key_file()).unwrap();
    let provider = HuaweiProvider::builder()
        .service_account(key)
        .base_url(sim.base_url())
        .allow_plain_http(true)
        .build()
        .unwrap();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), ["auth"]);
    assert_eq!(outcomes[0].reason().unwrap().code(), "80200001");
    assert_eq!(provider.credential_fetches(), 2);
    assert_eq!(sends(&sim).len(), 2);
}

#[test]
fn build_checks_the_configuration() {
    let ok = || {
        HuaweiProvider::builder()
            .app_id(APP_ID)
            .client_secret(SECRET)
    };
    assert!(ok().build().is_ok());
    assert!(
        HuaweiProvider::builder()
            .client_secret(SECRET)
            .build()
            .unwrap_err()
            .is_config()
    );
    assert!(
        HuaweiProvider::builder()
            .app_id(APP_ID)
            .build()
            .unwrap_err()
            .is_config()
    );
    assert!(ok().project_id("1").build().unwrap_err().is_config());
    assert!(
        ok().push_base_url("http://127.0.0.1:1")
            .build()
            .unwrap_err()
            .is_config()
    );
    assert!(
        ok().push_base_url("http://127.0.0.1:1")
            .allow_plain_http(true)
            .build()
            .is_ok()
    );
    assert!(
        ok().oauth_client("999", SECRET)
            .build()
            .unwrap_err()
            .is_config()
    );
    assert!(
        ok().timeout(Duration::ZERO)
            .build()
            .unwrap_err()
            .is_config()
    );
    let key = ServiceAccountKey::from_json(&key_file()).unwrap();
    assert!(
        ok().service_account(key.clone())
            .build()
            .unwrap_err()
            .is_config()
    );
    let mismatch = HuaweiProvider::builder()
        .project_id("1")
        .service_account(key)
        .build();
    assert!(mismatch.unwrap_err().is_config());
    let bad = key_file().replace("BEGIN PRIVATE KEY", "BEGIN NOTHING");
    assert!(ServiceAccountKey::from_json(&bad).unwrap_err().is_key());
    assert!(ServiceAccountKey::from_json("{}").unwrap_err().is_key());
    let err = ok().client_secret("").build().unwrap_err();
    assert!(err.is_config() && !err.to_string().contains(SECRET));
    let debug = format!("{:?}", ok());
    assert!(!debug.contains(SECRET), "{debug}");
}
