//! The admin listener: its own address and key; app keys do not reach it, nor does its key
//! reach `/v1`.

use pushway_gateway::auth::{hash_key, hex};
use pushway_gateway::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Answer, Harness, KEY, assert_problem};

pub const ADMIN_KEY: &str = "pw_test_admin_key";

/// Turns the admin listener on, on a free port, with [`ADMIN_KEY`].
pub fn with_admin(config: &mut Config) {
    config.admin.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin.key_sha256 = Some(hex(&hash_key(ADMIN_KEY)));
}

/// A request to the admin listener with `key` as the bearer key.
pub async fn admin_call(
    h: &Harness,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<serde_json::Value>,
) -> (Answer, reqwest::header::HeaderMap) {
    let base = h.admin_base().expect("admin listener runs");
    let mut request = h.http.request(method, format!("{base}{path}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("body");
    let answer = Answer {
        status,
        content_type,
        retry_after: None,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    };
    (answer, headers)
}

#[tokio::test]
async fn the_admin_api_takes_the_admin_key_only() {
    let h = Harness::start_with(|config, _| with_admin(config)).await;
    assert_ne!(h.admin_base(), Some(h.base.clone()));
    for key in [None, Some(KEY), Some("pw_test_admin_keY"), Some("")] {
        let (a, headers) = admin_call(&h, Method::GET, "/admin/v1/apps", key, None).await;
        assert_problem(&a, 401, "unauthorized");
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    let (a, headers) = admin_call(&h, Method::GET, "/admin/v1/apps", Some(ADMIN_KEY), None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body,
        json!([
            {"id": "demo", "channels": ["apns_production/demo", "apns_sandbox/demo", "fcm/demo", "huawei/demo", "xiaomi/demo"]},
            {"id": "other", "channels": []}
        ])
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .is_ok_and(|csp| csp.starts_with("default-src 'none';"))
    );
    // The admin key is no app key.
    let a = h
        .send(
            Method::GET,
            "/v1/apps/demo/dead-tokens",
            Some(ADMIN_KEY),
            &[],
            None,
        )
        .await;
    assert_problem(&a, 401, "unauthorized");
    // The API's routes are not on the admin listener, nor the admin's on the API's.
    let (a, _) = admin_call(
        &h,
        Method::GET,
        "/v1/apps/demo/dead-tokens",
        Some(KEY),
        None,
    )
    .await;
    assert_problem(&a, 404, "not-found");
    let a = h
        .send(Method::GET, "/admin/v1/apps", Some(ADMIN_KEY), &[], None)
        .await;
    assert_problem(&a, 404, "not-found");
}

#[tokio::test]
async fn without_an_admin_key_the_listener_is_off() {
    let h = Harness::start_with(|config, _| {
        config.admin.listen = "127.0.0.1:0".parse().expect("addr");
    })
    .await;
    assert_eq!(h.admin_base(), None);
    let h = Harness::start_with(|config, _| {
        with_admin(config);
        config.admin.enabled = false;
    })
    .await;
    assert_eq!(h.admin_base(), None);
}

/// The credential and key routes are on the admin listener behind the admin key: an API key
/// added there reaches the app's API at once, and a reload of the configuration the gateway
/// started with takes it away again.
#[tokio::test]
async fn credentials_and_keys_change_on_the_admin_listener_with_the_admin_key_only() {
    let h = Harness::start_with(|config, _| with_admin(config)).await;
    let body = json!({"sha256": hex(&hash_key("pw_added_key"))});
    for key in [None, Some(KEY)] {
        let (a, _) = admin_call(
            &h,
            Method::PUT,
            "/admin/v1/apps/demo/api-keys/added",
            key,
            Some(body.clone()),
        )
        .await;
        assert_problem(&a, 401, "unauthorized");
    }
    let reach = |key: &'static str| {
        let h = &h;
        async move {
            h.send(
                Method::GET,
                "/v1/apps/demo/dead-tokens",
                Some(key),
                &[],
                None,
            )
            .await
            .status
        }
    };
    assert_eq!(reach("pw_added_key").await, StatusCode::UNAUTHORIZED);
    let (a, _) = admin_call(
        &h,
        Method::PUT,
        "/admin/v1/apps/demo/api-keys/added",
        Some(ADMIN_KEY),
        Some(body),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        a.body,
        json!({"app": "demo", "item": "api_key/added", "change": "added"})
    );
    assert_eq!(reach("pw_added_key").await, StatusCode::OK);
    let (a, _) = admin_call(&h, Method::POST, "/admin/v1/reload", Some(ADMIN_KEY), None).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(reach("pw_added_key").await, StatusCode::UNAUTHORIZED);
    assert_eq!(reach(KEY).await, StatusCode::OK);
}
