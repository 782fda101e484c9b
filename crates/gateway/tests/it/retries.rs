//! Retryable outcomes: due again after the backoff, until delivered, attempts exhausted or the
//! message's time to live is over.

use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::XiaomiFault;
use serde_json::{Value, json};

use crate::support::{Harness, c2c, devices_of};

fn final_state(status: &Value) -> bool {
    let state = &devices_of(status, "bob")[0]["state"];
    state == "delivered" || state == "dead"
}

#[tokio::test]
async fn a_retry_is_sent_again_after_the_backoff_and_then_delivered() {
    let h = Harness::start().await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    h.sims
        .xiaomi
        .inject(Trigger::Times(2), XiaomiFault::Status(503));
    let body = json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]});
    let id = h.post_nowait("r1", body).await;
    let status = h.status_until(&id, final_state).await;
    let device = &devices_of(&status, "bob")[0];
    assert_eq!(device["state"], "delivered");
    assert_eq!(device["attempts"], 3);
    assert_eq!(h.sims.xiaomi.request_count(), 3);
}

#[tokio::test]
async fn attempts_exhausted_make_the_delivery_dead_with_the_last_reason() {
    let h = Harness::start_with(|config, _| config.worker.max_attempts = 3).await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    h.sims
        .xiaomi
        .inject(Trigger::Always, XiaomiFault::Status(503));
    let body = json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]});
    let id = h.post_nowait("r2", body).await;
    let status = h.status_until(&id, final_state).await;
    let device = &devices_of(&status, "bob")[0];
    assert_eq!(device["state"], "dead");
    assert_eq!(device["attempts"], 3);
    assert_eq!(device["last_outcome"], "retry");
    assert_eq!(h.sims.xiaomi.request_count(), 3);
}

#[tokio::test]
async fn a_message_past_its_time_to_live_is_dead_with_the_last_reason() {
    let h = Harness::start_with(|config, _| config.worker.max_attempts = 1_000_000).await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    h.sims
        .xiaomi
        .inject(Trigger::Always, XiaomiFault::Status(503));
    let mut message = c2c("alice", "bob", "hi");
    message["ttl_secs"] = json!(1);
    let id = h
        .post_nowait(
            "r3",
            json!({"message": message, "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    let status = h.status_until(&id, final_state).await;
    let device = &devices_of(&status, "bob")[0];
    assert_eq!(device["state"], "dead");
    assert_eq!(device["last_outcome"], "expired");
    assert!(device["last_reason"].is_string(), "{device:#}");
}
