//! `[worker] enabled = false`: the gateway accepts (every delivery committed, its status
//! readable) and sends nothing; a gateway started on the same store with its workers on sends
//! every row, once.

use std::time::Duration;

use serde_json::json;

use crate::support::{Harness, c2c, devices_of};

#[tokio::test]
async fn with_workers_off_messages_are_kept_due_and_sent_once_a_gateway_with_workers_runs() {
    let mut h = Harness::start_with(|config, _| config.worker.enabled = false).await;
    h.device("bob", "mi", "xiaomi", "regid-bob").await;
    h.device("bob", "hw", "huawei", "token-bob").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = json!({"message": c2c("alice", "bob", &format!("hi {n}")),
                          "recipients": [{"user_id": "bob"}]});
        ids.push(h.post_nowait(&format!("off-{n}"), body).await);
    }
    // Many poll intervals (20 ms) and hand-offs: a worker would have sent them by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.count("deliveries WHERE state = 'pending'").await, 6);
    assert_eq!(h.count("deliveries").await, 6);
    assert_eq!(h.sims.xiaomi.request_count(), 0);
    assert_eq!(h.sims.huawei.request_count(), 0);
    // Read once (`status_until` asserts the 200).
    let status = h.status_until(&ids[0], |_| true).await;
    let states: Vec<&str> = devices_of(&status, "bob")
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["state"].as_str().expect("state"))
        .collect();
    assert_eq!(states, ["pending", "pending"]);

    h.stop(Duration::from_secs(5)).await;
    h.restart_with(|config| config.worker.enabled = true).await;
    for id in &ids {
        h.status_until(id, |s| {
            devices_of(s, "bob")
                .as_array()
                .is_some_and(|d| d.iter().all(|d| d["state"] == "delivered"))
        })
        .await;
    }
    assert_eq!(h.count("deliveries WHERE state = 'delivered'").await, 6);
    assert_eq!(h.sims.xiaomi.request_count(), 3);
    // Three sends (and the access token they used).
    assert_eq!(h.sims.huawei.delivered(), 3);
    assert_eq!(
        h.sims.huawei.request_count(),
        3 + h.sims.huawei.issued_tokens()
    );
}
