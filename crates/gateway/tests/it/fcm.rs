//! FCM devices: registered with kind `fcm`, delivered through the demo app's FCM credential
//! (the FCM simulator over TLS), dead tokens removed by hygiene; check names the wrong key.

use pushway_gateway::config::{AppConfig, Config, FcmConfig, Secret};
use pushway_mock::fcm::{TestServiceAccount, TokenState};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, c2c, devices_of};

const TOKEN: &str = "dGVzdC1mY20:APA91bH-bob-pixel";
const DEAD: &str = "dGVzdC1mY20:APA91bH-bob-old-pixel";

#[tokio::test]
async fn an_fcm_device_gets_its_push() {
    let h = Harness::start().await;
    h.device("bob", "pixel", "fcm", TOKEN).await;
    let list = h
        .call(Method::GET, "/v1/apps/demo/users/bob/devices", None)
        .await;
    assert_eq!(list.body["devices"][0]["kind"], "fcm", "{:#}", list.body);
    assert_eq!(list.body["devices"][0]["credential"], "demo");

    let body = json!({"message": c2c("alice", "bob", "Are we still on for 7?"),
                      "recipients": [{"user_id": "bob", "unread": 2}]});
    let a = h.post_message("f1", body).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let bob = devices_of(&a.body, "bob");
    assert_eq!(bob[0]["device_id"], "pixel");
    assert_eq!(bob[0]["kind"], "fcm");
    assert_eq!(bob[0]["state"], "delivered", "{:#}", a.body);
    assert_eq!(bob[0]["attempts"], 1);

    let sent = h.sims.fcm.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].request.method, "POST");
    assert_eq!(
        sent[0].request.path,
        "/v1/projects/pushway-test/messages:send"
    );
    assert_eq!(
        sent[0].json(),
        json!({"message": {
            "data": {"conversation_id": "alice", "conversation_type": "c2c", "sender_id": "alice"},
            "android": {
                // The message has no TTL: the gateway's own deadline applies, FCM's default.
                "priority": "HIGH",
                "notification": {
                    "title": "alice",
                    "body": "Are we still on for 7?",
                    "channel_id": "im_messages",
                    "default_sound": true,
                    "tag": "c2c:alice",
                    "notification_count": 2
                }
            },
            "token": TOKEN
        }})
    );
    // One access token, obtained with the test service account's assertion.
    assert_eq!(h.sims.fcm.token_request_count(), 1);
    let assertion = &h.sims.fcm.token_assertions()[0];
    assert_eq!(
        assertion.claims["iss"],
        TestServiceAccount::new().client_email()
    );
}

#[tokio::test]
async fn an_unregistered_fcm_token_leaves_the_registry_and_enters_the_feed() {
    let h = Harness::start().await;
    h.device("bob", "pixel", "fcm", TOKEN).await;
    h.device("bob", "old-pixel", "fcm", DEAD).await;
    h.sims.fcm.set_token_state(DEAD, TokenState::Unregistered);

    let body = json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]});
    let a = h.post_message("f2", body).await;
    let bob = devices_of(&a.body, "bob");
    assert_eq!(bob[0]["device_id"], "old-pixel");
    assert_eq!(bob[0]["state"], "dead", "{:#}", a.body);
    assert_eq!(bob[0]["last_outcome"], "invalid_token");
    assert_eq!(bob[0]["last_reason"], "UNREGISTERED");
    assert_eq!(bob[1]["device_id"], "pixel");
    assert_eq!(bob[1]["state"], "delivered");
    let answered: Vec<_> = h
        .sims
        .fcm
        .requests()
        .iter()
        .map(|r| (r.json()["message"]["token"].clone(), r.status()))
        .collect();
    assert_eq!(answered.len(), 2);
    assert!(answered.contains(&(json!(DEAD), Some(404))), "{answered:?}");
    assert!(
        answered.contains(&(json!(TOKEN), Some(200))),
        "{answered:?}"
    );

    let list = h
        .call(Method::GET, "/v1/apps/demo/users/bob/devices", None)
        .await;
    let ids: Vec<_> = list.body["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["device_id"].clone())
        .collect();
    assert_eq!(ids, [json!("pixel")]);
    let feed = h.call(Method::GET, "/v1/apps/demo/dead-tokens", None).await;
    let items = feed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{:#}", feed.body);
    assert_eq!(items[0]["token"], DEAD);
    assert_eq!(items[0]["kind"], "fcm");
    assert_eq!(items[0]["device_id"], "old-pixel");
    assert_eq!(items[0]["removed"], true);
    assert_eq!(items[0]["reason"], "UNREGISTERED");
}

/// A credential whose service account the token endpoint refuses (`invalid_grant`) gets `auth`
/// and pauses its own route, like the other vendors': its rows are held, not tried again while
/// paused, and the app's other FCM credential still delivers.
#[tokio::test]
async fn a_refused_fcm_service_account_pauses_only_its_route() {
    let h = Harness::start_with(|config, sims| {
        let app = config.apps.get_mut("demo").expect("demo app");
        let mut untrusted = fcm_config();
        // pushway-fcm's own test key: a valid key file the simulator does not trust.
        untrusted.service_account_file = Some(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fcm/tests/fixtures/test-service-account.json"
            )
            .into(),
        );
        untrusted.project_id = Some("pushway-test".to_owned());
        untrusted.api_base_url = Some(sims.fcm.base_url());
        untrusted.token_url = Some(sims.fcm.token_url());
        untrusted.ca_cert_pem = sims.fcm.cert_pem().map(str::to_owned);
        app.fcm.insert("untrusted".to_owned(), untrusted);
    })
    .await;
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/bob/devices/pixel",
            Some(json!({"kind": "fcm", "credential": "untrusted", "token": TOKEN})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    h.device("carol", "pixel", "fcm", DEAD).await;

    let body = |text: &str| json!({"message": c2c("alice", "bob", text), "recipients": [{"user_id": "bob"}, {"user_id": "carol"}]});
    let a = h.post_message("r1", body("one")).await;
    let bob = &devices_of(&a.body, "bob")[0];
    assert_eq!(bob["state"], "retrying", "{:#}", a.body);
    assert_eq!(bob["last_outcome"], "auth");
    assert_eq!(bob["last_reason"], "invalid_grant");
    assert_eq!(devices_of(&a.body, "carol")[0]["state"], "delivered");
    let tokens_before = h.sims.fcm.token_request_count();

    let b = h.post_message("r2", body("two")).await;
    assert_eq!(b.body["settled"], false);
    let bob = &devices_of(&b.body, "bob")[0];
    assert_eq!(bob["state"], "pending", "{:#}", b.body);
    assert_eq!(bob["attempts"], 0);
    assert!(
        bob["route_paused"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("auth")),
        "{:#}",
        b.body
    );
    assert_eq!(devices_of(&b.body, "carol")[0]["state"], "delivered");
    // The paused route asked for no token; only carol's two pushes reached messages:send.
    assert_eq!(h.sims.fcm.token_request_count(), tokens_before);
    let sent: Vec<_> = h
        .sims
        .fcm
        .requests()
        .iter()
        .map(|r| r.json()["message"]["token"].clone())
        .collect();
    assert_eq!(sent, [json!(DEAD), json!(DEAD)]);
}

fn with_fcm(fcm: FcmConfig) -> Config {
    let mut app = AppConfig::default();
    app.fcm.insert("main".to_owned(), fcm);
    let mut config = Config::default();
    config.apps.insert("chat".to_owned(), app);
    config
}

fn fcm_config() -> FcmConfig {
    let mut fcm = FcmConfig::default();
    fcm.channel_id = "im_messages".to_owned();
    fcm
}

#[test]
fn check_accepts_a_key_file_and_lists_the_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("firebase.json");
    std::fs::write(&path, TestServiceAccount::new().key_file_json()).expect("write");
    let mut fcm = fcm_config();
    fcm.service_account_file = Some(path);
    let lines = pushway_gateway::check(&with_fcm(fcm)).expect("accepted");
    assert_eq!(lines, ["app chat: 0 API key(s), channels: fcm/main"]);
}

#[test]
fn check_names_the_wrong_key_and_never_shows_the_private_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let account = TestServiceAccount::new();
    let mut file: serde_json::Value = serde_json::from_str(account.key_file_json()).expect("json");
    // A key file whose private key is cut short: readable JSON, unusable key.
    let pem = account.private_key_pem();
    let cut = &pem[..pem.len() / 2];
    file["private_key"] = json!(cut);
    let body = &cut[cut.len() - 40..];
    let path = dir.path().join("firebase.json");
    std::fs::write(&path, file.to_string()).expect("write");

    let mut fcm = fcm_config();
    fcm.service_account_file = Some(path.clone());
    let error = pushway_gateway::check(&with_fcm(fcm))
        .expect_err("refused")
        .to_string();
    assert!(
        error.starts_with(
            "apps.chat.fcm.main.service_account_file: invalid FCM service-account key: \
             private_key is not an RSA PKCS#8 PEM key"
        ),
        "{error}"
    );
    assert!(!error.contains(body), "{error}");

    // The same key inline: the inline key is named.
    let mut fcm = fcm_config();
    fcm.service_account = Some(Secret::new(file.to_string()));
    let error = pushway_gateway::check(&with_fcm(fcm))
        .expect_err("refused")
        .to_string();
    assert!(
        error.starts_with("apps.chat.fcm.main.service_account: invalid FCM service-account key"),
        "{error}"
    );
    assert!(!error.contains(body), "{error}");

    // Not JSON at all, a missing file, and no key.
    std::fs::write(&path, "-----BEGIN PRIVATE KEY-----").expect("write");
    let mut fcm = fcm_config();
    fcm.service_account_file = Some(path);
    let error = pushway_gateway::check(&with_fcm(fcm))
        .expect_err("refused")
        .to_string();
    assert!(
        error.starts_with(
            "apps.chat.fcm.main.service_account_file: invalid FCM service-account key: key file: "
        ),
        "{error}"
    );
    let mut fcm = fcm_config();
    fcm.service_account_file = Some(dir.path().join("missing.json"));
    let error = pushway_gateway::check(&with_fcm(fcm))
        .expect_err("refused")
        .to_string();
    assert!(
        error.starts_with(&format!(
            "apps.chat.fcm.main.service_account_file: {}",
            dir.path().join("missing.json").display()
        )),
        "{error}"
    );
    let error = pushway_gateway::check(&with_fcm(fcm_config()))
        .expect_err("refused")
        .to_string();
    assert_eq!(
        error,
        "apps.chat.fcm.main.service_account: service_account or service_account_file is required"
    );
}
