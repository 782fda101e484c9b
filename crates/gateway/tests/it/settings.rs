//! Per-user push settings: read back exactly as set.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn settings_read_back_exactly_as_set() {
    let h = Harness::start().await;
    let path = "/v1/apps/demo/users/alice/settings";
    let a = h.call(Method::GET, path, None).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!({})));

    let set =
        json!({"enabled": false, "c2c_sound": "android.resource://com.example.chat/raw/ding"});
    let a = h.call(Method::PUT, path, Some(set.clone())).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = h.call(Method::GET, path, None).await;
    assert_eq!(a.body, set);

    // PUT replaces: what is left out is unset again (the system default).
    let a = h
        .call(
            Method::PUT,
            path,
            Some(json!({"group_sound": "android.resource://com.example.chat/raw/pop"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = h.call(Method::GET, path, None).await;
    assert_eq!(
        a.body,
        json!({"group_sound": "android.resource://com.example.chat/raw/pop"})
    );
}
