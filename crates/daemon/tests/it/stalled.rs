//! A device that stops reading delays nobody else, and is closed as too slow.

use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::client::{ConnectOptions, Connection};
use tokio::task::JoinHandle;

use crate::support::*;

/// 300 pushes of ~60 KiB (18 MB): more than the server's send buffer (4 MB at most here) and
/// the device's small receive buffer hold, so the server's writes to a device that does not read
/// block.
fn flood(t: &TestHub, device_id: &'static str) -> Vec<JoinHandle<Vec<Outcome>>> {
    let mut big = notification("big");
    big.body = "x".repeat(60 * 1024);
    (0..300)
        .map(|i| {
            let provider = t.provider.clone();
            let mut n = big.clone();
            n.message_id = format!("big-{i}");
            tokio::spawn(async move { provider.send(&n, &[device(device_id)]).await })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_device_does_not_delay_pushes_to_others() {
    // Long write and ack timeouts: the stall lasts longer than the test's own wait limit, so a
    // healthy push that queued up behind it would fail `within`.
    let t = TestHub::start(|b| {
        b.max_in_flight(1000)
            .write_timeout(Duration::from_secs(60))
            .ack_timeout(Duration::from_secs(60))
    })
    .await;
    let _stalled = raw_authenticated_small_buffer(&t.url(), &t.token("stalled")).await;
    let flood = flood(&t, "stalled");
    eventually(async || t.hub.queue_len(USER, "stalled").await.unwrap() == 300).await;

    let mut healthy =
        Connection::connect(&t.url(), &t.token("healthy"), &ConnectOptions::default())
            .await
            .unwrap();
    let device_side = tokio::spawn(async move {
        for _ in 0..20 {
            let push = healthy.next().await.unwrap();
            healthy.ack(&push.id).await.unwrap();
        }
    });
    for i in 0..20 {
        let n = notification(&format!("m{i}"));
        let outcomes = within(t.provider.send(&n, &[device("healthy")])).await;
        assert_eq!(outcomes, [Outcome::DELIVERED]);
    }
    within(device_side).await.unwrap();
    // All the while the stalled device was connected with its pushes unacked.
    assert!(t.hub.is_connected(USER, "stalled"));
    assert!(flood.iter().all(|task| !task.is_finished()));
    for task in flood {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_device_is_closed_after_the_write_timeout_and_keeps_its_queue() {
    let t = TestHub::start(|b| {
        b.max_in_flight(1000)
            .write_timeout(Duration::from_millis(300))
            .ack_timeout(Duration::from_secs(60))
    })
    .await;
    let _stalled = raw_authenticated_small_buffer(&t.url(), &t.token("stalled")).await;
    let flood = flood(&t, "stalled");
    // Closed as too slow: its waiting sends answer `Queued` at once, not after 60 s.
    eventually(async || !t.hub.is_connected(USER, "stalled")).await;
    for task in flood {
        assert_eq!(within(task).await.unwrap(), [Outcome::Queued]);
    }
    assert_eq!(t.hub.queue_len(USER, "stalled").await.unwrap(), 300);
}

/// A device that stops reading after a few small pushes: the kernel's buffers take them all,
/// so no write ever blocks; its missing acks close it after the write timeout, long before the
/// idle timeout.
#[tokio::test]
async fn a_device_that_stops_reading_is_closed_even_when_buffers_absorb_its_pushes() {
    let t = TestHub::start(|b| {
        b.write_timeout(Duration::from_millis(300))
            .idle_timeout(Duration::from_secs(600))
            .ping_interval(Duration::from_secs(600))
            .ack_timeout(Duration::from_millis(20))
    })
    .await;
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    for i in 0..3 {
        let n = notification(&format!("m{i}"));
        let outcomes = within(t.provider.send(&n, &[device("phone-1")])).await;
        assert_eq!(outcomes, [Outcome::Queued], "not acked");
    }
    eventually(async || !t.hub.is_connected(USER, "phone-1")).await;
    // Reading at last, the device finds its pushes, then the close.
    for i in 0..3 {
        match next_frame(&mut ws).await {
            Some(pushway_daemon::protocol::ServerFrame::Push { id, .. }) => {
                assert_eq!(id, format!("m{i}"));
            }
            other => panic!("expected m{i}, got {other:?}"),
        }
    }
    assert_closed_with(&mut ws, 4007, "too_slow").await;
    assert_eq!(t.hub.queue_len(USER, "phone-1").await.unwrap(), 3);
}

#[tokio::test]
async fn the_in_flight_window_is_bounded_in_bytes_as_well_as_in_count() {
    use pushway_daemon::protocol::ServerFrame;
    let t = TestHub::start(|b| b.max_in_flight(64).max_in_flight_bytes(10 * 1024)).await;
    // Pushes of about 4.4 KB: two fit in 10 KB, three do not.
    for i in 0..4 {
        let mut n = notification(&format!("b{i}"));
        n.body = "x".repeat(4000);
        let outcomes = within(t.provider.send(&n, &[device("phone-1")])).await;
        assert_eq!(outcomes, [Outcome::Queued]);
    }
    let mut ws = raw_authenticated(&t.url(), &t.token("phone-1")).await;
    let expect_push = async |ws: &mut RawWs, expected: &str| match next_frame(ws).await {
        Some(ServerFrame::Push { id, .. }) => assert_eq!(id, expected),
        other => panic!("expected {expected}, got {other:?}"),
    };
    expect_push(&mut ws, "b0").await;
    expect_push(&mut ws, "b1").await;
    send_text(&mut ws, r#"{"type":"ping"}"#).await;
    assert_eq!(
        next_frame(&mut ws).await,
        Some(ServerFrame::Pong),
        "b2 waits"
    );
    // An ack frees room for exactly one more.
    send_text(&mut ws, r#"{"type":"ack","id":"b0"}"#).await;
    expect_push(&mut ws, "b2").await;
    send_text(&mut ws, r#"{"type":"ping"}"#).await;
    assert_eq!(
        next_frame(&mut ws).await,
        Some(ServerFrame::Pong),
        "b3 waits"
    );
}
