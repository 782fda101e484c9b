//! Credentials and API keys changed while the gateway runs: rotated under load with no send
//! failing, bad ones refused with the old one serving, API keys swapped, held rows resumed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pushway_gateway::app::{CredentialConfig, CredentialKind};
use pushway_gateway::auth::{hash_key, hex};
use pushway_gateway::config::{AppConfig, Secret, XiaomiConfig};
use pushway_gateway::service::{Change, ChangeError, Changed};
use pushway_mock::apns::TestKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, KEY, OTHER_KEY, assert_problem, c2c, devices_of};

const APNS_TOKEN: &str = "8f3a9c2d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566778899aabbccd";
const OLD_KID: &str = "K7Q2M9X4PL";
const NEW_KID: &str = "N3WK3Y5678";
const NEW_HUAWEI_SECRET: &str = "rotated-huawei-client-secret";

fn to_bob(text: &str) -> Value {
    json!({"message": c2c("alice", "bob", text), "recipients": [{"user_id": "bob"}]})
}

fn demo(h: &Harness) -> AppConfig {
    h.config().apps["demo"].clone()
}

/// Puts `config` as the demo app's credential "demo" of its kind, through the service.
async fn put_demo(h: &Harness, config: CredentialConfig) -> Result<Changed, ChangeError> {
    let kind = config.kind();
    h.gateway()
        .service()
        .put_credential("demo", kind, "demo", config)
        .await
}

/// Puts `config` as in [`put_demo`], which must refuse it: what was refused, and why.
async fn refused(h: &Harness, config: CredentialConfig) -> (String, String) {
    match put_demo(h, config).await {
        Err(ChangeError::Refused { what, reason }) => (what, reason),
        other => panic!("refused, not {other:?}"),
    }
}

/// Bob with an iPhone (APNs sandbox) and a Huawei phone; one message delivered to both, so the
/// Huawei provider holds an access token of the old secret.
async fn bob_with_two_phones(h: &Harness) {
    h.device("bob", "ios", "apns", APNS_TOKEN).await;
    h.device("bob", "hw", "huawei", "hw-bob").await;
    let a = h.post_message("warm-up", to_bob("warm-up")).await;
    assert_eq!(a.body["settled"], true, "{:#}", a.body);
    assert_eq!(h.sims.huawei.issued_tokens(), 1);
}

/// Waits for every message of `ids` to be delivered to both of bob's devices, and checks each
/// took exactly one attempt (nothing failed and was retried).
async fn all_delivered_once(h: &Harness, ids: &[String]) {
    for id in ids {
        let status = h
            .status_until(id, |s| {
                devices_of(s, "bob")
                    .as_array()
                    .is_some_and(|d| d.len() == 2 && d.iter().all(|d| d["state"] == "delivered"))
            })
            .await;
        for device in devices_of(&status, "bob").as_array().into_iter().flatten() {
            assert_eq!(device["attempts"], 1, "{id}: {device:#}");
        }
    }
}

/// Provider tokens' `kid`s of the APNs requests, counted: (old key, new key).
fn apns_requests_by_key(h: &Harness) -> (usize, usize) {
    let kid = |kid: &str| {
        h.sims
            .apns
            .requests()
            .iter()
            .filter(|r| r.jwt.as_ref().is_some_and(|j| j.header["kid"] == kid))
            .count()
    };
    (kid(OLD_KID), kid(NEW_KID))
}

#[tokio::test]
async fn an_apns_key_and_a_huawei_secret_rotate_under_load_and_no_send_fails() {
    let h = Harness::start().await;
    bob_with_two_phones(&h).await;
    let demo = demo(&h);
    // The vendor side first, as an operator does it: Apple accepts both keys until the old one
    // is revoked; Huawei's reset secret replaces the old one (tokens issued stay valid).
    let new_key = TestKey::generate();
    let team = demo.apns["demo"].team_id.clone();
    h.sims
        .apns
        .script()
        .add_key(new_key.apns_key(&team, NEW_KID));
    let mut apns = demo.apns["demo"].clone();
    apns.key_id = NEW_KID.to_owned();
    apns.key_pem = Some(Secret::new(new_key.private_key_pem()));
    let mut huawei = demo.huawei["demo"].clone();
    huawei.client_secret = Some(Secret::new(NEW_HUAWEI_SECRET));

    const N: usize = 45;
    let posted = AtomicUsize::new(0);
    let poster = async {
        let mut ids = Vec::new();
        for i in 0..N {
            ids.push(
                h.post_nowait(&format!("m{i}"), to_bob(&format!("#{i}")))
                    .await,
            );
            posted.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ids
    };
    let rotator = async {
        while posted.load(Ordering::SeqCst) < N / 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        h.sims
            .huawei
            .set_client_secret(Some(NEW_HUAWEI_SECRET.to_owned()));
        let a = put_demo(&h, CredentialConfig::Apns(apns))
            .await
            .expect("the APNs key rotates");
        let b = put_demo(&h, CredentialConfig::Huawei(huawei))
            .await
            .expect("the Huawei secret rotates");
        (a, b, posted.load(Ordering::SeqCst))
    };
    let (ids, (a, b, at)) = tokio::join!(poster, rotator);
    assert_eq!((a.item.as_str(), a.change), ("apns/demo", Change::Rotated));
    assert_eq!(
        (b.item.as_str(), b.change),
        ("huawei/demo", Change::Rotated)
    );
    assert!(
        at < N,
        "the rotation happened while messages were still being posted ({at})"
    );
    all_delivered_once(&h, &ids).await;

    // The old APNs key revoked: what is sent now can only go with the new key and secret.
    h.sims.apns.script().remove_key(OLD_KID);
    let mut after = Vec::new();
    for i in 0..5 {
        after.push(h.post_nowait(&format!("after{i}"), to_bob("after")).await);
    }
    all_delivered_once(&h, &after).await;

    let total = 1 + N + 5;
    let (old, new) = apns_requests_by_key(&h);
    assert_eq!(
        old + new,
        total,
        "one APNs request per message, none retried"
    );
    assert!(old >= 1 && new >= 5, "old key {old}, new key {new}");
    assert_eq!(h.sims.huawei.delivered(), total as u64);
    // One token of the old secret, one fetched to prove the new one (then used for sends).
    assert_eq!(h.sims.huawei.issued_tokens(), 2);
}

#[tokio::test]
async fn a_bad_new_credential_is_refused_with_its_reason_and_the_old_one_keeps_serving() {
    let h = Harness::start().await;
    bob_with_two_phones(&h).await;
    let demo = demo(&h);

    let mut apns = demo.apns["demo"].clone();
    let garbage =
        "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LWF0LWFsbA==\n-----END PRIVATE KEY-----\n";
    apns.key_pem = Some(Secret::new(garbage));
    let (what, reason) = refused(&h, CredentialConfig::Apns(apns)).await;
    assert_eq!(what, "apns/demo");
    assert_eq!(
        reason,
        "apps.demo.apns.demo: configuration error: APNs provider: bad signing key"
    );
    assert!(!reason.contains("bm90LWEta2V5"), "{reason}");

    let mut huawei = demo.huawei["demo"].clone();
    huawei.client_secret = Some(Secret::new("s3cr3t-but-wr0ng"));
    let (what, reason) = refused(&h, CredentialConfig::Huawei(huawei)).await;
    assert_eq!(what, "huawei/demo");
    assert_eq!(
        reason,
        "apps.demo.huawei.demo: the vendor did not accept it: auth (oauth_12304: invalid client_secret)"
    );
    assert!(!reason.contains("wr0ng"), "{reason}");

    // The old ones serve on: the next message reaches both phones at the first attempt.
    let before = h.sims.apns.request_count();
    let a = h.post_message("after-refusals", to_bob("still here")).await;
    let bob = devices_of(&a.body, "bob");
    assert_eq!(bob[0]["state"], "delivered", "{:#}", a.body);
    assert_eq!(bob[1]["state"], "delivered", "{:#}", a.body);
    assert_eq!(h.sims.apns.request_count(), before + 1);
    // The refused secret got no token; the old provider's token is still the one in use.
    assert_eq!(h.sims.huawei.issued_tokens(), 1);
}

/// The demo app's dead-token feed, read with `key`.
async fn feed(h: &Harness, key: &str) -> crate::support::Answer {
    h.send(
        Method::GET,
        "/v1/apps/demo/dead-tokens",
        Some(key),
        &[],
        None,
    )
    .await
}

#[tokio::test]
async fn an_api_key_rotated_the_old_one_is_refused_and_the_new_one_works() {
    let h = Harness::start().await;
    let service = h.gateway().service();
    let get = |key: &'static str| feed(&h, key);
    const NEW: &str = "pw_rotated_demo_key";
    assert_eq!(get(NEW).await.status, StatusCode::UNAUTHORIZED);

    let added = service
        .put_api_key("demo", "ci", &hex(&hash_key(NEW)))
        .await
        .expect("added");
    assert_eq!(
        (added.item.as_str(), added.change),
        ("api_key/ci", Change::Added)
    );
    assert_eq!(get(NEW).await.status, StatusCode::OK);
    assert_eq!(get(KEY).await.status, StatusCode::OK);

    let removed = service
        .remove_api_key("demo", "demo")
        .await
        .expect("removed");
    assert_eq!(removed.change, Change::Removed);
    assert_problem(&get(KEY).await, 401, "unauthorized");
    assert_eq!(get(NEW).await.status, StatusCode::OK);
    assert_eq!(h.count("api_keys").await, 2, "demo's new key and other's");

    let again = service
        .put_api_key("demo", "ci", &hex(&hash_key(NEW)))
        .await
        .expect("same key again");
    assert_eq!(again.change, Change::Unchanged);
    let e = service
        .put_api_key("other", "stolen", &hex(&hash_key(NEW)))
        .await
        .expect_err("a key reaches one app");
    assert_eq!(
        e.to_string(),
        "api_key/stolen refused: this key already reaches app \"demo\""
    );
    let e = service
        .remove_api_key("demo", "demo")
        .await
        .expect_err("gone already");
    assert_eq!(e.to_string(), "api_key/demo is not configured");
    assert_eq!(get(OTHER_KEY).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_replaced_credential_sends_the_rows_its_paused_route_held_at_once() {
    let wrong_secret = |sims: &pushway_gateway::simulate::Simulators| {
        let mut c = XiaomiConfig::default();
        c.package = "com.example.chat".to_owned();
        c.channel_id = "im_messages".to_owned();
        c.app_secret = Some(Secret::new("not-the-secret"));
        c.base_url = Some(sims.xiaomi.base_url());
        c.danger_allow_plain_http = true;
        c
    };
    let mut fixed = None;
    let h = Harness::start_with(|config, sims| {
        let app = config.apps.get_mut("demo").expect("demo app");
        app.xiaomi.insert("wrong".to_owned(), wrong_secret(sims));
        let mut right = wrong_secret(sims);
        right.app_secret = app.xiaomi["demo"].app_secret.clone();
        fixed = Some(right);
    })
    .await;
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/bob/devices/mi",
            Some(json!({"kind": "xiaomi", "credential": "wrong", "token": "regid-bob"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = h.post_message("held", to_bob("held")).await;
    let row = &devices_of(&a.body, "bob")[0];
    assert_eq!(
        (&row["state"], &row["last_outcome"]),
        (&json!("retrying"), &json!("auth"))
    );
    assert!(row["route_paused"].is_object(), "{row:#}");

    // Paused for a minute (route_pause_ms); the fixed credential sends the held row now.
    let fixed = fixed.expect("built in start_with");
    let changed = h
        .gateway()
        .service()
        .put_credential(
            "demo",
            CredentialKind::Xiaomi,
            "wrong",
            CredentialConfig::Xiaomi(fixed),
        )
        .await
        .expect("the right secret is accepted");
    assert_eq!(changed.change, Change::Rotated);
    let id = a.body["message_id"].as_str().expect("id");
    let status = h
        .status_until(id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    let row = &devices_of(&status, "bob")[0];
    assert_eq!(row["attempts"], 2);
    assert!(row.get("route_paused").is_none(), "{row:#}");
}
