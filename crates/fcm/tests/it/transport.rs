//! HTTP/2 behaviour (fcm.md §7): few connections for a burst, the server's stream limit, GOAWAY
//! and refused streams, timeouts, lost connections.

use std::collections::HashSet;
use std::time::Duration;

use pushway_core::{Outcome, PushProvider, Reason};
use pushway_mock::fcm::{FcmFault, Trigger};

use crate::support::*;

#[tokio::test]
async fn a_burst_of_500_uses_the_configured_connections_within_100_streams_each() {
    let sim = sim().await;
    let provider = builder(&sim).connections(2).build().unwrap();
    let outcomes = provider.send(&c2c(), &many(500)).await;
    assert!(outcomes.iter().all(Outcome::is_delivered));
    // Two send connections and the token endpoint's own: not one per request.
    assert_eq!(sim.connection_count(), 3);
    assert!(
        sim.peak_concurrent_streams() <= 100,
        "{}",
        sim.peak_concurrent_streams()
    );
    let per_connection: HashSet<u64> = sends(&sim).iter().map(|r| r.connection_id).collect();
    assert_eq!(per_connection.len(), 2);
}

/// GOAWAY after 50 requests per connection while 500 are in flight: every send the simulator did
/// not accept comes back as `Retry`, none is reported delivered, and a second send of those
/// delivers them all on new connections.
#[tokio::test]
async fn goaway_mid_flight_reports_delivered_only_what_the_simulator_accepted() {
    let sim = sim_builder().goaway_after(50).start().await.unwrap();
    let provider = builder(&sim).connections(1).build().unwrap();
    let tokens = many(500);
    let outcomes = provider.send(&c2c(), &tokens).await;
    let accepted: HashSet<String> = sim
        .accepted()
        .iter()
        .map(|r| r.json()["message"]["token"].as_str().unwrap().to_owned())
        .collect();
    let delivered: HashSet<String> = tokens
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_delivered())
        .map(|(t, _)| t.token.clone())
        .collect();
    assert_eq!(delivered, accepted);
    assert!(
        delivered.len() >= 50 && delivered.len() < 500,
        "{}",
        delivered.len()
    );
    let mut not_processed = 0;
    let not_delivered: Vec<_> = tokens
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| !o.is_delivered())
        .map(|(t, o)| {
            // Refused or above the GOAWAY's last stream id: surely not processed. A stream cut
            // when the connection closed may have been: `connection`, retried all the same.
            let code = o.reason().unwrap().code();
            assert!(
                o.as_str() == "retry"
                    && [Reason::NOT_PROCESSED, Reason::CONNECTION].contains(&code),
                "{o}"
            );
            not_processed += usize::from(code == Reason::NOT_PROCESSED);
            t.clone()
        })
        .collect();
    assert!(not_processed > 0, "the refused streams were seen as such");
    assert_eq!(sim.accepted_count() as usize, delivered.len());
    // Resending what was not delivered (the retry layer's job) delivers the rest.
    sim.set_goaway_after(None);
    let again = provider.send(&c2c(), &not_delivered).await;
    assert!(
        again.iter().all(Outcome::is_delivered),
        "{:?}",
        labels(&again)
    );
    assert_eq!(sim.accepted_count(), 500);
}

#[tokio::test]
async fn a_refused_stream_is_retry_not_processed() {
    let sim = sim().await;
    sim.inject(Trigger::Times(1), FcmFault::RefusedStream);
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(outcomes[0].as_str(), "retry");
    assert_eq!(outcomes[0].reason().unwrap().code(), Reason::NOT_PROCESSED);
    assert_eq!(sim.accepted_count(), 0);
    // Not resent inside the transport: one request reached the simulator.
    assert_eq!(sim.request_count(), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_a_dropped_connection_is_retry() {
    let sim = sim().await;
    let provider = builder(&sim)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    sim.inject(Trigger::Times(1), FcmFault::Latency(Duration::from_secs(3)));
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(labels(&outcomes), [("retry", Reason::TIMEOUT.to_owned())]);

    let sim = self::sim().await;
    sim.inject(Trigger::Times(1), FcmFault::DropConnection);
    let provider = self::provider(&sim);
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(
        labels(&outcomes),
        [("retry", Reason::CONNECTION.to_owned())]
    );
    // The next send opens a new connection.
    assert!(provider.send(&c2c(), &devices(&[TOKEN_A])).await[0].is_delivered());
}

/// The server's `SETTINGS_MAX_CONCURRENT_STREAMS` below FCM's 100: the client keeps to it, so no
/// stream is refused and the 500 sends queue for the 10 streams.
#[tokio::test]
async fn the_servers_stream_limit_is_honoured() {
    let sim = sim_builder()
        .max_concurrent_streams(10)
        .start()
        .await
        .unwrap();
    let provider = builder(&sim).connections(1).build().unwrap();
    // One send first, so the connection's SETTINGS are known before the burst (hyper assumes
    // 100 streams until then, fcm.md §7).
    assert!(provider.send(&c2c(), &devices(&[TOKEN_A])).await[0].is_delivered());
    let outcomes = provider.send(&c2c(), &many(500)).await;
    assert!(
        outcomes.iter().all(Outcome::is_delivered),
        "{:?}",
        labels(&outcomes).iter().find(|l| l.0 != "delivered")
    );
    assert!(
        sim.peak_concurrent_streams() <= 10,
        "{}",
        sim.peak_concurrent_streams()
    );
    assert_eq!(sim.request_count(), 501);
}

/// FCM closes idle connections (GOAWAY); the next send opens a new one and is delivered.
#[tokio::test]
async fn an_idle_connection_closed_by_the_server_is_reopened_lazily() {
    let sim = sim_builder()
        .idle_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let provider = builder(&sim).connections(1).build().unwrap();
    assert!(provider.send(&c2c(), &devices(&[TOKEN_A])).await[0].is_delivered());
    let before = sim.connection_count();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert!(outcomes[0].is_delivered(), "{}", outcomes[0]);
    assert_eq!(sim.connection_count(), before + 1);
    assert_eq!(sim.accepted_count(), 2);
}

/// 1,000 sends at once on one connection allowing 100 streams, from the very first request
/// (before the server's SETTINGS are known): the excess queues in the client for a free
/// stream, none is refused, and one connection carries them all.
#[tokio::test]
async fn a_thousand_concurrent_sends_queue_for_100_streams_on_one_connection() {
    let sim = sim().await;
    let provider = builder(&sim).connections(1).build().unwrap();
    let (first, second) = (many(500), many(1000).split_off(500));
    let notification = c2c();
    let (a, b) = tokio::join!(
        provider.send(&notification, &first),
        provider.send(&notification, &second)
    );
    let outcomes: Vec<_> = a.into_iter().chain(b).collect();
    assert!(
        outcomes.iter().all(Outcome::is_delivered),
        "{:?}",
        labels(&outcomes).iter().find(|l| l.0 != "delivered")
    );
    assert_eq!(sim.accepted_count(), 1000);
    assert_eq!(sim.request_count(), 1000);
    // The send connection and the token endpoint's own.
    assert_eq!(sim.connection_count(), 2);
    assert!(
        sim.peak_concurrent_streams() <= 100,
        "{}",
        sim.peak_concurrent_streams()
    );
}

/// A server that allows fewer streams than the 100 assumed before its SETTINGS arrive: the
/// sends started on a new connection beyond its limit are refused by the server and come back
/// as `Retry`/`not_processed` (never resent inside the transport); the others are delivered.
#[tokio::test]
async fn streams_above_a_lower_limit_before_settings_are_retry_not_processed() {
    let sim = sim_builder()
        .max_concurrent_streams(10)
        .start()
        .await
        .unwrap();
    let provider = builder(&sim).connections(1).build().unwrap();
    let outcomes = provider.send(&c2c(), &many(200)).await;
    let delivered = outcomes.iter().filter(|o| o.is_delivered()).count();
    for outcome in outcomes.iter().filter(|o| !o.is_delivered()) {
        assert_eq!(outcome.as_str(), "retry", "{outcome}");
        assert_eq!(outcome.reason().unwrap().code(), Reason::NOT_PROCESSED);
    }
    assert_eq!(sim.accepted_count() as usize, delivered);
    // The first 100 streams go out at once; at least the 10 allowed are served, and some of
    // the 90 others are refused before the client learns the limit.
    assert!((10..200).contains(&delivered), "{delivered}");
}

/// h2c against a plain-text simulator: the same sends on the configured connections.
#[tokio::test]
async fn plain_http_sends_use_h2c_on_the_configured_connections() {
    let sim = sim_builder().tls(false).start().await.unwrap();
    let key =
        pushway_mock::fcm::TestServiceAccount::new().key_file_json_with_token_uri(&sim.token_url());
    let provider = pushway_fcm::FcmProvider::builder()
        .service_account_json(key)
        .api_base_url(sim.base_url())
        .allow_plain_http(true)
        .connections(2)
        .build()
        .unwrap();
    assert!(sim.base_url().starts_with("http://"), "{}", sim.base_url());
    let outcomes = provider.send(&c2c(), &many(300)).await;
    assert!(outcomes.iter().all(Outcome::is_delivered));
    assert_eq!(sim.accepted_count(), 300);
    let connections: HashSet<u64> = sends(&sim).iter().map(|r| r.connection_id).collect();
    assert_eq!(connections.len(), 2);
}

/// Nothing listening at the API host: `Retry`/`connection`, the token request unaffected.
#[tokio::test]
async fn an_unreachable_api_host_is_retry_connection() {
    let sim = sim().await;
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = unused.local_addr().unwrap();
    drop(unused);
    let provider = builder(&sim)
        .api_base_url(format!("https://{address}"))
        .build()
        .unwrap();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
    assert_eq!(
        labels(&outcomes),
        [
            ("retry", Reason::CONNECTION.to_owned()),
            ("retry", Reason::CONNECTION.to_owned())
        ]
    );
    assert_eq!(sim.token_request_count(), 1);
    assert_eq!(sim.request_count(), 0, "no send reached the simulator");
}
