//! The queue's bounds: length (drop oldest, counted) and TTL (injectable clock).

use std::sync::Arc;
use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::ManualClock;
use pushway_daemon::client::{ConnectOptions, Connection};

use crate::support::*;

#[tokio::test]
async fn a_full_queue_drops_the_oldest_and_counts_them() {
    let t = TestHub::start(|b| b.queue_max_len(3)).await;
    for id in ["m1", "m2", "m3", "m4", "m5"] {
        assert_eq!(
            t.provider
                .send(&notification(id), &[device("phone-1")])
                .await,
            [Outcome::Queued]
        );
    }
    assert_eq!(t.hub.queue_len(USER, "phone-1").await.unwrap(), 3);
    assert_eq!(t.hub.stats().dropped_overflow, 2);

    let mut conn = Connection::connect(&t.url(), &t.token("phone-1"), &ConnectOptions::default())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let push = within(conn.next()).await.unwrap();
        conn.ack(&push.id).await.unwrap();
        ids.push(push.id);
    }
    assert_eq!(ids, ["m3", "m4", "m5"]);
    conn.ping().await.unwrap();
    eventually(async || t.hub.queue_len(USER, "phone-1").await.unwrap() == 0).await;
}

#[tokio::test]
async fn pushes_past_their_ttl_are_not_replayed_and_are_counted() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let t = TestHub::start(|b| b.clock(clock.clone()).queue_ttl(Duration::from_secs(60))).await;

    // m1 lives 60 s (the queue TTL); m2 carries its own shorter TTL of 10 s.
    t.provider
        .send(&notification("m1"), &[device("phone-1")])
        .await;
    clock.advance(Duration::from_secs(30));
    let mut short = notification("m2");
    short.ttl = Some(Duration::from_secs(10));
    t.provider.send(&short, &[device("phone-1")]).await;
    clock.advance(Duration::from_secs(9));
    t.provider
        .send(&notification("m3"), &[device("phone-1")])
        .await;
    // Now 39 s: nothing has expired yet.
    assert_eq!(t.hub.queue_len(USER, "phone-1").await.unwrap(), 3);
    // At 61 s m1 (60 s) and m2 (30 + 10 s) have expired; m3 (39 + 60 s) has not.
    clock.advance(Duration::from_secs(22));

    let mut conn = Connection::connect(&t.url(), &t.token("phone-1"), &ConnectOptions::default())
        .await
        .unwrap();
    let push = within(conn.next()).await.unwrap();
    assert_eq!(push.id, "m3");
    conn.ack(&push.id).await.unwrap();
    eventually(async || t.hub.queue_len(USER, "phone-1").await.unwrap() == 0).await;
    assert_eq!(t.hub.stats().expired, 2);
}
