//! Building the provider: what is required, what is refused, where the defaults come from.

use pushway_core::PushProvider;
use pushway_fcm::{FcmProvider, ServiceAccountKey};

use crate::support::*;

const KEY: &str = include_str!("../fixtures/test-service-account.json");

fn key_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/test-service-account.json")
}

#[test]
fn the_project_comes_from_the_key_unless_set() {
    let provider = FcmProvider::builder()
        .service_account_file(key_path())
        .build()
        .unwrap();
    assert_eq!(
        provider.send_url(),
        "https://fcm.googleapis.com/v1/projects/demo-project/messages:send"
    );
    let provider = FcmProvider::builder()
        .service_account_json(KEY)
        .project_id("123456789012")
        .api_base_url("https://fcm.example.net/")
        .build()
        .unwrap();
    assert_eq!(
        provider.send_url(),
        "https://fcm.example.net/v1/projects/123456789012/messages:send"
    );
    assert_eq!(provider.name(), "fcm");
    assert_eq!(provider.max_batch_size(), pushway_fcm::MAX_BATCH);
}

#[test]
fn bad_settings_are_config_errors_and_bad_keys_key_errors() {
    let base = || FcmProvider::builder().service_account_json(KEY);
    for (what, result) in [
        ("no key", FcmProvider::builder().build()),
        (
            "plain http",
            base().api_base_url("http://127.0.0.1:1").build(),
        ),
        (
            "plain token url",
            base().token_url("http://127.0.0.1:1/token").build(),
        ),
        (
            "not a url",
            base().api_base_url("fcm.googleapis.com").build(),
        ),
        ("project with /", base().project_id("a/b").build()),
        ("zero connections", base().connections(0).build()),
        (
            "zero timeout",
            base().timeout(std::time::Duration::ZERO).build(),
        ),
        ("empty channel", base().channel_id(" ").build()),
        ("empty click action", base().click_action("").build()),
        (
            "bad root",
            base()
                .add_root_certificate_pem(b"not a pem".to_vec())
                .build(),
        ),
    ] {
        let err = result.expect_err(what);
        assert!(err.is_config(), "{what}: {err}");
    }
    assert!(
        base()
            .api_base_url("http://127.0.0.1:1")
            .allow_plain_http(true)
            .build()
            .is_ok()
    );

    let mut not_service = serde_json::from_str::<serde_json::Value>(KEY).unwrap();
    not_service["type"] = "authorized_user".into();
    let mut no_email = serde_json::from_str::<serde_json::Value>(KEY).unwrap();
    no_email.as_object_mut().unwrap().remove("client_email");
    let mut bad_pem = serde_json::from_str::<serde_json::Value>(KEY).unwrap();
    bad_pem["private_key"] =
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
    for (what, json) in [
        ("type", not_service.to_string()),
        ("client_email", no_email.to_string()),
        ("pem", bad_pem.to_string()),
        ("not json", "{".to_owned()),
    ] {
        let err = ServiceAccountKey::from_json(&json).expect_err(what);
        assert!(err.is_key(), "{what}: {err}");
        assert!(!err.to_string().contains("PRIVATE KEY"), "{what}: {err}");
    }
    let err = FcmProvider::builder()
        .service_account_file("/nonexistent/key.json")
        .build()
        .unwrap_err();
    assert!(err.is_key(), "{err}");
}

#[test]
fn the_private_key_never_shows_in_debug() {
    let key = ServiceAccountKey::from_json(KEY).unwrap();
    assert_eq!(key.project_id(), "demo-project");
    assert_eq!(key.token_uri(), Some("https://oauth2.googleapis.com/token"));
    let pem_line = KEY.split("\\n").nth(1).unwrap();
    for text in [
        format!("{key:?}"),
        format!("{:?}", FcmProvider::builder().service_account(key.clone())),
        format!("{:?}", FcmProvider::builder().service_account_json(KEY)),
        format!(
            "{:?}",
            FcmProvider::builder()
                .service_account(key.clone())
                .build()
                .unwrap()
        ),
    ] {
        assert!(
            !text.contains(pem_line) && !text.contains("PRIVATE KEY"),
            "{text}"
        );
    }
}

/// `allow_plain_http`: h2c with prior knowledge to a plain-TCP simulator.
#[tokio::test]
async fn plain_http_simulators_are_reached_over_h2c_when_allowed() {
    let sim = sim_builder().tls(false).start().await.unwrap();
    let key =
        pushway_mock::fcm::TestServiceAccount::new().key_file_json_with_token_uri(&sim.token_url());
    let provider = FcmProvider::builder()
        .service_account_json(key)
        .api_base_url(sim.base_url())
        .allow_plain_http(true)
        .build()
        .unwrap();
    let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A])).await;
    assert!(outcomes[0].is_delivered(), "{}", outcomes[0]);
    assert_eq!(sends(&sim)[0].request.version, reqwest::Version::HTTP_2);
}
