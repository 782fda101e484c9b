//! What the hub tells its owner about acks ([`HubBuilder::on_acked`]), and clearing a device's
//! queue ([`Hub::clear_queue`]): a push queued while the device was away is reported when a
//! later connection acks it; a cleared queue is not replayed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::client::{ConnectOptions, Connection};

use crate::support::*;

/// The acks reported so far, as (`user/device`, push id).
type Reported = Arc<Mutex<Vec<(String, String)>>>;

async fn hub_reporting_acks() -> (TestHub, Reported) {
    let reported = Reported::default();
    let sink = reported.clone();
    let t = TestHub::start(move |b| {
        b.ack_timeout(Duration::from_millis(200))
            .on_acked(move |device, id| {
                sink.lock().unwrap().push((device.address(), id.to_owned()));
            })
    })
    .await;
    (t, reported)
}

fn reported_now(reported: &Reported) -> Vec<(String, String)> {
    reported.lock().unwrap().clone()
}

#[tokio::test]
async fn an_ack_on_a_later_connection_is_reported_once_and_duplicates_are_not() {
    let (t, reported) = hub_reporting_acks().await;
    // Offline: queued, nothing reported yet.
    assert_eq!(
        t.provider
            .send(&notification("m1"), &[device("phone")])
            .await,
        [Outcome::Queued]
    );
    assert_eq!(reported_now(&reported), []);

    let mut conn = Connection::connect(&t.url(), &t.token("phone"), &ConnectOptions::default())
        .await
        .unwrap();
    let push = within(conn.next()).await.unwrap();
    assert_eq!(push.id, "m1");
    conn.ack("m1").await.unwrap();
    // A duplicate ack of a push already removed is not reported again.
    conn.ack("m1").await.unwrap();
    conn.ping().await.unwrap();
    eventually(async || t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    assert_eq!(
        reported_now(&reported),
        [(format!("{USER}/phone"), "m1".to_owned())]
    );

    // A push acked in time is not reported: its send says `Delivered`.
    let mut receiving = tokio::spawn(async move {
        let push = within(conn.next()).await.unwrap();
        conn.ack(&push.id).await.unwrap();
        conn
    });
    assert_eq!(
        t.provider
            .send(&notification("m2"), &[device("phone")])
            .await,
        [Outcome::DELIVERED]
    );
    let mut conn = within(&mut receiving).await.unwrap();
    conn.ping().await.unwrap();
    eventually(async || t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    assert_eq!(
        reported_now(&reported),
        [(format!("{USER}/phone"), "m1".to_owned())]
    );

    // A push acked after its send gave up waiting (`Queued`) is reported.
    let sent = t
        .provider
        .send(&notification("m3"), &[device("phone")])
        .await;
    assert_eq!(sent, [Outcome::Queued]);
    let push = within(conn.next()).await.unwrap();
    assert_eq!(push.id, "m3");
    conn.ack("m3").await.unwrap();
    conn.ping().await.unwrap();
    eventually(async || t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    assert_eq!(
        reported_now(&reported),
        [
            (format!("{USER}/phone"), "m1".to_owned()),
            (format!("{USER}/phone"), "m3".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_cleared_queue_is_not_replayed_on_the_next_connection() {
    let (t, reported) = hub_reporting_acks().await;
    for id in ["m1", "m2", "m1"] {
        t.provider.send(&notification(id), &[device("phone")]).await;
    }
    t.provider
        .send(&notification("o1"), &[device("tablet")])
        .await;
    assert_eq!(
        t.hub.clear_queue(USER, "phone").await.unwrap(),
        ["m1", "m2"]
    );
    assert_eq!(t.hub.queue_len(USER, "phone").await.unwrap(), 0);
    assert_eq!(t.hub.queue_len(USER, "tablet").await.unwrap(), 1);
    assert!(t.hub.clear_queue(USER, "a/b").await.is_err());

    // The next connection gets only what was queued after the clear.
    t.provider
        .send(&notification("m3"), &[device("phone")])
        .await;
    let mut conn = Connection::connect(&t.url(), &t.token("phone"), &ConnectOptions::default())
        .await
        .unwrap();
    let push = within(conn.next()).await.unwrap();
    assert_eq!(push.id, "m3");
    conn.ack("m3").await.unwrap();
    conn.ping().await.unwrap();
    eventually(async || t.hub.queue_len(USER, "phone").await.unwrap() == 0).await;
    assert_eq!(
        reported_now(&reported),
        [(format!("{USER}/phone"), "m3".to_owned())]
    );
}
