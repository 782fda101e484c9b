//! A device only ever receives its own pushes; a second connection replaces the first.

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::CloseReason;
use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::protocol::ServerFrame;

use crate::support::*;

#[tokio::test]
async fn a_token_for_device_a_never_yields_b_s_pushes() {
    let t = TestHub::start(|b| b).await;
    assert_eq!(
        t.provider
            .send(&notification("for-b"), &[device("b")])
            .await,
        [Outcome::Queued]
    );
    assert_eq!(
        t.provider
            .send(&notification("for-a"), &[device("a")])
            .await,
        [Outcome::Queued]
    );

    let mut a = raw_authenticated(&t.url(), &t.token("a")).await;
    match next_frame(&mut a).await {
        Some(ServerFrame::Push { id, .. }) => assert_eq!(id, "for-a"),
        other => panic!("expected a's push, got {other:?}"),
    }
    // Acking b's push id from a's connection touches only a's own queue.
    send_text(&mut a, r#"{"type":"ack","id":"for-b"}"#).await;
    send_text(&mut a, r#"{"type":"ack","id":"for-a"}"#).await;
    eventually(async || t.hub.queue_len(USER, "a").await.unwrap() == 0).await;
    assert_eq!(t.hub.queue_len(USER, "b").await.unwrap(), 1);

    // A live push for b while a is connected is queued for b, not sent to a.
    assert_eq!(
        t.provider
            .send(&notification("for-b-2"), &[device("b")])
            .await,
        [Outcome::Queued]
    );
    send_text(&mut a, r#"{"type":"ping"}"#).await;
    assert_eq!(
        next_frame(&mut a).await,
        Some(ServerFrame::Pong),
        "nothing else was sent to a"
    );
    assert_eq!(t.hub.queue_len(USER, "b").await.unwrap(), 2);

    let mut b = Connection::connect(&t.url(), &t.token("b"), &ConnectOptions::default())
        .await
        .unwrap();
    assert_eq!(within(b.next()).await.unwrap().id, "for-b");
    assert_eq!(within(b.next()).await.unwrap().id, "for-b-2");
}

#[tokio::test]
async fn a_second_connection_replaces_the_first_which_is_closed_4005() {
    let t = TestHub::start(|b| b).await;
    let mut first = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    let options = ConnectOptions::default();
    let mut second = Connection::connect(&t.url(), &t.token("phone-1"), &options)
        .await
        .unwrap();
    assert_closed_with(&mut first, 4005, "replaced").await;
    assert_eq!(t.hub.stats().replaced, 1);

    let device_side = tokio::spawn(async move {
        let push = second.next().await.unwrap();
        second.ack(&push.id).await.unwrap();
        (push.id, second)
    });
    let outcomes = within(t.provider.send(&notification("m1"), &[device("phone-1")])).await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    assert_eq!(within(device_side).await.unwrap().0, "m1");
    assert!(t.hub.is_connected(USER, "phone-1"));
    assert_eq!(t.hub.stats().connected, 1);
}

#[tokio::test]
async fn the_client_stops_when_replaced() {
    let t = TestHub::start(|b| b).await;
    let options = ConnectOptions::default();
    let mut first = Connection::connect(&t.url(), &t.token("phone-1"), &options)
        .await
        .unwrap();
    let _second = Connection::connect(&t.url(), &t.token("phone-1"), &options)
        .await
        .unwrap();
    let err = within(first.next()).await.unwrap_err();
    assert_eq!(err.close_reason(), Some(CloseReason::Replaced));
    assert!(err.is_terminal());
}
