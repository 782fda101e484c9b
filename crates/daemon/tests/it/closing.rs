//! The close handshake, seen from a raw WebSocket client: the hub answers a device's close
//! frame, and a close by the hub before `hello` arrives as its documented code, not as 1006.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::*;

/// Sends a close frame (1000 "bye") and reads until the hub's close reply: an end of stream
/// or a reset without it (a 1006 for the device) fails.
async fn close_and_expect_reply(ws: &mut RawWs) {
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    within(ws.send(Message::Close(Some(bye)))).await.unwrap();
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1000, "the reply echoes the code");
                return;
            }
            Some(Ok(Message::Close(None))) => panic!("a close reply without a code"),
            Some(Ok(_)) => {}
            None => panic!("the connection ended without the hub's close reply"),
            Some(Err(e)) => panic!("no close reply from the hub: {e}"),
        }
    }
}

#[tokio::test]
async fn the_hub_answers_a_device_s_close_frame() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    close_and_expect_reply(&mut ws).await;
    eventually(async || !t.hub.is_connected(USER, "phone-1")).await;
}

#[tokio::test]
async fn the_hub_answers_a_close_frame_sent_before_hello() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw(&t.url()).await;
    close_and_expect_reply(&mut ws).await;
}

/// A device that keeps sending while the hub closes it before `hello` still reads the
/// documented code: the hub reads (and drops) the device's frames until the close completes
/// instead of resetting the connection with input unread.
#[tokio::test]
async fn a_close_before_hello_arrives_with_its_code_even_while_the_device_sends() {
    let t = TestHub::start(|b| b.auth_timeout(Duration::from_millis(200))).await;
    let mut ws = raw(&t.url()).await;
    // Frames the hub must not act on before hello (pongs are allowed and ignored).
    for _ in 0..50 {
        within(ws.send(Message::Pong(vec![7; 100].into())))
            .await
            .unwrap();
    }
    assert_closed_with(&mut ws, 4001, "auth_missing").await;
}
