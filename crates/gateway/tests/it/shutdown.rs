//! Graceful shutdown: work in progress finishes within the grace period; what cannot is released
//! so the next start sends it at once, not after its lease.

use std::time::Duration;

use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::XiaomiFault;
use serde_json::json;

use crate::support::{Harness, c2c, devices_of};

fn message() -> serde_json::Value {
    json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]})
}

async fn vendor_has_it(h: &Harness) {
    while h.sims.xiaomi.request_count() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_delivery_in_progress_finishes_within_the_grace_period() {
    let mut h = Harness::start().await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    h.sims.xiaomi.inject(
        Trigger::Times(1),
        XiaomiFault::Latency(Duration::from_millis(500)),
    );
    h.post_nowait("g1", message()).await;
    vendor_has_it(&h).await;
    h.stop(Duration::from_secs(20)).await;
    assert_eq!(h.count("deliveries WHERE state = 'delivered'").await, 1);
}

#[tokio::test]
async fn an_unanswered_delivery_is_released_and_sent_at_the_next_start() {
    let mut h = Harness::start().await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    h.sims.xiaomi.inject(
        Trigger::Times(1),
        XiaomiFault::Latency(Duration::from_secs(30)),
    );
    let id = h.post_nowait("g2", message()).await;
    vendor_has_it(&h).await;
    h.stop(Duration::from_millis(100)).await;
    let released = "deliveries WHERE state = 'retrying' AND lease_until IS NULL AND attempts = 1";
    assert_eq!(h.count(released).await, 1);

    // The lease (60 s) has not expired, yet the next start sends it at once.
    h.restart().await;
    let status = h
        .status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    assert_eq!(devices_of(&status, "bob")[0]["attempts"], 2);
    assert_eq!(h.sims.xiaomi.request_count(), 2);
}
