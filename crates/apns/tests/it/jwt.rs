//! The provider token: signed as APNs wants, shared, refreshed once, and the one resend after
//! `ExpiredProviderToken`.

use std::collections::BTreeSet;
use std::time::Duration;

use pushway_mock::apns::{ApnsFault, ApnsReason, SignatureEncoding, Trigger};

use crate::*;

fn authorizations(env: &Env) -> BTreeSet<String> {
    env.sim
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn token_is_signed_as_apple_documents_and_reused_across_connections() {
    let env = start(false, |b| b, |b| b.connections(3)).await;
    assert!(
        env.burst(&c2c(), 30)
            .await
            .iter()
            .all(Outcome::is_delivered)
    );
    let requests = env.sim.requests();
    assert_eq!(requests.len(), 30);
    let connections: BTreeSet<u64> = requests.iter().map(|r| r.connection_id).collect();
    assert_eq!(connections.len(), 3, "round-robin over three connections");
    assert_eq!(authorizations(&env).len(), 1, "one token for every request");
    let jwt = requests[0].jwt.as_ref().unwrap();
    assert_eq!(jwt.header, serde_json::json!({"alg": "ES256", "kid": KID}));
    let iat = jwt.claims["iat"].as_i64().unwrap();
    assert_eq!(jwt.claims, serde_json::json!({"iss": TEAM, "iat": iat}));
    assert_eq!(jwt.signature, Some(SignatureEncoding::Raw));
    assert_eq!(env.provider.provider_tokens_signed(), 1);
}

#[tokio::test]
async fn a_thousand_sends_across_the_refresh_moment_make_one_new_token() {
    let env = start(false, |b| b, |b| b.connections(2)).await;
    assert!(env.send(&c2c()).await.is_delivered());
    env.advance(Duration::from_secs(50 * 60 + 1));
    let outcomes = env.burst(&c2c(), 1000).await;
    assert!(
        outcomes.iter().all(Outcome::is_delivered),
        "{:?}",
        outcomes.iter().find(|o| !o.is_delivered())
    );
    assert_eq!(env.provider.provider_tokens_signed(), 2);
    let tokens = authorizations(&env);
    assert_eq!(tokens.len(), 2, "the first token and exactly one new one");
    // Every request after the refresh moment carried the new token.
    let after: BTreeSet<String> = env.sim.requests()[1..]
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(after.len(), 1);
    assert!(!after.contains(env.sim.requests()[0].header("authorization").unwrap()));
    assert!(env.sim.requests().iter().all(|r| r.status() == Some(200)));
}

#[tokio::test]
async fn expired_provider_token_refreshes_once_and_resends_once_on_a_new_connection() {
    let env = h2c().await;
    env.sim.script().add_fault(
        Trigger::Times(1),
        ApnsFault::Reason(ApnsReason::ExpiredProviderToken),
    );
    let outcome = env.send(&c2c()).await;
    assert!(outcome.is_delivered(), "{outcome:?}");
    let requests = env.sim.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].reason(), Some(ApnsReason::ExpiredProviderToken));
    assert_eq!(requests[1].status(), Some(200));
    assert_ne!(
        requests[0].header("authorization"),
        requests[1].header("authorization")
    );
    assert_ne!(requests[0].connection_id, requests[1].connection_id);
    assert_eq!(requests[0].header("apns-id"), requests[1].header("apns-id"));
    assert_eq!(env.provider.provider_tokens_signed(), 2);
}

#[tokio::test]
async fn a_token_that_stays_expired_is_auth_after_one_resend() {
    let env = h2c().await;
    env.sim.script().add_fault(
        Trigger::Always,
        ApnsFault::Reason(ApnsReason::ExpiredProviderToken),
    );
    let outcome = env.send(&c2c()).await;
    assert_eq!(outcome.as_str(), "auth");
    assert_eq!(outcome.reason().unwrap().code(), "ExpiredProviderToken");
    assert_eq!(env.sim.request_count(), 2, "one send, one resend, no more");
}

#[tokio::test]
async fn many_sends_expired_at_once_make_one_new_token() {
    let env = h2c().await;
    assert!(env.send(&c2c()).await.is_delivered());
    env.sim.clear_requests();
    env.sim.script().add_fault(
        Trigger::Times(50),
        ApnsFault::Reason(ApnsReason::ExpiredProviderToken),
    );
    let outcomes = env.burst(&c2c(), 50).await;
    assert_eq!(env.provider.provider_tokens_signed(), 2, "{outcomes:?}");
    assert_eq!(authorizations(&env).len(), 2);
    // Each of the 50 was sent at most twice; what APNs refused twice is Auth, never lost.
    assert!(env.sim.request_count() <= 100);
    for o in &outcomes {
        assert!(o.is_delivered() || o.as_str() == "auth", "{o:?}");
    }
}

#[tokio::test]
async fn server_clock_past_one_hour_rejects_then_the_refreshed_token_passes() {
    // The simulator checks `iat` itself: move only its clock past the hour, so the cached
    // token really is expired there, and the provider's clock with it for the new `iat`.
    let env = start(
        false,
        |b| b,
        |b| b.token_refresh_interval(Duration::from_secs(59 * 60)),
    )
    .await;
    assert!(env.send(&c2c()).await.is_delivered());
    env.sim.script().advance_clock(Duration::from_secs(61 * 60));
    env.clock.advance(Duration::from_secs(58 * 60));
    let outcome = env.send(&c2c()).await;
    assert!(outcome.is_delivered(), "{outcome:?}");
    let requests = env.sim.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].reason(), Some(ApnsReason::ExpiredProviderToken));
    assert_eq!(requests[2].status(), Some(200));
}
