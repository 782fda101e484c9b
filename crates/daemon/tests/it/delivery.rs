//! Push + ack → Delivered; offline → Queued and replayed in order; ack timeout → Queued and
//! replayed; the provider contract for mixed batches.

use std::time::Duration;

use pushway_core::{DeviceToken, Outcome, Presence, PushProvider, TokenKind};
use pushway_daemon::client::{ConnectOptions, Connection, DeviceClient, Event};
use pushway_daemon::{MAX_PUSH_FRAME_BYTES, REASON_BAD_DEVICE_ADDRESS, REASON_WRONG_CHANNEL};

use crate::support::*;

#[tokio::test]
async fn push_to_a_connected_device_is_acked_and_delivered() {
    let t = TestHub::start(|b| b).await;
    let mut conn = Connection::connect(&t.url(), &t.token("phone-1"), &ConnectOptions::default())
        .await
        .unwrap();
    assert_eq!(conn.device_id(), "phone-1");
    let device_side = tokio::spawn(async move {
        let push = conn.next().await.unwrap();
        conn.ack(&push.id).await.unwrap();
        (push, conn)
    });
    let sent = notification("m1");
    let outcomes = within(t.provider.send(&sent, &[device("phone-1")])).await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    let (push, _conn) = within(device_side).await.unwrap();
    assert_eq!(push.id, "m1");
    assert_eq!(push.notification, sent);
    assert_eq!(t.hub.queue_len(USER, "phone-1").await.unwrap(), 0);
    let stats = t.hub.stats();
    assert_eq!((stats.delivered, stats.queued), (1, 0));
}

#[tokio::test]
async fn offline_pushes_are_queued_then_replayed_in_order_once_each() {
    let t = TestHub::start(|b| b).await;
    for id in ["m1", "m2", "m3"] {
        let outcomes = t
            .provider
            .send(&notification(id), &[device("phone-1")])
            .await;
        assert_eq!(outcomes, [Outcome::Queued]);
    }
    assert_eq!(t.hub.queue_len(USER, "phone-1").await.unwrap(), 3);

    let mut client = DeviceClient::builder(t.url(), t.token("phone-1")).spawn();
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(within(client.next_push()).await.unwrap().id);
    }
    assert_eq!(received, ["m1", "m2", "m3"]);
    eventually(async || t.hub.queue_len(USER, "phone-1").await.unwrap() == 0).await;

    // A live push afterwards arrives next: nothing was replayed twice in between.
    let outcomes = within(t.provider.send(&notification("m4"), &[device("phone-1")])).await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    assert_eq!(within(client.next_push()).await.unwrap().id, "m4");
}

#[tokio::test]
async fn an_unacked_push_is_queued_after_the_ack_timeout_and_replayed_on_reconnect() {
    let t = TestHub::start(|b| b.ack_timeout(Duration::from_millis(200))).await;
    let options = ConnectOptions::default();
    let mut silent = Connection::connect(&t.url(), &t.token("phone-1"), &options)
        .await
        .unwrap();
    let outcomes = within(t.provider.send(&notification("m1"), &[device("phone-1")])).await;
    assert_eq!(outcomes, [Outcome::Queued]);
    // It was sent once, and is still queued because it was never acked.
    assert_eq!(within(silent.next()).await.unwrap().id, "m1");
    assert_eq!(t.hub.queue_len(USER, "phone-1").await.unwrap(), 1);
    silent.close().await;

    let mut again = Connection::connect(&t.url(), &t.token("phone-1"), &options)
        .await
        .unwrap();
    let replayed = within(again.next()).await.unwrap();
    assert_eq!(replayed.id, "m1");
    again.ack(&replayed.id).await.unwrap();
    eventually(async || t.hub.queue_len(USER, "phone-1").await.unwrap() == 0).await;
}

#[tokio::test]
async fn the_same_push_sent_twice_is_shown_once_by_the_client() {
    let t = TestHub::start(|b| b).await;
    let mut client = DeviceClient::builder(t.url(), t.token("phone-1")).spawn();
    assert!(matches!(
        within(client.next_event()).await,
        Some(Event::Connected { .. })
    ));
    // A retry layer re-sends the same message: same id.
    for _ in 0..2 {
        let outcomes = within(t.provider.send(&notification("m1"), &[device("phone-1")])).await;
        assert_eq!(outcomes, [Outcome::DELIVERED], "the duplicate is acked too");
    }
    let outcomes = within(t.provider.send(&notification("m2"), &[device("phone-1")])).await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    assert_eq!(within(client.next_push()).await.unwrap().id, "m1");
    assert_eq!(
        within(client.next_push()).await.unwrap().id,
        "m2",
        "m1 was shown once"
    );
}

#[tokio::test]
async fn a_mixed_batch_gets_one_outcome_per_token_in_order() {
    let t = TestHub::start(|b| b).await;
    let mut client = DeviceClient::builder(t.url(), t.token("online")).spawn();
    assert!(matches!(
        within(client.next_event()).await,
        Some(Event::Connected { .. })
    ));
    let tokens = [
        device("offline"),
        DeviceToken::new(TokenKind::Xiaomi, "mi", "regid"),
        device("online"),
        device(""),
    ];
    let outcomes = within(t.provider.send(&notification("m1"), &tokens)).await;
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0], Outcome::Queued);
    assert_eq!(outcomes[1], Outcome::rejected(REASON_WRONG_CHANNEL));
    assert_eq!(outcomes[2], Outcome::DELIVERED);
    assert!(
        matches!(&outcomes[3], Outcome::InvalidToken { reason, .. } if reason.code() == REASON_BAD_DEVICE_ADDRESS)
    );
    assert_eq!(within(client.next_push()).await.unwrap().id, "m1");
}

#[tokio::test]
async fn an_oversized_push_is_rejected_before_it_is_queued() {
    let t = TestHub::start(|b| b).await;
    let mut big = notification("m1");
    big.body = "x".repeat(MAX_PUSH_FRAME_BYTES);
    let outcomes = t.provider.send(&big, &[device("a"), device("b")]).await;
    assert_eq!(outcomes.len(), 2);
    for outcome in outcomes {
        assert!(
            matches!(&outcome, Outcome::Rejected { reason } if reason.code() == "payload_too_large")
        );
    }
    assert_eq!(t.hub.queue_len(USER, "a").await.unwrap(), 0);
}

#[tokio::test]
async fn presence_follows_the_connection() {
    let t = TestHub::start(|b| b).await;
    let token = device("phone-1");
    assert!(!t.provider.is_connected(&token));
    let conn = Connection::connect(&t.url(), &t.token("phone-1"), &ConnectOptions::default())
        .await
        .unwrap();
    assert!(t.provider.is_connected(&token));
    assert!(t.hub.is_connected(USER, "phone-1"));
    // Another channel's token with the same string is not this device.
    assert!(
        !t.provider
            .is_connected(&DeviceToken::new(TokenKind::Huawei, "hw", "phone-1"))
    );
    conn.close().await;
    eventually(async || !t.provider.is_connected(&token)).await;
}

/// A push to a connected device goes with its wake-up: sent without a read of the queue when
/// everything before it was sent (with the memory store, and with the SQLite store as the gateway
/// runs it), in order, and still acked and removed from the queue.
#[tokio::test]
async fn a_push_to_a_connected_device_is_sent_from_its_wake_up() {
    let path = crate::restart::temp_db("carried");
    let sqlite = pushway_daemon::SqliteStore::open(&path).await.unwrap();
    let memory = TestHub::start(|b| b).await;
    let on_sqlite = TestHub::start(|b| b.store(sqlite.clone())).await;
    for t in [memory, on_sqlite] {
        let mut conn = Connection::connect(&t.url(), &t.token("phone"), &ConnectOptions::default())
            .await
            .unwrap();
        let (got, mut received) = tokio::sync::mpsc::unbounded_channel();
        let device_side = tokio::spawn(async move {
            while let Ok(push) = conn.next().await {
                conn.ack(&push.id).await.unwrap();
                let _ = got.send(push.id);
            }
        });
        // The first push may race the connection's first read: counted from the second on.
        let sends = ["m0", "m1", "m2", "m3"];
        let mut before = 0;
        for (i, id) in sends.into_iter().enumerate() {
            if i == 1 {
                before = t.hub.stats().sent_carried;
            }
            let outcomes = within(t.provider.send(&notification(id), &[device("phone")])).await;
            assert_eq!(outcomes, [Outcome::DELIVERED], "{id}");
        }
        assert_eq!(t.hub.stats().sent_carried - before, 3);
        let mut ids = Vec::new();
        for _ in sends {
            ids.push(within(received.recv()).await.unwrap());
        }
        assert_eq!(ids, sends);
        eventually(async || t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
        device_side.abort();
    }
    sqlite.close().await;
    crate::restart::remove_db(&path);
}
