//! `Hub::serve_upgraded`: a connection whose HTTP upgrade an embedder answered (here an
//! in-memory pipe, as after a `101 Switching Protocols`) speaks the protocol like any other:
//! hello, pushes, acks, the frame limits and the cap on connections awaiting `hello`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pushway_core::{Outcome, PushProvider};
use pushway_daemon::protocol::ServerFrame;
use tokio::io::DuplexStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::support::*;

type PipeWs = WebSocketStream<DuplexStream>;

/// A device connected through `serve_upgraded` over an in-memory pipe (no HTTP at all: the
/// hub must not expect a handshake).
async fn upgraded(t: &TestHub) -> PipeWs {
    let (device, server) = tokio::io::duplex(64 * 1024);
    let hub = t.hub.clone();
    tokio::spawn(async move { hub.serve_upgraded(server).await });
    WebSocketStream::from_raw_socket(device, Role::Client, None).await
}

async fn send(ws: &mut PipeWs, text: String) {
    within(ws.send(Message::text(text))).await.unwrap();
}

async fn frame(ws: &mut PipeWs) -> ServerFrame {
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The close frame's code and reason (after the error frame announcing it).
async fn close_of(ws: &mut PipeWs) -> (u16, String) {
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Close(Some(close)))) => {
                return (u16::from(close.code), close.reason.to_string());
            }
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_upgraded_stream_authenticates_receives_and_acks() {
    let t = TestHub::start(|b| b).await;
    let mut ws = upgraded(&t).await;
    eventually(async || t.hub.stats().awaiting_hello == 1).await;
    let token = t.token("phone-1");
    send(
        &mut ws,
        format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#),
    )
    .await;
    let ServerFrame::Welcome { device_id, .. } = frame(&mut ws).await else {
        panic!("expected welcome");
    };
    assert_eq!(device_id, "phone-1");
    assert_eq!(t.hub.stats().awaiting_hello, 0);
    assert!(t.hub.is_connected(USER, "phone-1"));

    let provider = t.provider.clone();
    let sent = tokio::spawn(async move {
        provider
            .send(&notification("m1"), &[device("phone-1")])
            .await
    });
    let ServerFrame::Push { id, notification } = frame(&mut ws).await else {
        panic!("expected a push");
    };
    assert_eq!(
        (id.as_str(), notification.body.as_str()),
        ("m1", "body of m1")
    );
    send(&mut ws, r#"{"type":"ack","id":"m1"}"#.to_owned()).await;
    let outcomes = within(sent).await.unwrap();
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Delivered { .. }]),
        "{outcomes:?}"
    );
    assert_eq!(t.hub.queue_len(USER, "phone-1").await.unwrap(), 0);
}

#[tokio::test]
async fn upgraded_streams_keep_the_frame_limit_and_the_cap_on_waiting_connections() {
    let t = TestHub::start(|b| {
        b.max_unauthenticated(1)
            .auth_timeout(Duration::from_secs(600))
    })
    .await;
    // A device frame over the 4096-byte limit is refused like on the hub's own listener.
    let mut big = upgraded(&t).await;
    send(
        &mut big,
        format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(5000)),
    )
    .await;
    assert_eq!(
        close_of(&mut big).await,
        (1009, "frame_too_large".to_owned())
    );

    // Two upgraded streams that never say hello: the second sheds the first.
    let mut first = upgraded(&t).await;
    eventually(async || t.hub.stats().awaiting_hello == 1).await;
    let _second = upgraded(&t).await;
    eventually(async || t.hub.stats().shed == 1).await;
    assert_eq!(
        close_of(&mut first).await,
        (1013, "try_again_later".to_owned())
    );
    assert_eq!(t.hub.stats().awaiting_hello, 1);
}
