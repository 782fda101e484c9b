//! The access token: one request for many sends, one refresh on a refused token, failures of the
//! token endpoint.

use std::time::Duration;

use pushway_core::PushProvider;
use pushway_mock::fcm::{FcmFault, Trigger};

use crate::support::*;

#[tokio::test]
async fn the_assertion_is_rs256_for_the_service_account_with_the_fcm_scope() {
    let sim = sim().await;
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert!(outcomes[0].is_delivered(), "{}", outcomes[0]);
    let requests = sim.token_requests();
    assert_eq!(requests.len(), 1);
    let form = requests[0].form();
    assert_eq!(
        form[0],
        (
            "grant_type".to_owned(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()
        )
    );
    let assertion = requests[0].form_value("assertion").unwrap();
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |part: &str| -> serde_json::Value {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let claims = decode(parts[1]);
    let account = pushway_mock::fcm::TestServiceAccount::new();
    assert_eq!(header["kid"], account.private_key_id());
    assert_eq!(claims["iss"], account.client_email());
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    assert!(claims.get("sub").is_none());
}

/// 500 concurrent sends, then the token enters its refresh window (6 s tokens are replaced 3 s
/// early: at most half the lifetime), then 500 more: exactly one more token request, while the
/// other sends keep using the still valid token. (Each send asks the cache as it starts; the
/// counts hold as long as a batch takes under 3 s, far more than it does.)
#[tokio::test]
async fn five_hundred_concurrent_sends_in_the_refresh_window_make_one_token_request() {
    let sim = sim_builder().token_expires_in(6).start().await.unwrap();
    let provider = provider(&sim);
    let tokens = many(500);
    let first = provider.send(&c2c(), &tokens).await;
    assert!(first.iter().all(pushway_core::Outcome::is_delivered));
    assert_eq!(sim.token_request_count(), 1);
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let second = provider.send(&c2c(), &tokens).await;
    assert!(second.iter().all(pushway_core::Outcome::is_delivered));
    assert_eq!(sim.token_request_count(), 2, "one refresh for 500 sends");
    assert_eq!(provider.token_requests(), 2);
    assert_eq!(sim.accepted_count(), 1000);
    let bearers: std::collections::HashSet<String> = sends(&sim)[500..]
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(
        bearers.len(),
        2,
        "the old token, and the new one for the refreshing send"
    );
}

/// 500 concurrent sends, then the token expires (3 s tokens), then 500 more: they all wait for
/// exactly one new token, and the simulator refuses none.
#[tokio::test]
async fn five_hundred_concurrent_sends_across_a_token_expiry_make_one_token_request() {
    let sim = sim_builder().token_expires_in(3).start().await.unwrap();
    let provider = provider(&sim);
    let tokens = many(500);
    assert!(
        provider
            .send(&c2c(), &tokens)
            .await
            .iter()
            .all(pushway_core::Outcome::is_delivered)
    );
    assert_eq!(sim.token_request_count(), 1);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let second = provider.send(&c2c(), &tokens).await;
    assert!(second.iter().all(pushway_core::Outcome::is_delivered));
    assert_eq!(sim.token_request_count(), 2);
    assert_eq!(
        (sim.request_count(), sim.accepted_count()),
        (1000, 1000),
        "no 401, no resend"
    );
}

#[tokio::test]
async fn a_token_revoked_under_500_sends_is_refreshed_once_and_each_send_resent_once() {
    let sim = sim().await;
    let provider = provider(&sim);
    let tokens = many(500);
    assert!(provider.send(&c2c(), &tokens[..1]).await[0].is_delivered());
    sim.expire_tokens();
    let outcomes = provider.send(&c2c(), &tokens).await;
    assert!(outcomes.iter().all(pushway_core::Outcome::is_delivered));
    assert_eq!(sim.token_request_count(), 2);
    // 1 + 500 refused + 500 resent.
    assert_eq!(sends(&sim).len(), 1001);
    assert_eq!(sim.accepted_count(), 501);
}

#[tokio::test]
async fn a_second_401_is_auth_and_third_party_auth_never_refreshes() {
    let sim = sim().await;
    sim.inject(Trigger::Times(2), FcmFault::Unauthenticated);
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), [("auth", "UNAUTHENTICATED".to_owned())]);
    assert_eq!((sends(&sim).len(), sim.token_request_count()), (2, 2));

    let sim = self::sim().await;
    sim.inject(Trigger::Times(1), FcmFault::Unauthenticated);
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert!(outcomes[0].is_delivered());
    assert_eq!((sends(&sim).len(), sim.token_request_count()), (2, 2));
}

#[tokio::test]
async fn token_endpoint_failures_are_auth_or_retry_for_every_waiting_send() {
    // A key the simulator does not trust: invalid_grant.
    let sim = pushway_mock::fcm::FcmSimulator::builder()
        .start()
        .await
        .unwrap();
    let outcomes = provider(&sim)
        .send(&c2c(), &devices(&[TOKEN_A, TOKEN_B]))
        .await;
    assert_eq!(
        labels(&outcomes),
        [
            ("auth", "invalid_grant".to_owned()),
            ("auth", "invalid_grant".to_owned())
        ]
    );
    assert_eq!(
        sim.token_request_count(),
        1,
        "both sends shared one failed request"
    );
    assert_eq!(sends(&sim).len(), 0);

    let sim = self::sim().await;
    // (The simulator's token endpoint sends no `retry-after` with its 503; the header's
    // parsing is covered by the unit tests of `token_answer` and `parse_retry_after`.)
    sim.inject_oauth(
        Trigger::Times(1),
        FcmFault::Unavailable { retry_after: None },
    );
    let provider = provider(&sim);
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(
        labels(&outcomes),
        [("retry", "temporarily_unavailable".to_owned())]
    );
    assert_eq!(outcomes[0].retry_after(), None);
    assert_eq!(sends(&sim).len(), 0);
    // The failure is held for a moment (no request storm), then a new token is fetched.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(provider.send(&c2c(), &devices(&[TOKEN_A])).await[0].is_delivered());
    assert_eq!(sim.token_request_count(), 2);
}
