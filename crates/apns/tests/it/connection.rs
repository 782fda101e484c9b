//! HTTP/2 hygiene: stream limits, GOAWAY, refused streams, lost connections, timeouts, TLS trust.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use pushway_apns::ApnsProvider;
use pushway_core::Reason;
use pushway_mock::apns::{ApnsFault, ApnsOutcome, GoAway, Trigger};

use crate::*;

/// Checks a burst against the simulator's record: every outcome is Delivered or Retry, every
/// Delivered one was answered 200 by the simulator, and every 200 was reported Delivered.
fn check_burst(env: &Env, outcomes: &[Outcome]) -> (usize, usize) {
    let record = env.sim.requests();
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for r in &record {
        if r.status() == Some(200) {
            *accepted
                .entry(r.header("apns-id").unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let (mut delivered, mut retry) = (0, 0);
    for (i, o) in outcomes.iter().enumerate() {
        let id = pushway_apns::request::apns_id("m-9001", &token(i)).to_string();
        match o {
            Outcome::Delivered { vendor_id } => {
                assert_eq!(vendor_id.as_deref(), Some(id.as_str()));
                assert_eq!(
                    accepted.get(&id),
                    Some(&1),
                    "delivered but not accepted: {i}"
                );
                delivered += 1;
            }
            Outcome::Retry { .. } => {
                assert_eq!(accepted.get(&id), None, "accepted but reported retry: {i}");
                retry += 1;
            }
            other => panic!("send {i}: {other:?}"),
        }
    }
    assert_eq!(delivered, accepted.len());
    (delivered, retry)
}

#[tokio::test]
async fn goaway_mid_burst_gives_delivered_or_retry_as_the_server_saw_it() {
    for tls in [false, true] {
        let env = start(tls, |b| b, |b| b).await;
        env.sim
            .script()
            .goaway_after(Some((40, GoAway::shutdown())));
        let outcomes = env.burst(&c2c(), 300).await;
        let (delivered, retry) = check_burst(&env, &outcomes);
        assert!(delivered >= 40, "tls={tls}: {delivered}");
        assert!(retry > 0, "tls={tls}: some sends were cut off");
        // The provider keeps working, on a new connection.
        env.sim.script().goaway_after(None);
        assert!(env.send_to(&c2c(), &token(999)).await.is_delivered());
        let connections: BTreeSet<u64> =
            env.sim.requests().iter().map(|r| r.connection_id).collect();
        assert!(connections.len() > 1, "reconnected after GOAWAY");
    }
}

#[tokio::test]
async fn goaway_with_plain_text_or_no_debug_data() {
    for goaway in [GoAway::max_streams_plain_text(), GoAway::empty()] {
        let env = h2c().await;
        env.sim
            .script()
            .add_fault(Trigger::Times(1), ApnsFault::GoAway(goaway));
        let outcomes = env.burst(&c2c(), 20).await;
        check_burst(&env, &outcomes);
        assert!(env.send_to(&c2c(), &token(0)).await.is_delivered());
    }
}

#[tokio::test]
async fn refused_stream_is_retry_not_processed() {
    let env = h2c().await;
    env.sim
        .script()
        .add_fault(Trigger::Times(1), ApnsFault::RefusedStream);
    let outcome = env.send(&c2c()).await;
    assert_eq!(outcome.as_str(), "retry");
    assert_eq!(outcome.reason().unwrap().code(), Reason::NOT_PROCESSED);
    assert_eq!(env.sim.request_count(), 1, "no hidden resend");
    assert!(env.send(&c2c()).await.is_delivered());
}

#[tokio::test]
async fn dropped_connection_is_retry_and_the_next_send_reconnects() {
    let env = h2c().await;
    env.sim
        .script()
        .add_fault(Trigger::Times(1), ApnsFault::DropConnection);
    let outcome = env.send(&c2c()).await;
    assert_eq!(outcome.as_str(), "retry");
    assert_eq!(outcome.reason().unwrap().code(), Reason::CONNECTION);
    assert!(env.send(&c2c()).await.is_delivered());
    let requests = env.sim.requests();
    assert_eq!(requests.len(), 2, "no hidden resend");
    assert_ne!(requests[0].connection_id, requests[1].connection_id);
}

#[tokio::test]
async fn never_more_streams_than_the_server_allows() {
    for token_start in [false, true] {
        let env = start(
            false,
            |b| b.max_concurrent_streams(4).token_start(token_start),
            |b| b,
        )
        .await;
        env.sim.script().add_fault(
            Trigger::Always,
            ApnsFault::Latency(Duration::from_millis(2)),
        );
        let outcomes = env.burst(&c2c(), 200).await;
        assert!(
            outcomes.iter().all(Outcome::is_delivered),
            "token_start={token_start}"
        );
        let refused = env
            .sim
            .requests()
            .iter()
            .filter(|r| r.outcome == ApnsOutcome::Refused)
            .count();
        assert_eq!(refused, 0, "token_start={token_start}");
        assert_eq!(env.sim.request_count(), 200);
    }
}

#[tokio::test]
async fn a_slow_answer_is_retry_timeout() {
    let env = start(
        false,
        |b| b,
        |b| b.request_timeout(Duration::from_millis(200)),
    )
    .await;
    env.sim.script().add_fault(
        Trigger::Times(1),
        ApnsFault::Latency(Duration::from_secs(5)),
    );
    let outcome = env.send(&c2c()).await;
    assert_eq!(outcome.as_str(), "retry");
    assert_eq!(outcome.reason().unwrap().code(), Reason::TIMEOUT);
}

#[tokio::test]
async fn tls_without_trusting_the_simulator_fails_as_retry() {
    let env = start(true, |b| b, |b| b).await;
    let key = pushway_mock::apns::TestKey::generate();
    let untrusting = ApnsProvider::builder()
        .key_pem(key.private_key_pem().as_bytes().to_vec())
        .key_id(KID)
        .team_id(TEAM)
        .topic(TOPIC)
        .base_url(env.sim.base_url())
        .build()
        .unwrap();
    let out = untrusting.send(&c2c(), &[device(TOKEN)]).await;
    assert_eq!(out[0].as_str(), "retry");
    assert_eq!(out[0].reason().unwrap().code(), Reason::CONNECTION);
    assert_eq!(env.sim.request_count(), 0);
}

#[test]
fn plain_http_needs_the_insecure_option() {
    let key = pushway_mock::apns::TestKey::generate();
    let builder = || {
        ApnsProvider::builder()
            .key_pem(key.private_key_pem().as_bytes().to_vec())
            .key_id(KID)
            .team_id(TEAM)
            .topic(TOPIC)
            .base_url("http://127.0.0.1:9")
    };
    assert!(builder().build().unwrap_err().is_config());
    assert!(builder().insecure_h2c(true).build().is_ok());
    let no_key = ApnsProvider::builder()
        .key_id(KID)
        .team_id(TEAM)
        .topic(TOPIC)
        .build();
    assert!(no_key.unwrap_err().is_config());
}

#[tokio::test]
async fn reject_penalty_refusals_come_back_as_retry_and_nothing_is_lost() {
    // APNs was seen to drop its stream limit to one after a rejected push and refuse the streams
    // over it (pushy issue #476); the simulator plays that.
    let env = start(
        false,
        |b| b.reject_penalty(true).max_concurrent_streams(50),
        |b| b,
    )
    .await;
    for i in (0..200).step_by(10) {
        env.sim
            .script()
            .unregister_token(&token(i), 1_767_222_000_000);
    }
    let outcomes = env.burst(&c2c(), 200).await;
    let record = env.sim.requests();
    let accepted: BTreeSet<String> = record
        .iter()
        .filter(|r| r.status() == Some(200))
        .map(|r| r.header("apns-id").unwrap().to_owned())
        .collect();
    let mut delivered = 0;
    for (i, o) in outcomes.iter().enumerate() {
        let id = pushway_apns::request::apns_id("m-9001", &token(i)).to_string();
        match o {
            Outcome::Delivered { .. } => {
                assert!(accepted.contains(&id), "{i}");
                delivered += 1;
            }
            Outcome::InvalidToken { .. } => assert_eq!(i % 10, 0, "{i}"),
            Outcome::Retry { .. } => assert!(!accepted.contains(&id), "{i}"),
            other => panic!("send {i}: {other:?}"),
        }
    }
    assert_eq!(delivered, accepted.len());
    assert!(delivered > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_from_several_threads_share_one_connection_and_all_arrive() {
    for tls in [false, true] {
        let env = start(tls, |b| b, |b| b).await;
        let n = std::sync::Arc::new(c2c());
        // More than the simulator's 1,000 concurrent streams: some wait for a slot.
        let tasks: Vec<_> = (0..2500)
            .map(|i| {
                let (provider, n) = (env.provider.clone(), n.clone());
                tokio::spawn(async move { provider.send_one(&n, &device(&token(i))).await })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let id = pushway_apns::request::apns_id("m-9001", &token(i)).to_string();
            assert_eq!(
                task.await.unwrap(),
                Outcome::Delivered {
                    vendor_id: Some(id)
                },
                "tls={tls} send {i}"
            );
        }
        let record = env.sim.requests();
        assert_eq!(record.len(), 2500, "tls={tls}");
        let connections: BTreeSet<u64> = record.iter().map(|r| r.connection_id).collect();
        assert_eq!(connections.len(), 1, "tls={tls}");
        assert!(record.iter().all(|r| r.outcome != ApnsOutcome::Refused));
    }
}
