//! `pushway check-config` on an FCM credential: a usable key file passes and the channel is
//! listed; a bad one fails with exit code 2 and one line naming the key that is wrong, never
//! the private key.

use std::path::Path;
use std::process::{Command, Output};

use pushway_mock::fcm::TestServiceAccount;

fn check_config(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pushway"))
        .arg("check-config")
        .arg("--config")
        .arg(config)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs pushway check-config")
}

/// A configuration with one FCM credential reading `key_file`.
fn config_file(dir: &Path, key_file: &Path) -> std::path::PathBuf {
    let path = dir.join("pushway.toml");
    let toml = format!(
        "[apps.chat.fcm.main]\nchannel_id = \"im_messages\"\nservice_account_file = {:?}\n",
        key_file.display().to_string()
    );
    std::fs::write(&path, toml).expect("write the configuration");
    path
}

#[test]
fn a_usable_key_file_passes_and_its_channel_is_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("firebase.json");
    std::fs::write(&key, TestServiceAccount::new().key_file_json()).expect("write");
    let output = check_config(&config_file(dir.path(), &key));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "app chat: 0 API key(s), channels: fcm/main\nconfiguration OK\n"
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_bad_key_file_is_named_and_never_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let account = TestServiceAccount::new();
    let mut file: serde_json::Value = serde_json::from_str(account.key_file_json()).expect("json");
    // Readable JSON whose private key is cut in half: not a usable RSA key.
    let pem = account.private_key_pem();
    let cut = &pem[..pem.len() / 2];
    file["private_key"] = serde_json::json!(cut);
    let key = dir.path().join("firebase.json");
    std::fs::write(&key, file.to_string()).expect("write");

    let output = check_config(&config_file(dir.path(), &key));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    assert!(
        stderr.starts_with(
            "error: apps.chat.fcm.main.service_account_file: invalid FCM service-account key: \
             private_key is not an RSA PKCS#8 PEM key"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Not one line of the key's base64 appears.
    for line in cut.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!stderr.contains(line), "{stderr}");
    }
}

/// A configuration with a webhook section whose secret is `secret`, read from a file.
fn webhook_config(dir: &Path, secret: &str) -> std::path::PathBuf {
    let secret_file = dir.join("webhook-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).expect("write the secret");
    let path = dir.join("pushway.toml");
    let toml = format!(
        "[apps.chat.webhook]\nurl = \"https://hooks:pw@im.example.com/pushway?k=1\"\n\
         secret_file = {:?}\nevents = [\"dead\", \"suppressed\"]\n",
        secret_file.display().to_string()
    );
    std::fs::write(&path, toml).expect("write the configuration");
    path
}

#[test]
fn a_webhook_is_listed_by_its_origin_and_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = check_config(&webhook_config(dir.path(), "a-long-enough-webhook-secret"));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "app chat: 0 API key(s), channels: \n\
         app chat: webhook to https://im.example.com, events: dead, suppressed\n\
         configuration OK\n"
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_short_webhook_secret_is_named_and_never_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = check_config(&webhook_config(dir.path(), "short-secret"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: apps.chat.webhook.secret_file: a signing secret is at least 16 bytes\n"
    );
}

/// A configuration whose daemon channel has `strategy = <strategy>`.
fn daemon_config(dir: &Path, strategy: &str) -> std::path::PathBuf {
    let path = dir.join("pushway.toml");
    let toml = format!(
        "[apps.chat.daemon]\nsecret = \"a daemon signing secret of 32+ bytes\"\n\
         strategy = {strategy:?}\n"
    );
    std::fs::write(&path, toml).expect("write the configuration");
    path
}

#[test]
fn a_daemon_strategy_passes_and_a_bad_one_is_named_by_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = check_config(&daemon_config(dir.path(), "daemon_first"));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "app chat: 0 API key(s), channels: daemon/daemon\nconfiguration OK\n"
    );
    assert_eq!(output.status.code(), Some(0));

    let file = daemon_config(dir.path(), "daemon-first");
    let output = check_config(&file);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    // The file is named as the configuration library shows it: relative to the working
    // directory when that is shorter, so the check resolves it rather than comparing text.
    let prefix = "error: unknown variant: found `daemon-first`, expected ``all_devices` or \
                  `daemon_first`` for key \"default.apps.chat.daemon.strategy\" in ";
    let shown = stderr
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(" TOML file\n"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(
        cwd.join(shown)
            .canonicalize()
            .expect("the file shown exists"),
        file.canonicalize().expect("the file"),
        "{stderr}"
    );
}
