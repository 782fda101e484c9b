//! Bad input: the documented 4xx problem, nothing stored, never a 5xx.

use reqwest::Method;
use serde_json::json;

use crate::support::{Harness, KEY, OTHER_KEY, assert_problem, c2c};

const MESSAGES: &str = "/v1/apps/demo/messages";

async fn post(h: &Harness, key: Option<&str>, body: &str) -> crate::support::Answer {
    h.send(
        Method::POST,
        MESSAGES,
        key,
        &[("idempotency-key", "bad")],
        Some(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn bad_messages_are_refused_and_nothing_is_stored() {
    let h = Harness::start_with(|config, _| config.server.body_limit_bytes = 4096).await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    let good = json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]});

    assert_problem(
        &post(&h, Some(KEY), "{\"message\": ").await,
        400,
        "malformed-json",
    );
    assert_problem(
        &post(&h, Some(KEY), "not json").await,
        400,
        "malformed-json",
    );
    assert_problem(&post(&h, Some(KEY), " [1, ").await, 400, "malformed-json");
    // The body's fields in order, as an array: an object is what the API reads.
    let fields = json!([c2c("alice", "bob", "hi"), [{"user_id": "bob"}]]);
    let a = post(&h, Some(KEY), &fields.to_string()).await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], ".");

    let mut wrong_type = good.clone();
    wrong_type["recipients"][0]["unread"] = json!("three");
    let a = post(&h, Some(KEY), &wrong_type.to_string()).await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "recipients[0].unread");

    let mut unknown = good.clone();
    unknown["priority"] = json!("high");
    let a = post(&h, Some(KEY), &unknown.to_string()).await;
    assert_problem(&a, 422, "invalid-field");

    let mut unknown_inner = good.clone();
    unknown_inner["message"]["colour"] = json!("red");
    let a = post(&h, Some(KEY), &unknown_inner.to_string()).await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "message.colour");

    // A key repeated anywhere in the message is refused, as at the top level: not the last
    // value silently kept (here the sender a proxy checking the first one would not see).
    let body = good.to_string().replacen(
        "\"user_id\":\"alice\"",
        "\"user_id\":\"alice\",\"user_id\":\"mallory\"",
        1,
    );
    assert!(body.contains("mallory"), "{body}");
    let a = post(&h, Some(KEY), &body).await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "message.sender");
    let detail = a.body["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("duplicate field `user_id`"), "{detail}");
    let repeated_top = good.to_string().replacen('{', "{\"recipients\":[],", 1);
    let a = post(&h, Some(KEY), &repeated_top).await;
    assert_problem(&a, 422, "invalid-field");
    let detail = a.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("duplicate field `recipients`"),
        "{detail}"
    );

    let mut with_id = good.clone();
    with_id["message"]["id"] = json!("mine");
    let a = post(&h, Some(KEY), &with_id.to_string()).await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "message.id");

    let mut bad_element = good.clone();
    bad_element["message"]["elements"][0]["type"] = json!("hologram");
    let a = post(&h, Some(KEY), &bad_element.to_string()).await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "message.elements[0].type");

    let a = post(
        &h,
        Some(KEY),
        &json!({"message": good["message"], "recipients": []}).to_string(),
    )
    .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "recipients");

    let twice =
        json!({"message": good["message"], "recipients": [{"user_id": "bob"}, {"user_id": "bob"}]});
    assert_problem(
        &post(&h, Some(KEY), &twice.to_string()).await,
        422,
        "invalid-field",
    );

    let mut huge = good.clone();
    huge["message"]["elements"][0]["text"] = json!("x".repeat(8192));
    assert_problem(
        &post(&h, Some(KEY), &huge.to_string()).await,
        413,
        "payload-too-large",
    );

    let a = h
        .send(
            Method::POST,
            MESSAGES,
            Some(KEY),
            &[("idempotency-key", "bad"), ("content-type", "text/plain")],
            Some(good.to_string()),
        )
        .await;
    assert_problem(&a, 415, "unsupported-media-type");

    let a = h
        .send(
            Method::POST,
            MESSAGES,
            Some(KEY),
            &[],
            Some(good.to_string()),
        )
        .await;
    assert_problem(&a, 400, "missing-idempotency-key");

    let a = h
        .send(
            Method::POST,
            &format!("{MESSAGES}?wait=forever"),
            Some(KEY),
            &[("idempotency-key", "bad")],
            Some(good.to_string()),
        )
        .await;
    assert_problem(&a, 400, "invalid-query");

    assert_eq!(h.count("messages").await, 0);
    assert_eq!(h.count("deliveries").await, 0);
    assert_eq!(h.sims.xiaomi.request_count(), 0);
}

#[tokio::test]
async fn keys_reach_only_their_own_app() {
    let h = Harness::start().await;
    let good = json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]})
        .to_string();
    let a = post(&h, None, &good).await;
    assert_problem(&a, 401, "unauthorized");
    assert_problem(
        &post(&h, Some("pw_wrong"), &good).await,
        401,
        "unauthorized",
    );
    assert_problem(&post(&h, Some(OTHER_KEY), &good).await, 403, "forbidden");
    let a = h
        .send(
            Method::POST,
            "/v1/apps/nope/messages",
            Some(KEY),
            &[("idempotency-key", "x")],
            Some(good.clone()),
        )
        .await;
    assert_problem(&a, 404, "unknown-app");
    let a = h
        .send(
            Method::PUT,
            "/v1/apps/other/users/u/devices/d",
            Some(KEY),
            &[],
            Some(json!({"kind": "xiaomi", "credential": "demo", "token": "t"}).to_string()),
        )
        .await;
    assert_problem(&a, 403, "forbidden");
    let a = h
        .send(
            Method::GET,
            "/v1/apps/demo/users/u/settings",
            Some(OTHER_KEY),
            &[],
            None,
        )
        .await;
    assert_problem(&a, 403, "forbidden");

    assert_problem(
        &h.call(Method::GET, "/v1/nothing-here", None).await,
        404,
        "not-found",
    );
    let a = h
        .call(Method::GET, "/v1/apps/demo/users/%FF/devices", None)
        .await;
    assert_problem(&a, 400, "invalid-path");
    // The scheme is case-insensitive; the key is not.
    let lower = format!("bearer {KEY}");
    let a = h
        .send(
            Method::GET,
            "/v1/apps/demo/users/u/settings",
            None,
            &[("authorization", &lower)],
            None,
        )
        .await;
    assert_eq!(a.status.as_u16(), 200);
    let upper = format!("Bearer {}", KEY.to_uppercase());
    let a = h
        .send(
            Method::GET,
            "/v1/apps/demo/users/u/settings",
            None,
            &[("authorization", &upper)],
            None,
        )
        .await;
    assert_problem(&a, 401, "unauthorized");
    assert_problem(
        &h.call(Method::DELETE, MESSAGES, None).await,
        405,
        "method-not-allowed",
    );
    assert_eq!(h.count("messages").await, 0);
    assert_eq!(h.count("devices").await, 0);
}

#[tokio::test]
async fn bad_devices_and_settings_are_refused() {
    let h = Harness::start().await;
    let path = "/v1/apps/demo/users/alice/devices/phone";
    let a = h
        .call(
            Method::PUT,
            path,
            Some(json!({"kind": "xiaomi", "credential": "demo"})),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    let a = h
        .call(
            Method::PUT,
            path,
            Some(json!({"kind": "nokia", "credential": "demo", "token": "t"})),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "kind");
    let a = h
        .call(
            Method::PUT,
            path,
            Some(json!({"kind": "xiaomi", "credential": "demo", "token": "has space"})),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "token");
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/alice/settings",
            Some(json!({"enabled": "yes"})),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "enabled");
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/alice/settings",
            Some(json!({"volume": 3})),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    // Arrays of the fields in order are not the objects documented (`[]` was settings with
    // every field unset, which would have cleared a user's settings).
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/alice/settings",
            Some(json!([])),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], ".");
    let a = h
        .call(Method::PUT, path, Some(json!(["xiaomi", "demo", "regid"])))
        .await;
    assert_problem(&a, 422, "invalid-field");
    // A map's repeated key is refused too (a map would keep the last: here "receive").
    let a = h
        .send(
            Method::PUT,
            "/v1/apps/demo/users/alice/settings",
            Some(KEY),
            &[],
            Some(
                r#"{"receive": {"peers": {"mallory": "not_receive", "mallory": "receive"}}}"#
                    .to_owned(),
            ),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "receive.peers");
    let detail = a.body["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("duplicate field `mallory`"), "{detail}");
    assert_eq!(h.count("devices").await, 0);
    assert_eq!(h.count("user_settings").await, 0);
    let a = h
        .call(Method::GET, "/v1/apps/demo/dead-tokens?limit=0", None)
        .await;
    assert_problem(&a, 400, "invalid-query");
}

#[tokio::test]
async fn health_endpoints_answer() {
    let h = Harness::start().await;
    let a = h.send(Method::GET, "/livez", None, &[], None).await;
    assert_eq!(a.body, json!({"status": "ok"}));
    let a = h.send(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!(a.body, json!({"status": "ready"}));
}
