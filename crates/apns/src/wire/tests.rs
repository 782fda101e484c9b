//! The client side against a scripted server on an in-memory pipe: every frame checked.

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use super::*;

pub(super) struct Peer(pub(super) DuplexStream);

pub(super) type Frame = (u8, u8, u32, Vec<u8>);

impl Peer {
    pub(super) async fn frame(&mut self) -> Frame {
        let mut h = [0u8; 9];
        self.0.read_exact(&mut h).await.unwrap();
        let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let mut payload = vec![0; len];
        self.0.read_exact(&mut payload).await.unwrap();
        let id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
        (h[3], h[4], id, payload)
    }

    pub(super) async fn send(&mut self, kind: u8, flags: u8, id: u32, payload: &[u8]) {
        let mut out = Vec::new();
        frame_head(&mut out, payload.len(), kind, flags, id);
        out.extend_from_slice(payload);
        self.0.write_all(&out).await.unwrap();
    }

    pub(super) async fn settings(&mut self, entries: &[(u16, u32)]) {
        let mut p = Vec::new();
        for (k, v) in entries {
            p.extend_from_slice(&k.to_be_bytes());
            p.extend_from_slice(&v.to_be_bytes());
        }
        self.send(SETTINGS, 0, 0, &p).await;
    }

    /// A 200 answer with `apns-id: <id>`.
    pub(super) async fn ok(&mut self, stream: u32, apns_id: &str) {
        let mut block = vec![0x88];
        crate::hpack::literal_named(&mut block, b"apns-id", apns_id.as_bytes());
        self.send(HEADERS, END_HEADERS | END_STREAM, stream, &block)
            .await;
    }

    /// Reads one request: HEADERS, then DATA frames up to END_STREAM; returns the body.
    pub(super) async fn request(&mut self) -> (u32, Vec<u8>) {
        let (kind, flags, id, _) = self.frame().await;
        assert_eq!((kind, flags & END_HEADERS), (HEADERS, END_HEADERS));
        let mut body = Vec::new();
        loop {
            let (kind, flags, sid, payload) = self.frame().await;
            assert_eq!((kind, sid), (DATA, id));
            body.extend_from_slice(&payload);
            if flags & END_STREAM != 0 {
                return (id, body);
            }
        }
    }
}

/// A connection and the server's end, past the client's preface, SETTINGS and
/// WINDOW_UPDATE (checked byte for byte).
pub(super) async fn connect(keep_alive: Option<KeepAlive>) -> (Connection, Peer) {
    connect_with(Options {
        keep_alive,
        write_hold: DEFAULT_WRITE_HOLD,
    })
    .await
}

pub(super) async fn connect_with(options: Options) -> (Connection, Peer) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let conn = start(client, options, 0);
    let mut peer = Peer(server);
    let mut preface = [0u8; 24];
    peer.0.read_exact(&mut preface).await.unwrap();
    assert_eq!(&preface[..], PREFACE);
    let settings = peer.frame().await;
    assert_eq!(
        settings,
        (
            SETTINGS,
            0,
            0,
            vec![0, 2, 0, 0, 0, 0, 0, 4, 0, 16, 0, 0, 0, 6, 0, 1, 0, 0]
        )
    );
    let update = peer.frame().await;
    assert_eq!(
        update,
        (
            WINDOW_UPDATE,
            0,
            0,
            (RECV_WINDOW - 65_535).to_be_bytes().to_vec()
        )
    );
    (conn, peer)
}

/// A header block: `:method POST`, `:path <path>`.
pub(super) fn block(path: &str) -> impl Fn(&mut Vec<u8>) + '_ {
    move |b: &mut Vec<u8>| {
        crate::hpack::indexed(b, crate::hpack::METHOD_POST);
        crate::hpack::literal(b, crate::hpack::PATH, path.as_bytes());
    }
}

pub(super) fn body(n: usize) -> Vec<u8> {
    vec![b'x'; n]
}

/// Past the server's (empty) SETTINGS and its ACK, streams 1 and 3 open and read.
pub(super) async fn two_streams(conn: &Connection, peer: &mut Peer) -> (Pending, Pending) {
    peer.settings(&[]).await;
    peer.frame().await;
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    let b = conn.send(&block("/b"), &body(5)).unwrap();
    assert_eq!(peer.request().await.0, 1);
    assert_eq!(peer.request().await.0, 3);
    (a, b)
}

#[tokio::test]
async fn one_stream_until_settings_then_the_servers_limit() {
    let (conn, mut peer) = connect(None).await;
    let a = conn.send(&block("/a"), &body(10)).unwrap();
    let b = conn.send(&block("/b"), &body(10)).unwrap();
    let c = conn.send(&block("/c"), &body(10)).unwrap();
    assert_eq!(peer.request().await.0, 1);
    peer.settings(&[(SETTINGS_MAX_CONCURRENT_STREAMS, 2)]).await;
    assert_eq!(peer.frame().await, (SETTINGS, ACK, 0, vec![]));
    // Stream 3 opens (2 open now); stream 5 waits for a slot.
    assert_eq!(peer.request().await.0, 3);
    peer.ok(1, "id-1").await;
    assert_eq!(peer.request().await.0, 5);
    peer.ok(3, "id-3").await;
    peer.ok(5, "id-5").await;
    for (p, id) in [(a, "id-1"), (b, "id-3"), (c, "id-5")] {
        let answer = p.answer().await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.apns_id.unwrap(), id);
        assert!(answer.body.is_empty());
    }
}

#[tokio::test]
async fn bodies_wait_for_flow_control_windows() {
    let (conn, mut peer) = connect(None).await;
    peer.settings(&[(SETTINGS_INITIAL_WINDOW_SIZE, 100)]).await;
    assert_eq!(peer.frame().await.0, SETTINGS);
    let p = conn.send(&block("/a"), &body(250)).unwrap();
    assert_eq!(peer.frame().await.0, HEADERS);
    assert_eq!(peer.frame().await, (DATA, 0, 1, vec![b'x'; 100]));
    peer.send(WINDOW_UPDATE, 0, 1, &100u32.to_be_bytes()).await;
    assert_eq!(peer.frame().await, (DATA, 0, 1, vec![b'x'; 100]));
    peer.send(WINDOW_UPDATE, 0, 1, &1000u32.to_be_bytes()).await;
    assert_eq!(peer.frame().await, (DATA, END_STREAM, 1, vec![b'x'; 50]));
    peer.ok(1, "i").await;
    assert_eq!(p.answer().await.unwrap().status, StatusCode::OK);
}

#[tokio::test]
async fn padded_headers_continuation_and_padded_data_make_one_answer() {
    let (conn, mut peer) = connect(None).await;
    let p = conn.send(&block("/a"), &body(5)).unwrap();
    peer.request().await;
    let mut block = vec![0x8c]; // :status 400
    crate::hpack::literal_named(&mut block, b"apns-id", b"abc");
    crate::hpack::literal(&mut block, 31, b"application/json"); // content-type
    let (first, rest) = block.split_at(4);
    // HEADERS with 2 bytes of padding and the priority fields, then CONTINUATION.
    let mut payload = vec![2, 0, 0, 0, 0, 16];
    payload.extend_from_slice(first);
    payload.extend_from_slice(&[0, 0]);
    peer.send(HEADERS, PADDED | PRIORITY_FLAG, 1, &payload)
        .await;
    peer.send(CONTINUATION, END_HEADERS, 1, rest).await;
    let mut data = vec![3];
    data.extend_from_slice(br#"{"reason":"BadDeviceToken"}"#);
    data.extend_from_slice(&[0, 0, 0]);
    peer.send(DATA, PADDED | END_STREAM, 1, &data).await;
    let answer = p.answer().await.unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.headers["apns-id"], "abc");
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(&answer.body[..], br#"{"reason":"BadDeviceToken"}"#);
}

#[tokio::test]
async fn goaway_refuses_streams_above_its_last_id_and_the_rest_finish() {
    let (conn, mut peer) = connect(None).await;
    let (a, b) = two_streams(&conn, &mut peer).await;
    let mut payload = 1u32.to_be_bytes().to_vec();
    payload.extend_from_slice(&NO_ERROR.to_be_bytes());
    payload.extend_from_slice(b"shutting down");
    peer.send(GOAWAY, 0, 0, &payload).await;
    let refused = b.answer().await.unwrap_err();
    assert!(
        matches!(&refused, StreamError::Refused(why) if why.contains("shutting down")),
        "{refused:?}"
    );
    assert!(!conn.usable());
    assert!(matches!(
        conn.send(&block("/c"), &body(5)),
        Err(StreamError::NotSent(_))
    ));
    peer.ok(1, "i").await;
    assert_eq!(a.answer().await.unwrap().status, StatusCode::OK);
}

#[tokio::test]
async fn rst_stream_refused_is_not_processed_other_codes_are_reset() {
    let (conn, mut peer) = connect(None).await;
    let (a, b) = two_streams(&conn, &mut peer).await;
    peer.send(RST_STREAM, 0, 1, &REFUSED_STREAM.to_be_bytes())
        .await;
    peer.send(RST_STREAM, 0, 3, &0x2u32.to_be_bytes()).await;
    assert!(matches!(a.answer().await, Err(StreamError::Refused(_))));
    assert_eq!(b.answer().await.unwrap_err(), StreamError::Reset(0x2));
    assert!(conn.usable());
}

#[tokio::test]
async fn a_ping_is_answered_with_its_payload() {
    let (_conn, mut peer) = connect(None).await;
    peer.send(PING, 0, 0, b"12345678").await;
    assert_eq!(peer.frame().await, (PING, ACK, 0, b"12345678".to_vec()));
}

#[tokio::test]
async fn a_send_given_up_resets_its_stream_and_frees_the_slot() {
    let (conn, mut peer) = connect(None).await;
    peer.settings(&[(SETTINGS_MAX_CONCURRENT_STREAMS, 1)]).await;
    peer.frame().await;
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    let b = conn.send(&block("/b"), &body(5)).unwrap();
    assert_eq!(peer.request().await.0, 1);
    drop(a);
    assert_eq!(
        peer.frame().await,
        (RST_STREAM, 0, 1, CANCEL.to_be_bytes().to_vec())
    );
    assert_eq!(peer.request().await.0, 3);
    // A late answer for the reset stream is decoded and dropped.
    peer.ok(1, "late").await;
    peer.ok(3, "i").await;
    assert_eq!(b.answer().await.unwrap().apns_id.unwrap(), "i");
}

#[tokio::test]
async fn a_protocol_violation_ends_the_connection_with_goaway() {
    let (conn, mut peer) = connect(None).await;
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    peer.request().await;
    peer.send(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2]).await;
    let (kind, _, _, payload) = peer.frame().await;
    assert_eq!(kind, GOAWAY);
    assert_eq!(payload[4..8], PROTOCOL_ERROR.to_be_bytes());
    assert!(
        matches!(a.answer().await, Err(StreamError::Lost(why)) if why.contains("PUSH_PROMISE"))
    );
    assert!(!conn.usable());
}

#[tokio::test]
async fn a_frame_over_the_size_limit_is_frame_size_error() {
    let (conn, mut peer) = connect(None).await;
    peer.send(DATA, 0, 1, &vec![0; MAX_FRAME + 1]).await;
    let (kind, _, _, payload) = peer.frame().await;
    assert_eq!(
        (kind, &payload[4..8]),
        (GOAWAY, &FRAME_SIZE_ERROR.to_be_bytes()[..])
    );
    assert!(!conn.usable());
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_keep_alive_ping_ends_the_connection() {
    let k = KeepAlive {
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
    };
    let (conn, mut peer) = connect(Some(k)).await;
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    peer.request().await;
    // The first PING comes after the interval and is answered; the second is not.
    let (kind, flags, _, payload) = peer.frame().await;
    assert_eq!((kind, flags), (PING, 0));
    peer.send(PING, ACK, 0, &payload).await;
    let (kind, _, _, _) = peer.frame().await;
    assert_eq!(kind, PING);
    let err = a.answer().await.unwrap_err();
    assert_eq!(err, StreamError::Lost("keep-alive PING unanswered".into()));
    assert!(!conn.usable());
}

#[tokio::test(start_paused = true)]
async fn under_load_a_write_waits_for_an_answer_or_a_millisecond() {
    let (conn, mut peer) = connect(None).await;
    peer.settings(&[]).await;
    peer.frame().await;
    // 32 streams on the wire.
    let mut pending: Vec<Pending> = (0..HOLD_MIN_ON_WIRE)
        .map(|_| conn.send(&block("/a"), &body(5)).unwrap())
        .collect();
    for i in 0..HOLD_MIN_ON_WIRE as u32 {
        assert_eq!(peer.request().await.0, 1 + 2 * i);
    }
    // The next request is held until an answer comes...
    pending.push(conn.send(&block("/b"), &body(5)).unwrap());
    tokio::task::yield_now().await;
    let t0 = Instant::now();
    peer.ok(1, "i").await;
    assert_eq!(peer.request().await.0, 65);
    assert_eq!(t0.elapsed(), Duration::ZERO);
    // ...or for a millisecond at most (still 32 on the wire, nothing answered).
    pending.push(conn.send(&block("/c"), &body(5)).unwrap());
    let t0 = Instant::now();
    assert_eq!(peer.request().await.0, 67);
    assert_eq!(t0.elapsed(), DEFAULT_WRITE_HOLD);
    // With fewer than 32 on the wire, a request goes at once.
    for id in (3..=33).step_by(2) {
        peer.ok(id, "i").await;
    }
    let t0 = Instant::now();
    pending.push(conn.send(&block("/d"), &body(5)).unwrap());
    assert_eq!(peer.request().await.0, 69);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_zero_write_hold_writes_at_once_under_load() {
    let (conn, mut peer) = connect_with(Options {
        keep_alive: None,
        write_hold: Duration::ZERO,
    })
    .await;
    peer.settings(&[]).await;
    peer.frame().await;
    let _pending: Vec<Pending> = (0..=HOLD_MIN_ON_WIRE)
        .map(|_| conn.send(&block("/a"), &body(5)).unwrap())
        .collect();
    for _ in 0..=HOLD_MIN_ON_WIRE {
        peer.request().await;
    }
    let t0 = Instant::now();
    let _late = conn.send(&block("/b"), &body(5)).unwrap();
    assert_eq!(
        peer.request().await.0,
        2 * (HOLD_MIN_ON_WIRE as u32 + 1) + 1
    );
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn the_server_closing_loses_open_streams_and_fails_waiting_ones_as_not_sent() {
    let (conn, mut peer) = connect(None).await;
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    let b = conn.send(&block("/b"), &body(5)).unwrap();
    peer.request().await;
    drop(peer);
    assert!(matches!(a.answer().await, Err(StreamError::Lost(_))));
    assert!(matches!(b.answer().await, Err(StreamError::NotSent(_))));
}
