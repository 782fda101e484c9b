//! `[worker] max_rows_in_flight`: however large the backlog, the claim loop holds no more
//! claimed rows in memory than that, and takes more as its dispatches end.

use std::time::Duration;

use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::XiaomiFault;
use serde_json::{Value, json};

use crate::support::{Harness, devices_of, xiaomi_tokens};

#[tokio::test]
async fn claims_stop_at_max_rows_in_flight_until_dispatches_end() {
    // The rows are written due (no worker), then a worker with room for 3 claimed rows, claims
    // of 2 and 10 dispatches sweeps them against a vendor that answers after a second.
    let mut h = Harness::start_with(|config, _| config.worker.enabled = false).await;
    let users: Vec<String> = (0..8).map(|i| format!("u{i}")).collect();
    for user in &users {
        h.device(user, "p", "xiaomi", &format!("regid-{user}"))
            .await;
    }
    let body = json!({
        "message": {
            "conversation": {"type": "group", "id": "g1", "name": "Climbers"},
            "sender": {"user_id": "alice", "nickname": "Ann"},
            "elements": [{"type": "text", "text": "hi"}]
        },
        "recipients": users.iter().map(|u| json!({"user_id": u, "unread": 1})).collect::<Vec<Value>>(),
    });
    let id = h.post_nowait("m1", body).await;
    h.sims.xiaomi.inject(
        Trigger::Always,
        XiaomiFault::Latency(Duration::from_secs(1)),
    );
    h.restart_with(|config| {
        config.worker.enabled = true;
        config.worker.max_rows_in_flight = 3;
        config.worker.claim_batch = 2;
        config.worker.max_in_flight = 10;
    })
    .await;

    // Two dispatches (2 rows, then the 1 row left of the room) reach the vendor; until the
    // first answers, a second later, nothing more is claimed.
    while h.sims.xiaomi.request_count() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sims.xiaomi.request_count(), 2);
    assert_eq!(h.count("deliveries WHERE state = 'in_flight'").await, 3);
    assert_eq!(h.count("deliveries WHERE state = 'pending'").await, 5);

    // As dispatches end, the rest is claimed: every row delivered, each once.
    h.sims.xiaomi.clear_faults();
    let status = h
        .status_until(&id, |s| {
            users
                .iter()
                .all(|u| devices_of(s, u)[0]["state"] == "delivered")
        })
        .await;
    for user in &users {
        assert_eq!(devices_of(&status, user)[0]["attempts"], 1, "{user}");
    }
    let sent = xiaomi_tokens(&h).len();
    assert_eq!(sent, 8);
}
