//! Bad, expired and missing tokens close the connection with the documented code and reason.

use std::time::{Duration, SystemTime};

use pushway_daemon::client::{ConnectOptions, Connection, DeviceClient, Event};
use pushway_daemon::{CloseReason, DeviceAuth};

use crate::support::*;

#[tokio::test]
async fn a_token_signed_with_another_secret_is_closed_4002() {
    let t = TestHub::start(|b| b).await;
    let forged = DeviceAuth::hs256(b"another secret, also 32 bytes!!!")
        .unwrap()
        .issue(USER, "phone-1", 0, Duration::from_secs(60))
        .unwrap();
    let mut ws = raw(&t.url()).await;
    send_text(
        &mut ws,
        &format!(r#"{{"type":"hello","v":1,"token":"{forged}"}}"#),
    )
    .await;
    assert_closed_with(&mut ws, 4002, "auth_invalid").await;
    assert!(!t.hub.is_connected(USER, "phone-1"));
}

#[tokio::test]
async fn a_garbage_token_is_closed_4002() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw(&t.url()).await;
    send_text(&mut ws, r#"{"type":"hello","v":1,"token":"not.a.jwt"}"#).await;
    assert_closed_with(&mut ws, 4002, "auth_invalid").await;
}

#[tokio::test]
async fn an_expired_token_is_closed_4003_and_the_client_stops() {
    let t = TestHub::start(|b| b).await;
    let expired = t
        .hub
        .auth()
        .issue_at(
            USER,
            "phone-1",
            0,
            SystemTime::now() - Duration::from_secs(7200),
            SystemTime::now() - Duration::from_secs(3600),
        )
        .unwrap();
    let mut ws = raw(&t.url()).await;
    send_text(
        &mut ws,
        &format!(r#"{{"type":"hello","v":1,"token":"{expired}"}}"#),
    )
    .await;
    assert_closed_with(&mut ws, 4003, "auth_expired").await;

    let err = Connection::connect(&t.url(), &expired, &ConnectOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.close_reason(), Some(CloseReason::AuthExpired));
    assert!(err.is_terminal());

    let mut client = DeviceClient::builder(t.url(), expired).spawn();
    match within(client.next_event()).await {
        Some(Event::Stopped { error }) => assert_eq!(error.close_code(), Some(4003)),
        other => panic!("expected Stopped, got {other:?}"),
    }
    assert!(within(client.next_event()).await.is_none());
}

#[tokio::test]
async fn an_empty_token_is_closed_4001() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw(&t.url()).await;
    send_text(&mut ws, r#"{"type":"hello","v":1,"token":""}"#).await;
    assert_closed_with(&mut ws, 4001, "auth_missing").await;
}

#[tokio::test]
async fn a_hello_without_a_token_is_closed_4001() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw(&t.url()).await;
    send_text(&mut ws, r#"{"type":"hello","v":1}"#).await;
    assert_closed_with(&mut ws, 4001, "auth_missing").await;
}

#[tokio::test]
async fn no_hello_before_the_auth_timeout_is_closed_4001() {
    let t = TestHub::start(|b| b.auth_timeout(Duration::from_millis(100))).await;
    let mut ws = raw(&t.url()).await;
    assert_closed_with(&mut ws, 4001, "auth_missing").await;
}

#[tokio::test]
async fn a_first_frame_other_than_hello_is_closed_4001() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw(&t.url()).await;
    send_text(&mut ws, r#"{"type":"ack","id":"m1"}"#).await;
    assert_closed_with(&mut ws, 4001, "auth_missing").await;
}

#[tokio::test]
async fn another_protocol_version_is_closed_4004() {
    let t = TestHub::start(|b| b).await;
    let token = t.token("phone-1");
    let mut ws = raw(&t.url()).await;
    send_text(
        &mut ws,
        &format!(r#"{{"type":"hello","v":2,"token":"{token}"}}"#),
    )
    .await;
    assert_closed_with(&mut ws, 4004, "unsupported_version").await;
}
