//! Scripted faults (§8.3): statuses, latency, REFUSED_STREAM, dropped connections.

use std::time::{Duration, Instant};

use pushway_mock::apns::{ApnsFault, ApnsOutcome, ApnsReason, Trigger};

use super::raw::{self, RawConn};
use super::*;

#[tokio::test]
async fn status_faults_answer_in_place_of_200_then_stop() {
    let s = start(|b| b).await;
    let script = s.sim.script();
    for reason in [
        ApnsReason::TooManyRequests,
        ApnsReason::InternalServerError,
        ApnsReason::ServiceUnavailable,
        ApnsReason::Shutdown,
        ApnsReason::IdleTimeout,
    ] {
        script.add_fault(Trigger::Times(1), ApnsFault::Reason(reason));
        let a = s.send(s.push()).await;
        assert_rejected(&a, reason);
        assert_eq!(a.apns_id.as_deref(), Some(APNS_ID));
        assert_ok(&s.send(s.push()).await);
        script.clear_faults();
    }
}

#[tokio::test]
async fn a_fault_never_hides_a_failing_check() {
    let s = start(|b| b).await;
    s.sim.script().add_fault(
        Trigger::Always,
        ApnsFault::Reason(ApnsReason::InternalServerError),
    );
    assert_rejected(&s.send(s.push().body("")).await, ApnsReason::PayloadEmpty);
    assert_rejected(&s.send(s.push()).await, ApnsReason::InternalServerError);
}

#[tokio::test]
async fn a_rate_fault_hits_exactly_every_nth_request() {
    let s = start(|b| b).await;
    s.sim.script().add_fault(
        Trigger::ratio(1, 3),
        ApnsFault::Reason(ApnsReason::InternalServerError),
    );
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(s.send(s.push()).await.status);
    }
    assert_eq!(statuses, [200, 200, 500, 200, 200, 500, 200, 200, 500]);
}

#[tokio::test]
async fn a_token_fault_hits_only_that_token_in_any_case() {
    let s = start(|b| b).await;
    s.sim.script().add_fault(
        Trigger::token(TOKEN.to_uppercase()),
        ApnsFault::Reason(ApnsReason::TooManyRequests),
    );
    assert_rejected(&s.send(s.push()).await, ApnsReason::TooManyRequests);
    assert_ok(&s.send(s.push().token("00ff")).await);
}

#[tokio::test]
async fn latency_delays_the_answer_by_at_least_the_scripted_time() {
    let s = start(|b| b).await;
    s.sim.script().add_fault(
        Trigger::Times(1),
        ApnsFault::Latency(Duration::from_millis(300)),
    );
    let t0 = Instant::now();
    assert_ok(&s.send(s.push()).await);
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
    // Long enough for a client time-out to fire first.
    s.sim.script().add_fault(
        Trigger::Times(1),
        ApnsFault::Latency(Duration::from_secs(30)),
    );
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let err = send_with(&client, &s.sim.base_url(), s.push())
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn latency_and_a_status_fault_combine() {
    let s = start(|b| b).await;
    let script = s.sim.script();
    script.add_fault(
        Trigger::Always,
        ApnsFault::Latency(Duration::from_millis(100)),
    );
    script.add_fault(
        Trigger::Always,
        ApnsFault::Reason(ApnsReason::ServiceUnavailable),
    );
    let t0 = Instant::now();
    assert_rejected(&s.send(s.push()).await, ApnsReason::ServiceUnavailable);
    assert!(t0.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer_and_the_next_request_a_new_connection() {
    let s = start(|b| b).await;
    s.sim
        .script()
        .add_fault(Trigger::Times(1), ApnsFault::DropConnection);
    let err = send_with(&s.client, &s.sim.base_url(), s.push())
        .await
        .expect_err("no answer");
    assert!(err.status().is_none(), "{err:?}");
    assert_ok(&s.send(s.push()).await);
    let r = s.sim.requests();
    assert_eq!(r[0].outcome, ApnsOutcome::Dropped);
    assert_eq!((r[0].connection_id, r[1].connection_id), (1, 2));
}

#[tokio::test]
async fn a_refused_stream_is_reset_with_refused_stream_and_not_answered() {
    let s = start(|b| b).await;
    s.sim
        .script()
        .add_fault(Trigger::Times(1), ApnsFault::RefusedStream);
    let mut c = RawConn::connect(s.sim.addr()).await;
    let path = format!("/3/device/{TOKEN}");
    let auth = format!("bearer {}", s.jwt);
    let headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path.as_str()),
        (":authority", "localhost"),
        ("authorization", auth.as_str()),
        ("apns-topic", TOPIC),
    ];
    c.send_request(1, &headers, PAYLOAD.as_bytes()).await;
    let f = c.until(|f| f.stream == 1).await;
    assert_eq!(
        (f.kind, f.error_code()),
        (raw::RST_STREAM, 7),
        "REFUSED_STREAM"
    );
    c.send_request(3, &headers, PAYLOAD.as_bytes()).await;
    let f = c.until(|f| f.stream == 3).await;
    assert_eq!(f.kind, raw::HEADERS);
    assert_eq!(s.sim.requests()[0].outcome, ApnsOutcome::Refused);
    // reqwest (retries off) sees the reset as an error without a status.
    s.sim
        .script()
        .add_fault(Trigger::Times(1), ApnsFault::RefusedStream);
    let err = send_with(&s.client, &s.sim.base_url(), s.push())
        .await
        .expect_err("reset");
    assert!(err.status().is_none());
}
