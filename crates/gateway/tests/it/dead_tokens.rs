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

#[tokio::test]
async fn an_apns_token_re_registered_after_the_vendors_since_is_kept() {
    const OLD: &str = "0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829";
    const GONE: &str = "2a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243444546474849";
    let h = Harness::start().await;
    h.device("erin", "phone", "apns", OLD).await;
    h.device("frank", "phone", "apns", GONE).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let script = h.sims.apns.script();
    // Erin's token died an hour ago, but she registered it again since: the app is back.
    script.unregister_token(OLD, now - 3_600_000);
    // Frank's died after he registered it.
    script.unregister_token(GONE, now + 3_600_000);

    let recipients = json!([{"user_id": "erin"}, {"user_id": "frank"}]);
    let a = h
        .post_message(
            "apns",
            json!({"message": c2c("alice", "erin", "hi"), "recipients": recipients}),
        )
        .await;
    assert_eq!(
        devices_of(&a.body, "erin")[0]["state"],
        "dead",
        "{:#}",
        a.body
    );
    assert_eq!(
        devices_of(&a.body, "erin")[0]["last_reason"],
        "Unregistered"
    );
    assert_eq!(devices_of(&a.body, "frank")[0]["state"], "dead");
    assert_eq!(devices_of(&a.body, "frank")[0]["kind"], "apns");
    assert_eq!(devices_of(&a.body, "frank")[0]["apns_env"], "sandbox");

    let erin = h
        .call(Method::GET, "/v1/apps/demo/users/erin/devices", None)
        .await;
    assert_eq!(erin.body["devices"][0]["token"], OLD);
    let frank = h
        .call(Method::GET, "/v1/apps/demo/users/frank/devices", None)
        .await;
    assert_eq!(frank.body["devices"], json!([]));
    let feed = h.call(Method::GET, "/v1/apps/demo/dead-tokens", None).await;
    let removed: Vec<_> = feed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["token"].as_str().unwrap_or("").to_owned(),
                i["removed"].clone(),
            )
        })
        .collect();
    assert_eq!(removed.len(), 2);
    assert_eq!(feed.body["items"][0]["kind"], "apns");
    assert_eq!(feed.body["items"][0]["apns_env"], "sandbox");
    assert!(removed.contains(&(OLD.to_owned(), json!(false))));
    assert!(removed.contains(&(GONE.to_owned(), json!(true))));
}
