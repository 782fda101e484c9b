//! Pings, dead-connection detection, idle timeout.

use std::time::Duration;

use pushway_daemon::client::{DeviceClient, Event};
use pushway_daemon::protocol::ServerFrame;

use crate::support::*;

#[tokio::test]
async fn a_device_that_never_answers_is_pinged_then_closed_4006() {
    let t = TestHub::start(|b| {
        b.ping_interval(Duration::from_millis(30))
            .idle_timeout(Duration::from_millis(100))
    })
    .await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    assert_eq!(next_frame(&mut ws).await, Some(ServerFrame::Ping));
    assert_closed_with(&mut ws, 4006, "idle_timeout").await;
    eventually(async || !t.hub.is_connected(USER, "phone-1")).await;
}

#[tokio::test]
async fn the_server_answers_a_device_ping() {
    let t = TestHub::start(|b| b).await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    send_text(&mut ws, r#"{"type":"ping"}"#).await;
    assert_eq!(next_frame(&mut ws).await, Some(ServerFrame::Pong));
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected_past_many_idle_timeouts() {
    let t = TestHub::start(|b| {
        b.ping_interval(Duration::from_millis(20))
            .idle_timeout(Duration::from_millis(60))
    })
    .await;
    let mut client = DeviceClient::builder(t.url(), t.token("phone-1")).spawn();
    assert!(matches!(
        within(client.next_event()).await,
        Some(Event::Connected { .. })
    ));
    // Ten idle timeouts: a client that did not answer would have been closed several times.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(t.hub.is_connected(USER, "phone-1"));
    let stats = t.hub.stats();
    assert_eq!((stats.connected, stats.replaced), (1, 0));
    // No disconnect event is waiting.
    let outcomes =
        pushway_core::PushProvider::send(&t.provider, &notification("m1"), &[device("phone-1")])
            .await;
    assert_eq!(outcomes, [pushway_core::Outcome::DELIVERED]);
    match within(client.next_event()).await {
        Some(Event::Push(push)) => assert_eq!(push.id, "m1"),
        other => panic!("expected the push, got {other:?}"),
    }
}
