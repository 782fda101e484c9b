//! `pushway serve` re-reads its configuration file (and the secret files it names) on SIGHUP and
//! applies the difference while it runs: API keys swapped, an app added, a bad credential
//! refused; one summary line in the log, no secret in it.

#![cfg(unix)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const OLD_KEY: &str = "pw_sighup_old_key";
const NEW_KEY: &str = "pw_sighup_new_key";
const SECOND_KEY: &str = "pw_sighup_second_key";
/// SHA-256 of `SECOND_KEY`, as `sha256sum` prints it.
const SECOND_SHA256: &str = "6b918e31ec92e0a637486bd8b4f15358d8a2e8db1966a7994fdcda9db587991b";

fn write_config(path: &Path, store: &Path, apps: &str) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[store]\npath = \"{}\"\n\n{apps}",
        store.display()
    );
    std::fs::write(path, text).expect("write the config");
}

/// The next stdout line for which `pick` gives something, ANSI colours removed; every line read
/// is appended to `seen`.
async fn next_line(
    lines: &mut Lines<BufReader<ChildStdout>>,
    seen: &mut String,
    pick: impl Fn(&str) -> bool,
) -> String {
    let read = async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            let plain = strip_ansi(&line);
            seen.push_str(&plain);
            seen.push('\n');
            if pick(&plain) {
                return plain;
            }
        }
        panic!("the gateway exited; it said:\n{seen}");
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the expected line within 60 s")
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

async fn status(base: &str, app: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v1/apps/{app}/dead-tokens"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn sighup_applies_a_changed_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("pushway.toml");
    let store = dir.path().join("gateway.sqlite3");
    write_config(
        &config,
        &store,
        &format!("[apps.chat]\napi_keys = [{{ name = \"old\", key = \"{OLD_KEY}\" }}]\n"),
    );
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_pushway"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn pushway serve");
    let pid = child.id().expect("pid");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    let listening = next_line(&mut lines, &mut seen, |l| {
        l.starts_with("pushway listening on ")
    })
    .await;
    let base = listening
        .trim_start_matches("pushway listening on ")
        .split_whitespace()
        .next()
        .expect("the address")
        .to_owned();
    assert_eq!(status(&base, "chat", OLD_KEY).await, 200);
    assert_eq!(status(&base, "chat", NEW_KEY).await, 401);

    // The new key comes from a file; a second app; a Xiaomi credential whose secret is missing.
    let key_file = dir.path().join("new-key");
    std::fs::write(&key_file, format!("{NEW_KEY}\n")).expect("write the key file");
    write_config(
        &config,
        &store,
        &format!(
            "[apps.chat]\napi_keys = [{{ name = \"new\", key_file = \"{}\" }}]\n\n\
             [apps.chat.xiaomi.mi]\npackage = \"com.example.chat\"\nchannel_id = \"im\"\n\n\
             [apps.second]\napi_keys = [{{ name = \"main\", sha256 = \"{SECOND_SHA256}\" }}]\n",
            key_file.display()
        ),
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    let summary = next_line(&mut lines, &mut seen, |l| {
        l.contains("configuration reloaded")
    })
    .await;
    assert!(
        summary.contains(
            "summary=apps added 1 rotated 0 removed 0; credentials added 0 rotated 0 removed 0; \
             api keys added 2 rotated 0 removed 1; refused 1 [chat:xiaomi/mi]"
        ),
        "{summary}"
    );
    assert!(
        seen.contains("apps.chat.xiaomi.mi.app_secret: app_secret or app_secret_file is required"),
        "the refusal's reason is logged:\n{seen}"
    );

    assert_eq!(status(&base, "chat", OLD_KEY).await, 401);
    assert_eq!(status(&base, "chat", NEW_KEY).await, 200);
    assert_eq!(status(&base, "second", SECOND_KEY).await, 200);
    // One summary line per SIGHUP, and no key in the log.
    assert_eq!(seen.matches("configuration reloaded").count(), 1, "{seen}");
    for key in [OLD_KEY, NEW_KEY, SECOND_KEY] {
        assert!(!seen.contains(key), "{key} in the log:\n{seen}");
    }
    child.kill().await.expect("kill");
}
