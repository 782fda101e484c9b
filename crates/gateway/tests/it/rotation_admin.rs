//! The admin routes that change credentials and keys (served here on a listener of their own,
//! as the admin listener will), and a reload of a changed configuration, with its report.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::FromRef;
use pushway_gateway::api::admin_credentials::{ConfigSource, routes};
use pushway_gateway::auth::{hash_key, hex};
use pushway_gateway::config::{
    ApiKeyConfig, AppConfig, Config, Secret, WebhookConfig, XiaomiConfig,
};
use pushway_gateway::service::{Change, ChangeReport, Changed, Refused, Service};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, KEY, OTHER_KEY, assert_problem, c2c, devices_of};

#[derive(Clone)]
struct AdminState {
    service: Service,
    source: ConfigSource,
}

impl FromRef<AdminState> for Service {
    fn from_ref(state: &AdminState) -> Service {
        state.service.clone()
    }
}

impl FromRef<AdminState> for ConfigSource {
    fn from_ref(state: &AdminState) -> ConfigSource {
        state.source.clone()
    }
}

/// Serves the admin routes under `/admin` for `h`'s gateway; reloads read `config`.
async fn admin(h: &Harness, config: Arc<Mutex<Config>>) -> String {
    let source = ConfigSource::new(move || Ok(config.lock().expect("config").clone()));
    let state = AdminState {
        service: h.gateway().service().clone(),
        source,
    };
    let app = axum::Router::new()
        .nest("/admin", routes::<AdminState>())
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/admin")
}

async fn call(base: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A call that must be answered with a problem: its status, `type` and `field` (`null` if none).
async fn problem(
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Value) {
    let (status, body) = call(base, method, path, body).await;
    (status, body["type"].clone(), body["field"].clone())
}

#[tokio::test]
async fn the_admin_routes_put_and_remove_credentials_and_keys_without_echoing_secrets() {
    let h = Harness::start().await;
    let config = Arc::new(Mutex::new(h.config().clone()));
    let base = admin(&h, config.clone()).await;
    let huawei = &h.config().apps["demo"].huawei["demo"];
    let base_url = huawei.base_url.clone().expect("simulator");

    let wrong = json!({"app_id": huawei.app_id, "client_secret": "s3cr3t-but-wr0ng",
        "base_url": base_url, "danger_allow_plain_http": true});
    let (status, body) = call(
        &base,
        Method::PUT,
        "/apps/demo/credentials/huawei/demo",
        Some(wrong),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["type"], "/problems/credential-refused");
    assert_eq!(
        body["detail"],
        "apps.demo.huawei.demo: the vendor did not accept it: auth (oauth_12304: invalid client_secret)"
    );
    assert!(!body.to_string().contains("wr0ng"), "{body}");

    let (status, body) = call(
        &base,
        Method::PUT,
        "/apps/demo/credentials/huawei/demo",
        Some(json!({"client_secret": "s3cr3t", "bogus": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["type"], "/problems/invalid-field");
    assert_eq!(body["field"], "body");
    assert!(!body.to_string().contains("s3cr3t"), "{body}");
    assert_eq!(
        problem(
            &base,
            Method::PUT,
            "/apps/demo/credentials/pigeon/x",
            Some(json!({}))
        )
        .await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("/problems/invalid-field"),
            json!("kind")
        )
    );
    assert_eq!(
        problem(
            &base,
            Method::DELETE,
            "/apps/nope/credentials/fcm/demo",
            None
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!("/problems/unknown-app"),
            Value::Null
        )
    );

    let (status, body) = call(
        &base,
        Method::DELETE,
        "/apps/demo/credentials/fcm/demo",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"app": "demo", "item": "fcm/demo", "change": "removed"})
    );
    assert_eq!(
        problem(
            &base,
            Method::DELETE,
            "/apps/demo/credentials/fcm/demo",
            None
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!("/problems/not-configured"),
            Value::Null
        )
    );
    // Devices can no longer register with it.
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/bob/devices/pixel",
            Some(json!({"kind": "fcm", "credential": "demo", "token": "fcm-bob"})),
        )
        .await;
    assert_problem(&a, 422, "unknown-credential");

    let (status, body) = call(
        &base,
        Method::PUT,
        "/apps/demo/api-keys/ci",
        Some(json!({"sha256": hex(&hash_key("pw_ci_key"))})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"app": "demo", "item": "api_key/ci", "change": "added"})
    );
    assert_eq!(
        problem(
            &base,
            Method::PUT,
            "/apps/demo/api-keys/ci",
            Some(json!({"sha256": "xyz"}))
        )
        .await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("/problems/invalid-field"),
            json!("sha256")
        )
    );

    // A reload of the configuration the gateway started with undoes both changes.
    let (status, body) = call(&base, Method::POST, "/reload", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"changed": [
            {"app": "demo", "item": "api_key/ci", "change": "removed"},
            {"app": "demo", "item": "fcm/demo", "change": "added"}],
            "refused": [], "needs_restart": []})
    );
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/bob/devices/pixel",
            Some(json!({"kind": "fcm", "credential": "demo", "token": "fcm-bob"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
}

#[tokio::test]
async fn a_reload_reports_webhook_admin_and_cluster_changes_as_needing_a_restart() {
    let h = Harness::start().await;
    let mut config = h.config().clone();
    config.apps.get_mut("demo").expect("demo").webhook = Some(WebhookConfig::new(
        "http://127.0.0.1:9/hook",
        "webhook secret of 32 bytes or so",
    ));
    config.cluster.node_id = "renamed".to_owned();
    let report = h.gateway().reload(&config).await.expect("reloaded");
    assert_eq!(
        (
            report.changed.len(),
            report.refused.len(),
            &report.needs_restart[..]
        ),
        (
            0,
            0,
            &["cluster".to_owned(), "apps.demo.webhook".to_owned()][..]
        )
    );
    assert!(
        report
            .summary()
            .ends_with("needs a restart: cluster, apps.demo.webhook"),
        "{}",
        report.summary()
    );
    // Unchanged again: nothing to report.
    let report = h.gateway().reload(h.config()).await.expect("reloaded");
    assert!(report.needs_restart.is_empty(), "{report:?}");
}

#[tokio::test]
async fn a_reload_applies_what_changed_and_refuses_what_does_not_check() {
    let h = Harness::start().await;
    h.device("bob", "mi", "xiaomi", "regid-bob").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = h.config().clone();
    let demo = config.apps.get_mut("demo").expect("demo");
    demo.api_keys
        .push(ApiKeyConfig::inline("second", "pw_second_key"));
    // Xiaomi's secret now comes from a file: same secret, so the credential is unchanged.
    let secret_file: PathBuf = dir.path().join("xiaomi");
    let mi = demo.xiaomi.get_mut("demo").expect("xiaomi");
    let secret = mi.app_secret.take().expect("inline secret");
    std::fs::write(&secret_file, format!("{}\n", secret.expose())).expect("write");
    mi.app_secret_file = Some(secret_file.clone());
    let mut extra = XiaomiConfig::default();
    extra.package = "com.example.other".to_owned();
    extra.channel_id = "im".to_owned();
    extra.app_secret_file = Some(dir.path().join("missing"));
    demo.xiaomi.insert("extra".to_owned(), extra);
    demo.fcm.clear();
    demo.huawei.get_mut("demo").expect("huawei").client_secret = Some(Secret::new("wr0ng"));
    config.apps.remove("other");
    let mut third = AppConfig::default();
    third
        .api_keys
        .push(ApiKeyConfig::inline("main", "pw_third_key"));
    config.apps.insert("third".to_owned(), third);
    config.server.request_timeout_secs += 1;

    let report = h.gateway().reload(&config).await.expect("reloaded");
    let changed = |app: &str, item: &str, change| Changed {
        app: app.to_owned(),
        item: item.to_owned(),
        change,
    };
    let missing = dir.path().join("missing");
    assert_eq!(
        report,
        ChangeReport {
            changed: vec![
                changed("demo", "api_key/second", Change::Added),
                changed("demo", "fcm/demo", Change::Removed),
                changed("third", "api_key/main", Change::Added),
                changed("third", "app", Change::Added),
                changed("other", "app", Change::Removed),
            ],
            refused: vec![
                Refused {
                    app: "demo".to_owned(),
                    item: "xiaomi/extra".to_owned(),
                    reason: format!(
                        "apps.demo.xiaomi.extra.app_secret_file: {}: No such file or directory (os error 2)",
                        missing.display()
                    ),
                },
                Refused {
                    app: "demo".to_owned(),
                    item: "huawei/demo".to_owned(),
                    reason: "apps.demo.huawei.demo: the vendor did not accept it: auth (oauth_12304: invalid client_secret)".to_owned(),
                },
            ],
            needs_restart: vec!["server".to_owned()],
        }
    );
    let feed = |key: &'static str, app: &'static str| {
        let h = &h;
        async move {
            h.send(
                Method::GET,
                &format!("/v1/apps/{app}/dead-tokens"),
                Some(key),
                &[],
                None,
            )
            .await
            .status
        }
    };
    assert_eq!(feed("pw_second_key", "demo").await, StatusCode::OK);
    assert_eq!(feed(KEY, "demo").await, StatusCode::OK);
    assert_eq!(feed("pw_third_key", "third").await, StatusCode::OK);
    assert_eq!(feed(OTHER_KEY, "other").await, StatusCode::UNAUTHORIZED);
    // The refused Huawei secret left the old one serving; Xiaomi (from its file) too.
    h.device("bob", "hw", "huawei", "hw-bob").await;
    let a = h
        .post_message(
            "after-reload",
            json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    let bob = devices_of(&a.body, "bob");
    assert_eq!(
        (&bob[0]["state"], &bob[1]["state"]),
        (&json!("delivered"), &json!("delivered")),
        "{:#}",
        a.body
    );

    // The secret file rotated: the credential is rotated, nothing else changes.
    std::fs::write(&secret_file, "another-xiaomi-secret\n").expect("write");
    let report = h.gateway().reload(&config).await.expect("reloaded");
    assert_eq!(
        report.changed,
        vec![changed("demo", "xiaomi/demo", Change::Rotated)]
    );
    assert_eq!(report.refused.len(), 2);
    assert_eq!(
        report.summary(),
        "apps added 0 rotated 0 removed 0; credentials added 0 rotated 1 removed 0; \
         api keys added 0 rotated 0 removed 0; refused 2 [demo:xiaomi/extra demo:huawei/demo]; \
         needs a restart: server"
    );
}
