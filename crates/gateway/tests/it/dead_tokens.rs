//! A token the vendor reports dead leaves the registry (through the hygiene layer) and appears
//! in the dead-token feed.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, c2c, devices_of};

#[tokio::test]
async fn a_dead_token_leaves_the_registry_and_enters_the_feed() {
    let h = Harness::start().await;
    h.device("bob", "old-phone", "xiaomi", "regid-dead").await;
    h.device("bob", "new-phone", "huawei", "hw-alive").await;
    h.sims.xiaomi.unregister(["regid-dead"]);

    let a = h
        .post_message(
            "d1",
            json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    // Devices are listed by device id.
    let devices = devices_of(&a.body, "bob");
    assert_eq!(devices[0]["device_id"], "new-phone");
    assert_eq!(devices[0]["state"], "delivered");
    assert_eq!(devices[1]["device_id"], "old-phone");
    assert_eq!(devices[1]["state"], "dead", "{:#}", a.body);
    assert_eq!(devices[1]["last_outcome"], "invalid_token");
    assert_eq!(devices[1]["last_reason"], "20301", "{:#}", a.body);

    let list = h
        .call(Method::GET, "/v1/apps/demo/users/bob/devices", None)
        .await;
    let ids: Vec<_> = list.body["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["device_id"].clone())
        .collect();
    assert_eq!(ids, [json!("new-phone")]);

    let feed = h
        .call(Method::GET, "/v1/apps/demo/dead-tokens?after=0", None)
        .await;
    assert_eq!(feed.status, StatusCode::OK);
    let items = feed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["token"], "regid-dead");
    assert_eq!(items[0]["user_id"], "bob");
    assert_eq!(items[0]["device_id"], "old-phone");
    assert_eq!(items[0]["kind"], "xiaomi");
    assert_eq!(items[0]["removed"], true);
    let cursor = feed.body["next_cursor"].as_i64().expect("cursor");
    let after = h
        .call(
            Method::GET,
            &format!("/v1/apps/demo/dead-tokens?after={cursor}"),
            None,
        )
        .await;
    assert_eq!(after.body, json!({"items": [], "next_cursor": cursor}));

    // The other app's feed is its own.
    let other = h
        .send(
            Method::GET,
            "/v1/apps/other/dead-tokens",
            Some(crate::support::OTHER_KEY),
            &[],
            None,
        )
        .await;
    assert_eq!(other.body["items"], json!([]));
}
