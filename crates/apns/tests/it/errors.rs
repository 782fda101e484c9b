//! Every error the simulator can answer becomes the right outcome.

use std::time::{Duration, SystemTime};

use pushway_apns::ApnsProvider;
use pushway_core::{ApnsEnv, DeviceToken, Outcome, PushProvider, TokenKind};
use pushway_mock::apns::{ApnsEnvironment, ApnsFault, ApnsReason, TestKey, Trigger};

use crate::*;

/// What each reason of protocols/apns.md §4 must become (written out, not derived from the
/// crate's table).
fn expected(reason: &str) -> &'static str {
    match reason {
        "BadDeviceToken" | "DeviceTokenNotForTopic" | "ExpiredToken" | "Unregistered" => {
            "invalid_token"
        }
        "BadTopic" | "MissingTopic" | "TopicDisallowed" => "misconfigured",
        "IdleTimeout"
        | "UnrelatedKeyIdInToken"
        | "TooManyProviderTokenUpdates"
        | "TooManyRequests"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "Shutdown" => "retry",
        "BadCertificate"
        | "BadCertificateEnvironment"
        | "ExpiredProviderToken"
        | "Forbidden"
        | "InvalidProviderToken"
        | "MissingProviderToken"
        | "BadEnvironmentKeyIdInToken"
        | "BadEnvironmentKeyInToken" => "auth",
        "BadCollapseId" | "BadExpirationDate" | "BadMessageId" | "BadPriority"
        | "DuplicateHeaders" | "InvalidPushType" | "MissingDeviceToken" | "PayloadEmpty"
        | "BadPath" | "MethodNotAllowed" | "PayloadTooLarge" => "rejected",
        other => panic!("reason {other} missing from the test's table"),
    }
}

#[tokio::test]
async fn every_scripted_reason_maps_to_its_outcome() {
    let env = h2c().await;
    let mut seen = 0;
    for reason in ApnsReason::ALL {
        if *reason == ApnsReason::ExpiredProviderToken {
            continue; // the provider resends once: see jwt.rs
        }
        // A refused token holds the provider's reconnects (see the tests below): those
        // reasons each get a provider of their own.
        let own;
        let env = if expected(reason.as_str()) == "auth" {
            own = h2c().await;
            &own
        } else {
            &env
        };
        env.sim.script().clear_faults();
        env.sim
            .script()
            .add_fault(Trigger::Times(1), ApnsFault::Reason(*reason));
        let outcome = env.send(&c2c()).await;
        assert_eq!(
            outcome.as_str(),
            expected(reason.as_str()),
            "{reason:?}: {outcome:?}"
        );
        assert_eq!(outcome.reason().unwrap().code(), reason.as_str());
        seen += 1;
    }
    assert!(seen >= 32, "{seen}");
    // The connection recycling some reasons ask for left the provider working.
    env.sim.script().clear_faults();
    assert!(env.send(&c2c()).await.is_delivered());
}

#[tokio::test]
async fn unregistered_carries_the_410_timestamp() {
    let env = h2c().await;
    env.sim.script().unregister_token(TOKEN, 1_767_222_000_123);
    let outcome = env.send(&c2c()).await;
    let Outcome::InvalidToken { reason, since } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(reason.code(), "Unregistered");
    assert_eq!(
        since,
        Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_222_000_123))
    );
    assert!(env.send(&c2c()).await.should_drop_token());

    env.sim.script().expire_token(TOKEN, 1_700_000_000_000);
    let outcome = env.send(&c2c()).await;
    assert_eq!(
        outcome,
        Outcome::InvalidToken {
            reason: "ExpiredToken".into(),
            since: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000)),
        }
    );
}

#[tokio::test]
async fn token_of_the_other_environment_is_bad_device_token() {
    // A production-environment simulator and a token the simulator knows as a sandbox one.
    let env = start(false, |b| b.environment(ApnsEnvironment::Production), |b| b).await;
    env.sim
        .script()
        .register_token_in(TOKEN, ApnsEnvironment::Development);
    let outcome = env.send(&c2c()).await;
    assert_eq!(outcome.as_str(), "invalid_token", "{outcome:?}");
    assert_eq!(outcome.reason().unwrap().code(), "BadDeviceToken");
}

#[tokio::test]
async fn token_of_another_kind_is_refused_before_sending() {
    let env = start(false, |b| b, |b| b.environment(ApnsEnv::Sandbox)).await;
    let out = env.provider.send(&c2c(), &[device(TOKEN)]).await;
    assert_eq!(out[0].as_str(), "misconfigured");
    assert_eq!(env.sim.request_count(), 0);
    let sandbox = DeviceToken::new(TokenKind::ApnsSandbox, "chat", TOKEN);
    assert!(env.provider.send(&c2c(), &[sandbox]).await[0].is_delivered());
}

#[tokio::test]
async fn token_for_another_topic() {
    let env = h2c().await;
    env.sim.script().register_token(TOKEN, "com.other.app");
    let outcome = env.send(&c2c()).await;
    assert_eq!(outcome.as_str(), "invalid_token");
    assert_eq!(outcome.reason().unwrap().code(), "DeviceTokenNotForTopic");
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_auth() {
    let env = h2c().await;
    let stranger = TestKey::generate();
    let provider = ApnsProvider::builder()
        .key_pem(stranger.private_key_pem().as_bytes().to_vec())
        .key_id(KID)
        .team_id(TEAM)
        .topic(TOPIC)
        .base_url(env.sim.base_url())
        .insecure_h2c(true)
        .build()
        .unwrap();
    let out = provider.send(&c2c(), &[device(TOKEN)]).await;
    assert_eq!(out[0].as_str(), "auth", "{out:?}");
    assert_eq!(out[0].reason().unwrap().code(), "InvalidProviderToken");
    // A refused key does not reconnect per send: the next sends are Auth without a request
    // (and without a connection) until the hold ends.
    for _ in 0..20 {
        let out = provider.send(&c2c(), &[device(TOKEN)]).await;
        assert_eq!(out[0].as_str(), "auth", "{out:?}");
        assert_eq!(out[0].reason().unwrap().code(), "InvalidProviderToken");
        assert!(
            out[0]
                .reason()
                .unwrap()
                .detail()
                .unwrap()
                .starts_with("not sent")
        );
    }
    assert_eq!(env.sim.request_count(), 1);
    let connections: std::collections::BTreeSet<u64> =
        env.sim.requests().iter().map(|r| r.connection_id).collect();
    assert_eq!(connections.len(), 1);
}

#[tokio::test]
async fn after_the_hold_a_working_token_sends_again() {
    let env = h2c().await;
    env.sim.script().add_fault(
        Trigger::Times(1),
        ApnsFault::Reason(ApnsReason::InvalidProviderToken),
    );
    assert_eq!(env.send(&c2c()).await.as_str(), "auth");
    assert_eq!(env.send(&c2c()).await.as_str(), "auth");
    assert_eq!(env.sim.request_count(), 1, "held: no second request");
    // The first hold is one second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(env.send(&c2c()).await.is_delivered());
    assert!(env.send(&c2c()).await.is_delivered());
    assert_eq!(env.sim.request_count(), 3);
}

#[tokio::test]
async fn wrong_environment_key_in_both_spellings_is_auth() {
    for reason in [
        ApnsReason::BadEnvironmentKeyInToken,
        ApnsReason::BadEnvironmentKeyIdInToken,
    ] {
        // A provider of its own each: after a refused token the provider holds reconnects.
        let env = h2c().await;
        env.sim
            .script()
            .add_fault(Trigger::Times(1), ApnsFault::Reason(reason));
        let outcome = env.send(&c2c()).await;
        assert_eq!(
            outcome,
            Outcome::Auth {
                reason: reason.as_str().into()
            }
        );
    }
}

#[tokio::test]
async fn malformed_tokens_never_reach_the_server() {
    let env = h2c().await;
    let outcome = env.send_to(&c2c(), "not-a-token/../../x").await;
    assert_eq!(outcome.as_str(), "invalid_token");
    assert_eq!(outcome.reason().unwrap().code(), "malformed_device_token");
    assert_eq!(env.sim.request_count(), 0);
}
