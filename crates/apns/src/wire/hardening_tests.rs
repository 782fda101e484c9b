//! The client side against hostile servers, where the test must see inside the state: what
//! is queued, what a panic leaves behind. Scenarios seen from outside are in the integration
//! tests (tests/it/conformance.rs).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncWriteExt, ReadBuf};
use tokio::time::timeout;

use super::tests::{block, body, connect, connect_with};
use super::*;

/// A socket whose first read panics, as a bug in frame handling would.
struct PanicIo;

impl AsyncRead for PanicIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        panic!("a bug in the connection task");
    }
}

impl AsyncWrite for PanicIo {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn raw_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame_head(&mut out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

fn goaway_payload(last: u32, code: u32) -> Vec<u8> {
    let mut p = last.to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    p
}

/// Options with no keep-alive and no write hold.
const PLAIN: Options = Options {
    keep_alive: None,
    write_hold: Duration::ZERO,
};

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_connection_task_ends_the_connection() {
    let conn = start(PanicIo, PLAIN, 0);
    let p = conn.send(&block("/a"), &body(5)).unwrap();
    // Paused time: the timeout fires only if nothing else can run, i.e. never answered.
    let answer = timeout(Duration::from_secs(60), p.answer())
        .await
        .expect("the send was left waiting for a task that is gone");
    assert_eq!(
        answer.unwrap_err(),
        StreamError::NotSent("the connection task ended".into())
    );
    assert!(!conn.usable());
}

#[tokio::test(start_paused = true)]
async fn a_control_frame_flood_from_a_server_that_does_not_read_is_bounded() {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let conn = start(client, PLAIN, 0);
    let (_unread, mut writer) = tokio::io::split(server);
    // PINGs and empty SETTINGS, each asking for a reply, 20 MB in all unless the client stops
    // reading.
    let mut flood = Vec::new();
    for i in 0..5_000u64 {
        flood.extend(raw_frame(PING, 0, 0, &i.to_be_bytes()));
        flood.extend(raw_frame(SETTINGS, 0, 0, &[]));
    }
    let all = timeout(Duration::from_secs(60), async {
        for _ in 0..150 {
            writer.write_all(&flood).await.unwrap();
        }
    })
    .await;
    assert!(all.is_err(), "the client kept reading");
    let queued = conn.shared.lock().out.len();
    assert!(queued <= MAX_QUEUED_OUT + 17, "{queued} bytes queued");
    assert!(conn.usable());
}

#[tokio::test]
async fn frames_of_streams_cut_by_a_goaway_are_not_written_and_the_close_is_clean() {
    let (conn, mut peer) = connect(None).await;
    peer.settings(&[]).await;
    assert_eq!(peer.frame().await, (SETTINGS, ACK, 0, vec![]));
    // Two streams queued; a GOAWAY with last-stream-id 1 is read before they are written.
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    let b = conn.send(&block("/b"), &body(5)).unwrap();
    {
        let mut state = conn.shared.lock();
        let goaway = raw_frame(GOAWAY, 0, 0, &goaway_payload(1, NO_ERROR));
        assert_eq!(state.read_frames(&goaway, 0), goaway.len());
    }
    assert_eq!(
        b.answer().await.unwrap_err(),
        StreamError::Refused("GOAWAY (error code 0x0)".into())
    );
    assert_eq!(peer.request().await, (1, body(5)));
    peer.ok(1, "i").await;
    assert_eq!(a.answer().await.unwrap().status, StatusCode::OK);
    // Nothing of stream 3 came; with no stream left the client says goodbye.
    assert_eq!(
        peer.frame().await,
        (GOAWAY, 0, 0, goaway_payload(0, NO_ERROR))
    );
}

#[tokio::test]
async fn a_connection_error_drops_unwritten_streams_as_not_sent() {
    let (conn, mut peer) = connect(None).await;
    peer.settings(&[]).await;
    peer.frame().await;
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    {
        // DATA on a stream never opened, read before stream 1 was written.
        let mut state = conn.shared.lock();
        state.read_frames(&raw_frame(DATA, 0, 7, b"x"), 0);
    }
    let why = "protocol error from the server: DATA on an idle stream";
    assert_eq!(
        a.answer().await.unwrap_err(),
        StreamError::NotSent(why.into())
    );
    assert_eq!(
        peer.frame().await,
        (GOAWAY, 0, 0, goaway_payload(0, PROTOCOL_ERROR))
    );
}

#[tokio::test]
async fn dropping_the_handle_closes_with_goaway_no_error() {
    let (conn, mut peer) = connect(None).await;
    let a = conn.send(&block("/a"), &body(5)).unwrap();
    drop(conn);
    peer.request().await;
    peer.ok(1, "i").await;
    assert_eq!(a.answer().await.unwrap().status, StatusCode::OK);
    assert_eq!(
        peer.frame().await,
        (GOAWAY, 0, 0, goaway_payload(0, NO_ERROR))
    );
}

#[tokio::test]
async fn a_continuation_flood_is_enhance_your_calm_and_a_huge_block_compression_error() {
    for (frames, code) in [
        // Empty CONTINUATIONs: no memory, but endless work.
        (vec![0usize; MAX_CONTINUATIONS + 1], ENHANCE_YOUR_CALM),
        // Full ones: past what any block within the list limit needs.
        (
            vec![MAX_FRAME; MAX_ENCODED_BLOCK / MAX_FRAME + 1],
            COMPRESSION_ERROR,
        ),
    ] {
        let (conn, mut peer) = connect(None).await;
        let a = conn.send(&block("/a"), &body(5)).unwrap();
        peer.request().await;
        peer.send(HEADERS, 0, 1, &[0x88]).await;
        for len in frames {
            peer.send(CONTINUATION, 0, 1, &vec![0xbe; len]).await;
        }
        let (kind, _, _, payload) = peer.frame().await;
        assert_eq!((kind, &payload[4..8]), (GOAWAY, &code.to_be_bytes()[..]));
        assert!(matches!(a.answer().await, Err(StreamError::Lost(_))));
    }
}

#[tokio::test]
async fn too_many_streams_reset_for_the_servers_errors_end_the_connection() {
    let (conn, mut peer) = connect_with(PLAIN).await;
    peer.settings(&[]).await;
    peer.frame().await;
    let n = MAX_LOCAL_RESETS + 1;
    let pending: Vec<Pending> = (0..n)
        .map(|_| conn.send(&block("/a"), &body(5)).unwrap())
        .collect();
    // DATA before HEADERS on every stream: each is reset, the last one past the budget.
    let mut frames = Vec::new();
    for i in 0..n as u32 {
        frames.extend(raw_frame(DATA, 0, 2 * i + 1, b"x"));
    }
    {
        let mut state = conn.shared.lock();
        state.read_frames(&frames, 0);
        assert!(
            state
                .ended
                .as_ref()
                .unwrap()
                .contains("too many streams reset")
        );
        assert!(state.out.ends_with(&goaway_payload(0, ENHANCE_YOUR_CALM)));
    }
    drop(pending);
}
