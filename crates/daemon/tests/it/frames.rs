//! Malformed and oversized frames: an error frame and a close, no panic, others unaffected.

use futures_util::SinkExt;
use pushway_core::{Outcome, PushProvider};
use pushway_daemon::MAX_DEVICE_FRAME_BYTES;
use pushway_daemon::client::{ConnectOptions, Connection};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

async fn assert_hub_still_delivers(t: &TestHub) {
    let mut conn = Connection::connect(&t.url(), &t.token("healthy"), &ConnectOptions::default())
        .await
        .unwrap();
    let device_side = tokio::spawn(async move {
        let push = conn.next().await.unwrap();
        conn.ack(&push.id).await.unwrap();
        conn
    });
    let outcomes = within(t.provider.send(&notification("ok"), &[device("healthy")])).await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    within(device_side).await.unwrap();
}

#[tokio::test]
async fn text_that_is_not_json_is_closed_4000() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    send_text(&mut ws, "this is not json").await;
    assert_closed_with(&mut ws, 4000, "protocol_error").await;
    assert_hub_still_delivers(&t).await;
}

#[tokio::test]
async fn an_unknown_frame_type_is_closed_4000() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    send_text(&mut ws, r#"{"type":"push","id":"x","notification":{}}"#).await;
    assert_closed_with(&mut ws, 4000, "protocol_error").await;
}

#[tokio::test]
async fn malformed_json_before_hello_is_closed_4000() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw(&t.url()).await;
    send_text(&mut ws, r#"{"type":"hello","v":"#).await;
    assert_closed_with(&mut ws, 4000, "protocol_error").await;
}

#[tokio::test]
async fn a_binary_frame_is_closed_4000() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    within(ws.send(Message::binary(vec![1, 2, 3])))
        .await
        .unwrap();
    assert_closed_with(&mut ws, 4000, "protocol_error").await;
}

#[tokio::test]
async fn a_second_hello_is_closed_4000() {
    let t = TestHub::start(|b| b).await;
    let token = t.token("phone-1");
    let mut ws = raw_authenticated(&t.url(), &token).await;
    send_text(
        &mut ws,
        &format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#),
    )
    .await;
    assert_closed_with(&mut ws, 4000, "protocol_error").await;
}

#[tokio::test]
async fn an_oversized_frame_is_closed_1009() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    let huge = format!(
        r#"{{"type":"ack","id":"{}"}}"#,
        "x".repeat(MAX_DEVICE_FRAME_BYTES)
    );
    send_text(&mut ws, &huge).await;
    assert_closed_with(&mut ws, 1009, "frame_too_large").await;
    assert_hub_still_delivers(&t).await;
}

#[tokio::test]
async fn an_oversized_hello_is_closed_1009() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw(&t.url()).await;
    let huge = format!(
        r#"{{"type":"hello","v":1,"token":"{}"}}"#,
        "x".repeat(MAX_DEVICE_FRAME_BYTES)
    );
    send_text(&mut ws, &huge).await;
    assert_closed_with(&mut ws, 1009, "frame_too_large").await;
}

#[tokio::test]
async fn a_frame_just_under_the_limit_is_accepted() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    let prefix = r#"{"type":"ack","id":""#;
    let id = "x".repeat(MAX_DEVICE_FRAME_BYTES - prefix.len() - 2);
    let frame = format!(r#"{prefix}{id}"}}"#);
    assert_eq!(frame.len(), MAX_DEVICE_FRAME_BYTES);
    send_text(&mut ws, &frame).await;
    send_text(&mut ws, r#"{"type":"ping"}"#).await;
    assert_eq!(
        next_frame(&mut ws).await,
        Some(pushway_daemon::protocol::ServerFrame::Pong)
    );
}
