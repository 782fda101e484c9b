//! The send happy path over TLS and h2c, recording, and HTTP/2 behaviour (§7).

use super::*;

#[tokio::test]
async fn reqwest_over_tls_h2_gets_a_token_and_sends() {
    let (sim, client) = start(builder()).await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let token = access_token(&client, &sim).await;
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!(
        (answer.status, answer.version),
        (200, http::Version::HTTP_2)
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let name = answer.json()["name"].as_str().expect("name").to_owned();
    let id = name
        .strip_prefix("projects/pushway-test/messages/0:")
        .expect("name shape");
    let (digits, hex) = id.split_once('%').expect("0:<digits>%<hex>");
    assert_eq!(digits.len(), 16);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(hex.len(), 16);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    // Pretty-printed, as Google answers.
    assert_eq!(answer.body, format!("{{\n  \"name\": \"{name}\"\n}}"));

    let kept = sim.requests();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].accepted());
    assert_eq!(kept[0].json(), message());
    assert_eq!(
        kept[0].header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(kept[0].request.version, http::Version::HTTP_2);
    assert_eq!(
        (
            sim.accepted_count(),
            sim.request_count(),
            sim.token_request_count(),
            sim.issued_tokens()
        ),
        (1, 1, 1, 1)
    );
}

use std::time::Duration;

use pushway_mock::Recording;
use pushway_mock::fault::Trigger;
use pushway_mock::fcm::{FcmFault, FcmOutcome};

use crate::apns::raw::{self, RawConn};

fn numbered(n: usize) -> Value {
    let mut body = message();
    body["message"]["data"]["n"] = json!(n.to_string());
    body
}

#[tokio::test]
async fn recording_keeps_the_last_n_and_counts_all() {
    let (sim, client) = start(builder().recording(Recording::Last(3))).await;
    let token = access_token(&client, &sim).await;
    for n in 1..=5 {
        assert_eq!(send(&client, &sim, &token, &numbered(n)).await.status, 200);
    }
    let kept: Vec<Value> = sim
        .requests()
        .iter()
        .map(|r| r.json()["message"]["data"]["n"].clone())
        .collect();
    assert_eq!(kept, vec![json!("3"), json!("4"), json!("5")]);
    assert_eq!((sim.request_count(), sim.accepted_count()), (5, 5));
    sim.set_recording(Recording::Off);
    assert!(sim.requests().is_empty());
    assert_eq!(send(&client, &sim, &token, &numbered(6)).await.status, 200);
    assert!(sim.requests().is_empty());
    assert_eq!((sim.request_count(), sim.accepted_count()), (6, 6));
    assert_eq!(
        sim.token_requests().len(),
        0,
        "the token request was evicted with the switch to Off"
    );
    assert_eq!(sim.token_request_count(), 1);
}

#[tokio::test]
async fn token_triggers_hit_only_their_device() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    sim.inject(Trigger::token("other-device"), FcmFault::Unregistered);
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    let mut other = message();
    other["message"]["token"] = json!("other-device");
    assert_eq!(send(&client, &sim, &token, &other).await.status, 404);
    assert_eq!(send(&client, &sim, &token, &other).await.status, 404);
    sim.clear_faults();
    assert_eq!(send(&client, &sim, &token, &other).await.status, 200);
}

#[tokio::test]
async fn http1_over_tls_and_both_protocols_on_plain_tcp_are_served() {
    let (sim, _) = start(builder()).await;
    let pem = sim.cert_pem().expect("TLS").to_owned();
    let h1 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM")])
        .http1_only()
        .build()
        .expect("client");
    let token = access_token(&h1, &sim).await;
    let answer = send(&h1, &sim, &token, &message()).await;
    assert_eq!(
        (answer.status, answer.version),
        (200, http::Version::HTTP_11)
    );

    let (plain, h2c) = start(builder().tls(false)).await;
    assert!(plain.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(plain.cert_pem(), None);
    let token = access_token(&h2c, &plain).await;
    let answer = send(&h2c, &plain, &token, &message()).await;
    assert_eq!(
        (answer.status, answer.version),
        (200, http::Version::HTTP_2)
    );
    let answer = send(&reqwest::Client::new(), &plain, &token, &message()).await;
    assert_eq!(
        (answer.status, answer.version),
        (200, http::Version::HTTP_11)
    );
    assert_eq!(plain.accepted_count(), 2);
}

#[tokio::test]
async fn settings_advertise_100_streams_and_the_limit_holds() {
    let (sim, client) = start(builder().tls(false)).await;
    let mut conn = RawConn::connect(sim.addr()).await;
    let settings = conn
        .until(|f| f.kind == raw::SETTINGS && f.flags & raw::ACK == 0)
        .await;
    assert!(
        settings.settings().contains(&(0x3, 100)),
        "{:?}",
        settings.settings()
    );

    // 150 sends at once on one connection, each held 300 ms: at most 100 run at once.
    let token = access_token(&client, &sim).await;
    sim.inject(
        Trigger::Always,
        FcmFault::Latency(Duration::from_millis(300)),
    );
    let sends = (0..150).map(|n| {
        let (client, sim, token) = (&client, &sim, &token);
        async move { send(client, sim, token, &numbered(n)).await.status }
    });
    let statuses = futures_util::future::join_all(sends).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(sim.peak_concurrent_streams(), 100);
    assert_eq!(sim.accepted_count(), 150);

    let (small, _) = start(builder().tls(false).max_concurrent_streams(7)).await;
    let mut conn = RawConn::connect(small.addr()).await;
    let settings = conn
        .until(|f| f.kind == raw::SETTINGS && f.flags & raw::ACK == 0)
        .await;
    assert!(
        settings.settings().contains(&(0x3, 7)),
        "{:?}",
        settings.settings()
    );
}

fn headers<'a>(scheme: &'a str, sim_authority: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (":method", "POST"),
        (":scheme", scheme),
        (":authority", sim_authority),
        (":path", "/v1/projects/pushway-test/messages:send"),
        ("content-type", "application/json"),
    ]
}

#[tokio::test]
async fn node_style_scheme_is_reset_with_protocol_error() {
    let (sim, _) = start(builder().tls(false)).await;
    let authority = sim.addr().to_string();
    let body = message().to_string();
    let mut conn = RawConn::connect(sim.addr()).await;
    // firebase-admin-node's HTTP/2 sendEach: `:scheme: https:`.
    conn.send_request(1, &headers("https:", &authority), body.as_bytes())
        .await;
    let reset = conn
        .until(|f| f.stream == 1 && (f.kind == raw::RST_STREAM || f.kind == raw::HEADERS))
        .await;
    assert_eq!(
        (reset.kind, reset.error_code()),
        (raw::RST_STREAM, 0x1),
        "PROTOCOL_ERROR"
    );
    // The connection stays usable: a valid `:scheme` reaches the simulator (401: no token).
    conn.send_request(3, &headers("https", &authority), body.as_bytes())
        .await;
    let answer = conn
        .until(|f| f.stream == 3 && (f.kind == raw::RST_STREAM || f.kind == raw::HEADERS))
        .await;
    assert_eq!(answer.kind, raw::HEADERS);
    let kept = sim.requests();
    assert_eq!(
        kept.len(),
        1,
        "the `https:` request never reached the simulator"
    );
    assert_eq!(kept[0].status(), Some(401));
}

#[tokio::test]
async fn goaway_after_n_answers_the_nth_and_refuses_the_rest() {
    let (sim, client) = start(builder().tls(false).goaway_after(1)).await;
    let token = access_token(&client, &sim).await;
    let body = message().to_string();
    let authority = sim.addr().to_string();
    let auth = format!("Bearer {token}");
    let mut conn = RawConn::connect(sim.addr()).await;
    let mut request = headers("http", &authority);
    request.push(("authorization", &auth));
    conn.send_request(1, &request, body.as_bytes()).await;
    conn.send_request(3, &request, body.as_bytes()).await;
    let frames = conn.rest().await;
    let answered: Vec<u32> = frames
        .iter()
        .filter(|f| f.kind == raw::HEADERS)
        .map(|f| f.stream)
        .collect();
    let refused: Vec<(u32, u32)> = frames
        .iter()
        .filter(|f| f.kind == raw::RST_STREAM)
        .map(|f| (f.stream, f.error_code()))
        .collect();
    assert_eq!(answered.len(), 1, "{frames:?}");
    assert_eq!(refused.len(), 1, "{frames:?}");
    assert_eq!(refused[0].1, 0x7, "REFUSED_STREAM");
    assert_ne!(answered[0], refused[0].0);
    let goaways: Vec<(u32, u32, Vec<u8>)> = frames
        .iter()
        .filter(|f| f.kind == raw::GOAWAY)
        .map(|f| f.goaway())
        .collect();
    assert!(!goaways.is_empty(), "{frames:?}");
    assert!(
        goaways.iter().all(|(_, code, _)| *code == 0),
        "NO_ERROR: {goaways:?}"
    );
    assert_eq!(sim.accepted_count(), 1);
    let outcomes: Vec<bool> = sim
        .requests()
        .iter()
        .map(|r| r.outcome == FcmOutcome::Refused)
        .collect();
    assert_eq!(outcomes.iter().filter(|r| **r).count(), 1);

    // A pooling client moves to a new connection after each GOAWAY: the first send reuses the
    // token request's connection (token requests do not count), the next two need new ones.
    let before = sim.connection_count();
    for _ in 0..3 {
        assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    }
    assert_eq!(sim.connection_count(), before + 2);
}

#[tokio::test]
async fn refused_streams_and_dropped_connections_are_not_accepted() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    for fault in [FcmFault::RefusedStream, FcmFault::DropConnection] {
        sim.inject(Trigger::Times(1), fault.clone());
        let result = client
            .post(sim.send_url(PROJECT))
            .bearer_auth(&token)
            .json(&message())
            .send()
            .await;
        assert!(result.is_err(), "{fault:?}: {result:?}");
    }
    let outcomes: Vec<FcmOutcome> = sim.requests().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, vec![FcmOutcome::Refused, FcmOutcome::Dropped]);
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(sim.accepted_count(), 1);
}

#[tokio::test]
async fn the_goaway_fault_answers_then_closes_the_connection() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    sim.inject(Trigger::Times(1), FcmFault::GoAway);
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(sim.connection_count(), 2);
    assert_eq!(sim.accepted_count(), 2);
}

#[tokio::test]
async fn idle_connections_are_closed_and_clients_reconnect() {
    let (sim, client) = start(builder().idle_timeout(Duration::from_millis(100))).await;
    let token = access_token(&client, &sim).await;
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(sim.connection_count(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(sim.connection_count(), 2, "the idle connection was closed");
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    let response = client
        .post(sim.send_url(PROJECT))
        .bearer_auth(&token)
        .body(vec![b'x'; 1024 * 1024 + 1])
        .send()
        .await
        .expect("answer");
    let answer = read(response).await;
    assert_eq!(answer.status, 413);
    assert!(
        answer
            .body
            .contains("Error 413 (Request Entity Too Large)!!1"),
        "{}",
        answer.body
    );
    assert_eq!(sim.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goaway_after_n_is_exact_when_requests_run_in_parallel() {
    let (sim, client) = start(builder().tls(false).goaway_after(3)).await;
    let token = access_token(&client, &sim).await;
    let body = message().to_string();
    let authority = sim.addr().to_string();
    let auth = format!("Bearer {token}");
    let mut conn = RawConn::connect(sim.addr()).await;
    let mut request = headers("http", &authority);
    request.push(("authorization", &auth));
    for stream in (1..=19).step_by(2) {
        conn.send_request(stream, &request, body.as_bytes()).await;
    }
    let frames = conn.rest().await;
    let answered = frames.iter().filter(|f| f.kind == raw::HEADERS).count();
    let refused: Vec<u32> = frames
        .iter()
        .filter(|f| f.kind == raw::RST_STREAM)
        .map(|f| f.error_code())
        .collect();
    assert_eq!(answered, 3, "{frames:?}");
    assert_eq!(refused, vec![0x7; 7], "REFUSED_STREAM for the rest");
    assert_eq!(sim.accepted_count(), 3);
}
