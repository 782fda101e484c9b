//! Overload is answered `503` with `Retry-After`, never a silent drop; health checks still answer.

use std::time::Duration;

use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::XiaomiFault;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, assert_problem, c2c, devices_of};

#[tokio::test]
async fn requests_beyond_the_limit_get_503_with_retry_after() {
    let h = Harness::start_with(|config, _| config.server.max_in_flight_requests = 1).await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    h.sims.xiaomi.inject(
        Trigger::Times(1),
        XiaomiFault::Latency(Duration::from_secs(3)),
    );

    let body = json!({"message": c2c("alice", "bob", "slow"), "recipients": [{"user_id": "bob"}]});
    let slow = h.post_message("slow", body);
    let probe = async {
        // Once the vendor has the request, the POST above is waiting for it, holding the slot.
        while h.sims.xiaomi.request_count() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let busy = h
            .call(Method::GET, "/v1/apps/demo/users/bob/devices", None)
            .await;
        let health = h.send(Method::GET, "/readyz", None, &[], None).await;
        (busy, health)
    };
    let (slow, (busy, health)) = tokio::join!(slow, probe);
    assert_problem(&busy, 503, "overloaded");
    assert_eq!(busy.retry_after.as_deref(), Some("1"));
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(slow.status, StatusCode::ACCEPTED);
    assert_eq!(devices_of(&slow.body, "bob")[0]["state"], "delivered");
    let after = h
        .call(Method::GET, "/v1/apps/demo/users/bob/devices", None)
        .await;
    assert_eq!(after.status, StatusCode::OK);
}
