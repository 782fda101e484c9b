//! Credential forms beyond the demo app's: a Huawei service account (v2 API, self-signed JWT).

use pushway_gateway::config::HuaweiConfig;
use pushway_mock::huawei::{HuaweiSimulator, ServiceAccount};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, c2c, devices_of};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../mock/fixtures/huawei");

fn trusted_account() -> ServiceAccount {
    let text =
        std::fs::read_to_string(format!("{FIXTURES}/test-service-account.json")).expect("key file");
    let key: serde_json::Value = serde_json::from_str(&text).expect("json");
    let field = |name: &str| key[name].as_str().expect("field").to_owned();
    ServiceAccount {
        project_id: field("project_id"),
        key_id: field("key_id"),
        sub_account: field("sub_account"),
        public_key_pem: std::fs::read_to_string(format!("{FIXTURES}/test-service-account.pub.pem"))
            .expect("pem"),
    }
}

#[tokio::test]
async fn a_huawei_service_account_credential_delivers() {
    let sim = HuaweiSimulator::builder()
        .service_account(trusted_account())
        .start()
        .await
        .expect("simulator");
    let url = sim.base_url();
    let h = Harness::start_with(|config, _| {
        let app = config.apps.get_mut("demo").expect("demo");
        let mut sa = HuaweiConfig::default();
        sa.service_account_file = Some(format!("{FIXTURES}/test-service-account.json").into());
        sa.base_url = Some(url);
        sa.danger_allow_plain_http = true;
        app.huawei.insert("sa".to_owned(), sa);
    })
    .await;
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/bob/devices/hw",
            Some(json!({"kind": "huawei", "credential": "sa", "token": "hw-bob"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = h
        .post_message(
            "sa",
            json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(
        devices_of(&a.body, "bob")[0]["state"],
        "delivered",
        "{:#}",
        a.body
    );
    let sends: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/messages:send"))
        .collect();
    assert_eq!(sends.len(), 1);
    assert!(sends[0].path.starts_with("/v2/"), "{}", sends[0].path);
}

#[tokio::test]
async fn check_names_the_wrong_credential_key() {
    let mut config = pushway_gateway::config::Config::default();
    let mut app = pushway_gateway::config::AppConfig::default();
    let mut both = HuaweiConfig::default();
    both.app_id = "104437395".to_owned();
    both.service_account_file = Some(format!("{FIXTURES}/test-service-account.json").into());
    app.huawei.insert("hw".to_owned(), both);
    config.apps.insert("chat".to_owned(), app);
    let error = pushway_gateway::check(&config).expect_err("refused");
    assert!(
        error
            .to_string()
            .starts_with("apps.chat.huawei.hw.service_account_file: "),
        "{error}"
    );
    let mut config = pushway_gateway::config::Config::default();
    let mut app = pushway_gateway::config::AppConfig::default();
    app.huawei.insert("hw".to_owned(), HuaweiConfig::default());
    config.apps.insert("chat".to_owned(), app);
    let error = pushway_gateway::check(&config).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "apps.chat.huawei.hw.client_secret: client_secret or client_secret_file is required"
    );
}
