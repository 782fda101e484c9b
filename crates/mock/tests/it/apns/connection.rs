//! Connection behaviour (§5, §8.3) seen frame by frame: SETTINGS, response frames, stream limits,
//! GOAWAY with debug data.

use pushway_mock::apns::{ApnsFault, ApnsOutcome, ApnsReason, GoAway, Trigger};

use super::raw::{self, Frame, RawConn};
use super::*;

fn headers<'a>(path: &'a str, auth: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "api.sandbox.push.apple.com"),
        ("authorization", auth),
        ("apns-topic", TOPIC),
        ("apns-push-type", "alert"),
    ]
}

struct Raw {
    conn: RawConn,
    path: String,
    auth: String,
}

impl Raw {
    async fn open(s: &Sim) -> Raw {
        Raw {
            conn: RawConn::connect(s.sim.addr()).await,
            path: format!("/3/device/{TOKEN}"),
            auth: format!("bearer {}", s.jwt),
        }
    }

    async fn push(&mut self, stream: u32) {
        let h = headers(&self.path, &self.auth);
        self.conn.send_request(stream, &h, PAYLOAD.as_bytes()).await;
    }

    async fn push_empty(&mut self, stream: u32) {
        let h = headers(&self.path, &self.auth);
        self.conn.send_request(stream, &h, b"").await;
    }

    /// The first frame of the server: its SETTINGS.
    async fn settings(&mut self) -> Vec<(u16, u32)> {
        let f = self
            .conn
            .until(|f| f.kind == raw::SETTINGS && f.flags & raw::ACK == 0)
            .await;
        f.settings()
    }
}

#[tokio::test]
async fn settings_are_those_apns_was_observed_to_send() {
    let s = start(|b| b).await;
    let mut r = Raw::open(&s).await;
    assert_eq!(
        r.settings().await,
        [(1, 4096), (3, 1000), (4, 65_535), (5, 16_384), (6, 8000)]
    );
    let s = start(|b| b.max_concurrent_streams(7)).await;
    let mut r = Raw::open(&s).await;
    assert_eq!(r.settings().await[1], (3, 7));
}

#[tokio::test]
async fn success_is_one_headers_frame_and_an_error_one_headers_and_one_data_frame() {
    let s = start(|b| b).await;
    let mut r = Raw::open(&s).await;
    r.push(1).await;
    let f = r.conn.until(|f| f.stream == 1).await;
    assert_eq!(
        (f.kind, f.flags),
        (raw::HEADERS, raw::END_HEADERS | raw::END_STREAM)
    );
    r.push_empty(3).await;
    let h = r.conn.until(|f| f.stream == 3).await;
    assert_eq!((h.kind, h.flags), (raw::HEADERS, raw::END_HEADERS));
    let d = r.conn.until(|f| f.stream == 3).await;
    assert_eq!((d.kind, d.flags), (raw::DATA, raw::END_STREAM));
    assert_eq!(
        String::from_utf8(d.payload).expect("UTF-8"),
        fixture(ApnsReason::PayloadEmpty)
    );
}

#[tokio::test]
async fn pings_are_answered() {
    let s = start(|b| b).await;
    let mut r = Raw::open(&s).await;
    r.conn.write_frame(raw::PING, 0, 0, b"12345678").await;
    let f = r.conn.until(|f| f.kind == raw::PING).await;
    assert_eq!(
        f,
        Frame {
            kind: raw::PING,
            flags: raw::ACK,
            stream: 0,
            payload: b"12345678".to_vec()
        }
    );
}

#[tokio::test]
async fn goaway_after_n_streams_carries_the_json_debug_data_then_the_connection_closes() {
    let s = start(|b| b).await;
    s.sim.script().goaway_after(Some((2, GoAway::shutdown())));
    let mut r = Raw::open(&s).await;
    r.push(1).await;
    r.push(3).await;
    let mut frames = Vec::new();
    let goaway = loop {
        let f = r.conn.next().await.expect("frames until GOAWAY");
        if f.kind == raw::GOAWAY {
            break f;
        }
        frames.push(f);
    };
    assert_eq!(
        goaway.goaway(),
        (3, 0, br#"{"reason":"Shutdown"}"#.to_vec())
    );
    // A stream opened after the GOAWAY is refused; both earlier streams were answered.
    r.push(5).await;
    frames.extend(r.conn.rest().await);
    let answered: Vec<u32> = frames
        .iter()
        .filter(|f| f.kind == raw::HEADERS)
        .map(|f| f.stream)
        .collect();
    assert_eq!(answered, [1, 3]);
    assert!(
        frames.iter().all(|f| f.kind != raw::GOAWAY),
        "exactly one GOAWAY: {frames:?}"
    );
    assert!(
        frames
            .iter()
            .all(|f| f.stream != 5 || f.kind == raw::RST_STREAM)
    );
    let r5 = s.sim.requests().into_iter().find(|r| r.stream_id == 5);
    if let Some(r5) = r5 {
        assert_eq!(r5.outcome, ApnsOutcome::Refused);
    }
}

#[tokio::test]
async fn a_goaway_fault_can_carry_plain_text_and_an_error_code() {
    let s = start(|b| b).await;
    let g = GoAway {
        error_code: 0xb,
        ..GoAway::max_streams_plain_text()
    };
    s.sim
        .script()
        .add_fault(Trigger::Times(1), ApnsFault::GoAway(g));
    let mut r = Raw::open(&s).await;
    r.push(1).await;
    let f = r.conn.until(|f| f.kind == raw::GOAWAY).await;
    assert_eq!(
        f.goaway(),
        (
            1,
            0xb,
            b"Maximum active streams violated for this endpoint.".to_vec()
        )
    );
    let rest = r.conn.rest().await;
    assert!(
        rest.iter().any(|f| f.kind == raw::HEADERS && f.stream == 1),
        "{rest:?}"
    );
}

#[tokio::test]
async fn the_h2_client_sees_the_goaway_and_reqwest_moves_to_a_new_connection() {
    let s = start(|b| b).await;
    s.sim.script().goaway_after(Some((1, GoAway::shutdown())));
    let tcp = tokio::net::TcpStream::connect(s.sim.addr())
        .await
        .expect("connect");
    let (mut send, conn) = h2::client::handshake(tcp).await.expect("handshake");
    let driver = tokio::spawn(conn);
    let req = http::Request::post(format!("http://localhost/3/device/{TOKEN}"))
        .header("authorization", format!("bearer {}", s.jwt))
        .header("apns-topic", TOPIC)
        .body(())
        .expect("request");
    let (resp, mut body) = send.send_request(req, false).expect("send");
    body.send_data(bytes::Bytes::from_static(PAYLOAD.as_bytes()), true)
        .expect("data");
    assert_eq!(resp.await.expect("answered").status(), 200);
    // The connection ends cleanly (GOAWAY NO_ERROR) after that stream.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), driver).await;
    let result = ended.expect("connection ends").expect("task");
    match result {
        Ok(()) => {}
        Err(e) => assert!(e.is_go_away() && e.is_remote(), "{e}"),
    }
    // reqwest: the first request is answered, the next one goes on a new connection.
    assert_ok(&s.send(s.push()).await);
    let mut second = None;
    for _ in 0..3 {
        if let Ok(a) = send_with(&s.client, &s.sim.base_url(), s.push()).await {
            second = Some(a);
            break;
        }
    }
    assert_ok(&second.expect("answered on a new connection"));
    let ids: Vec<u64> = s.sim.requests().iter().map(|r| r.connection_id).collect();
    assert_eq!(ids.first(), Some(&1));
    assert!(ids.iter().any(|&id| id >= 3), "{ids:?}");
}

#[tokio::test]
async fn token_start_advertises_one_stream_until_a_push_succeeds() {
    let s = start(|b| b.token_start(true)).await;
    // The first answer waits, so that the second stream arrives while the first is open.
    let wait = std::time::Duration::from_millis(300);
    s.sim
        .script()
        .add_fault(Trigger::Times(1), ApnsFault::Latency(wait));
    let mut r = Raw::open(&s).await;
    assert_eq!(r.settings().await[1], (3, 1));
    // Two streams at once: the second is refused.
    r.push(1).await;
    r.push(3).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        let f = r.conn.next().await.expect("frame");
        if f.stream == 1 || f.stream == 3 || (f.kind == raw::SETTINGS && f.flags & raw::ACK == 0) {
            got.push(f);
        }
    }
    assert!(
        got.iter().any(|f| f.stream == 1 && f.kind == raw::HEADERS),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|f| f.stream == 3 && f.kind == raw::RST_STREAM && f.error_code() == 7)
    );
    let raised = got
        .iter()
        .find(|f| f.kind == raw::SETTINGS)
        .expect("a new SETTINGS");
    assert_eq!(raised.settings(), [(3, 1000)]);
    // Our ACK of that SETTINGS (sent by `next`) does not upset the server: more streams work.
    r.push(5).await;
    r.push(7).await;
    let a = r.conn.until(|f| f.stream == 5).await;
    let b = r.conn.until(|f| f.stream == 7).await;
    assert_eq!((a.kind, b.kind), (raw::HEADERS, raw::HEADERS));
}

#[tokio::test]
async fn streams_over_the_advertised_limit_are_refused() {
    let s = start(|b| b.max_concurrent_streams(1)).await;
    s.sim.script().add_fault(
        Trigger::Times(1),
        ApnsFault::Latency(std::time::Duration::from_millis(300)),
    );
    let mut r = Raw::open(&s).await;
    r.push(1).await;
    r.push(3).await;
    let f3 = r.conn.until(|f| f.stream == 3).await;
    assert_eq!((f3.kind, f3.error_code()), (raw::RST_STREAM, 7));
    let f1 = r.conn.until(|f| f.stream == 1).await;
    assert_eq!(f1.kind, raw::HEADERS);
}

#[tokio::test]
async fn the_reject_penalty_drops_the_limit_to_one_and_an_accepted_push_restores_it() {
    let s = start(|b| b.reject_penalty(true)).await;
    let mut r = Raw::open(&s).await;
    assert_eq!(r.settings().await[1], (3, 1000));
    r.push_empty(1).await;
    let limit = r
        .conn
        .until(|f| f.kind == raw::SETTINGS && f.flags & raw::ACK == 0)
        .await;
    assert_eq!(limit.settings(), [(3, 1)]);
    r.push(3).await;
    let back = r
        .conn
        .until(|f| f.kind == raw::SETTINGS && f.flags & raw::ACK == 0)
        .await;
    assert_eq!(back.settings(), [(3, 1000)]);
    // Both ACKs were taken out before h2 saw them: the connection still works.
    r.push(5).await;
    assert_eq!(r.conn.until(|f| f.stream == 5).await.kind, raw::HEADERS);
}
