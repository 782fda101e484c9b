//! Devices: register, update, list, move, remove; login states.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, assert_problem};

#[tokio::test]
async fn register_update_list_and_remove() {
    let h = Harness::start().await;
    let path = "/v1/apps/demo/users/alice/devices/phone";
    let body =
        json!({"kind": "xiaomi", "credential": "demo", "token": "regid-1", "locale": "en-US"});
    let a = h.call(Method::PUT, path, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["device_id"], "phone");
    assert_eq!(a.body["kind"], "xiaomi");
    assert_eq!(a.body["token"], "regid-1");
    assert_eq!(a.body["locale"], "en-US");
    assert_eq!(a.body["login"], "logged_in");

    let update =
        json!({"kind": "apns", "apns_env": "production", "credential": "demo", "token": "ab12"});
    let a = h.call(Method::PUT, path, Some(update)).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["kind"], "apns");
    assert_eq!(a.body["apns_env"], "production");
    assert!(a.body.get("locale").is_none());

    let list = h
        .call(Method::GET, "/v1/apps/demo/users/alice/devices", None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let devices = list.body["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["token"], "ab12");

    let a = h.call(Method::DELETE, path, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = h.call(Method::DELETE, path, None).await;
    assert_problem(&a, 404, "unknown-device");
    let list = h
        .call(Method::GET, "/v1/apps/demo/users/alice/devices", None)
        .await;
    assert_eq!(list.body["devices"], json!([]));
}

#[tokio::test]
async fn a_token_registered_for_another_user_moves_there() {
    let h = Harness::start().await;
    h.device("alice", "phone", "huawei", "hw-token").await;
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/bob/devices/phone-b",
            Some(json!({"kind": "huawei", "credential": "demo", "token": "hw-token"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        a.body["moved_from"],
        json!([{"user_id": "alice", "device_id": "phone"}])
    );
    let alice = h
        .call(Method::GET, "/v1/apps/demo/users/alice/devices", None)
        .await;
    assert_eq!(alice.body["devices"], json!([]));
    let bob = h
        .call(Method::GET, "/v1/apps/demo/users/bob/devices", None)
        .await;
    assert_eq!(bob.body["devices"][0]["token"], "hw-token");
}

#[tokio::test]
async fn credentials_and_kinds_are_checked() {
    let h = Harness::start().await;
    let path = "/v1/apps/demo/users/alice/devices/phone";
    let a = h
        .call(
            Method::PUT,
            path,
            Some(json!({"kind": "xiaomi", "credential": "nope", "token": "t"})),
        )
        .await;
    assert_problem(&a, 422, "unknown-credential");
    let a = h
        .call(
            Method::PUT,
            path,
            Some(json!({"kind": "daemon", "credential": "demo", "token": "t"})),
        )
        .await;
    assert_problem(&a, 422, "unsupported-token-kind");
    let a = h
        .call(
            Method::PUT,
            path,
            Some(json!({"kind": "apns", "credential": "demo", "token": "t"})),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "apns_env");
    assert_eq!(h.count("devices").await, 0);
}

#[tokio::test]
async fn login_states_per_device_and_logout_of_all() {
    let h = Harness::start().await;
    h.device("alice", "a1", "xiaomi", "r1").await;
    h.device("alice", "a2", "huawei", "h2").await;
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/a1/kicked",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let list = h
        .call(Method::GET, "/v1/apps/demo/users/alice/devices", None)
        .await;
    assert_eq!(list.body["devices"][0]["login"], "kicked");
    assert_eq!(list.body["devices"][1]["login"], "logged_in");

    let a = h
        .call(Method::POST, "/v1/apps/demo/users/alice/logout", None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["logged_out"], 2);
    let list = h
        .call(Method::GET, "/v1/apps/demo/users/alice/devices", None)
        .await;
    assert_eq!(list.body["devices"][0]["login"], "logged_out");
    assert_eq!(list.body["devices"][1]["login"], "logged_out");

    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/a2/login",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let list = h
        .call(Method::GET, "/v1/apps/demo/users/alice/devices", None)
        .await;
    assert_eq!(list.body["devices"][1]["login"], "logged_in");
    // Re-registering does not log a device back in.
    h.device("alice", "a1", "xiaomi", "r1").await;
    let list = h
        .call(Method::GET, "/v1/apps/demo/users/alice/devices", None)
        .await;
    assert_eq!(list.body["devices"][0]["login"], "logged_out");
}
