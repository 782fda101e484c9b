//! Idempotency-Key: the same request again returns the same id and adds nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, assert_problem, c2c, devices_of};

#[tokio::test]
async fn the_same_key_returns_the_same_message_and_adds_nothing() {
    let h = Harness::start().await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    let body = json!({"message": c2c("alice", "bob", "once"), "recipients": [{"user_id": "bob"}]});
    let first = h.post_message("k1", body.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(devices_of(&first.body, "bob")[0]["state"], "delivered");
    let again = h.post_message("k1", body.clone()).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["message_id"], first.body["message_id"]);
    assert_eq!(h.count("messages").await, 1);
    assert_eq!(h.count("deliveries").await, 1);
    assert_eq!(h.sims.xiaomi.request_count(), 1);

    // The same key for another request is refused, and stores nothing.
    let other =
        json!({"message": c2c("alice", "bob", "twice"), "recipients": [{"user_id": "bob"}]});
    let a = h.post_message("k1", other).await;
    assert_problem(&a, 409, "idempotency-key-reused");
    assert_eq!(h.count("messages").await, 1);

    // Keys are per app: the other app's key space is its own (and it has no such message).
    let a = h
        .send(
            Method::GET,
            &format!(
                "/v1/apps/other/messages/{}",
                first.body["message_id"].as_str().unwrap_or("")
            ),
            Some(crate::support::OTHER_KEY),
            &[],
            None,
        )
        .await;
    assert_problem(&a, 404, "unknown-message");
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_message() {
    let h = Harness::start().await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    let body = json!({"message": c2c("alice", "bob", "race"), "recipients": [{"user_id": "bob"}]});
    let (a, b) = tokio::join!(
        h.post_message("same", body.clone()),
        h.post_message("same", body)
    );
    assert_eq!(
        (a.status, b.status),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(a.body["message_id"], b.body["message_id"]);
    assert_eq!(h.count("messages").await, 1);
    assert_eq!(h.count("deliveries").await, 1);
}
