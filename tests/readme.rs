//! What README.md promises about the gateway: the main-job command (`pushway demo`) runs end to
//! end with every outcome as expected, the `pushway serve` configuration example parses and is
//! the one the gateway documents, and every route of its API table is served.

use std::process::Command;

use pushway::gateway::config::{ApiKeyConfig, AppConfig, Config};

/// The TOML block of `text` (Markdown, or `//!` doc lines) that contains `marker`.
fn toml_block(text: &str, marker: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            l.strip_prefix("//! ")
                .unwrap_or(l.strip_prefix("//!").unwrap_or(l))
        })
        .collect();
    let mut at = 0;
    while let Some(start) = lines[at..].iter().position(|l| *l == "```toml") {
        let start = at + start + 1;
        let len = lines[start..].iter().position(|l| *l == "```")?;
        let block = lines[start..start + len].join("\n");
        if block.contains(marker) {
            return Some(block);
        }
        at = start + len + 1;
    }
    None
}

#[test]
fn the_readme_serve_config_parses_and_is_the_documented_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let block = toml_block(&readme, "[server]").expect("README has a TOML block with [server]");
    let documented =
        std::fs::read_to_string(format!("{root}/crates/gateway/src/config/mod.rs")).expect("docs");
    assert_eq!(
        Some(block.as_str()),
        toml_block(&documented, "[server]").as_deref(),
        "README.md's configuration differs from crates/gateway/src/config/mod.rs's example"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pushway.toml");
    std::fs::write(&file, &block).expect("write");
    let config = Config::load(Some(&file)).expect("the README's configuration parses");
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(
        config.store.path.to_str(),
        Some("/var/lib/pushway/pushway.sqlite3")
    );
    let chat = &config.apps["chat"];
    assert_eq!(chat.api_keys.len(), 1);
    assert_eq!(chat.api_keys[0].name, "im-backend");
    assert_eq!(chat.apns["main"].topic, "com.example.chat");
    assert_eq!(chat.xiaomi["main"].channel_id, "im_messages");
    assert_eq!(chat.huawei["main"].app_id, "104437395");
    assert_eq!(chat.fcm["main"].channel_id, "im_messages");
}

#[test]
fn the_demo_runs_end_to_end_and_every_outcome_is_the_expected_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_pushway"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .expect("runs pushway demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pushway demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        // Settings read back exactly as set.
        r#"   PUT  /v1/apps/demo/users/dave/settings                  → 200  {"enabled":false} (read back the same)"#,
        // Every device of the C2C message delivered.
        "     bob/iphone    delivered (apns sandbox, 1 attempt)",
        "     bob/mi        delivered (xiaomi, 1 attempt)",
        // The group message: the body is "<name card>: <text>", each user's own group sound.
        r#"     xiaomi  bob/mi        title "Climbers", description "Ann (belayer): Rope check at 6, bring the 60 m", notify_effect "1", sound_uri "android.resource://com.example.chat/raw/bob_group""#,
        r#"     apns    carol/iphone  title "Climbers", body "Ann (belayer): Rope check at 6, bring the 60 m", sound "default", badge 1, thread-id "g-climbers""#,
        r#"     huawei  carol/mate    title "Climbers", body "Ann (belayer): Rope check at 6, bring the 60 m", sound "/raw/carol_group", click_action {"type":3}"#,
        r#"     fcm     carol/pixel   title "Climbers", body "Ann (belayer): Rope check at 6, bring the 60 m", sound "carol_group", notification_count 1, tag "group:g-climbers""#,
        "     carol/pixel   delivered (fcm, 1 attempt)",
        // Every suppression, with its reason.
        "     carol/old-mi  left out: recipient_logged_out",
        "     dave          suppressed: recipient_disabled",
        "     erin/mate     left out: recipient_kicked_offline",
        "     frank         suppressed: no_devices",
        "     alice         suppressed: recipient_is_sender",
        "     bob           suppressed: system_message",
        // Per-message settings over carol's own: Android title and sound, a tap carrying ext.
        r#"     huawei  carol/mate    title "Ann sent a photo", body "Photo from the crag", sound "/raw/shutter", click_action {"intent":"intent://open#Intent;scheme=pushway;launchFlags=0x4000000;S.conversation_id=alice;S.conversation_type=c2c;S.sender_id=alice;S.ext=photo-981;end","type":1}"#,
        r#"     apns    carol/iphone  title "alice", body "Photo from the crag", sound "shutter.caf", badge 3, thread-id "alice", ext "photo-981""#,
        r#"     fcm     carol/pixel   title "Ann sent a photo", body "Photo from the crag", sound "shutter", notification_count 3, tag "c2c:alice", click_action "com.example.chat.OPEN_CHAT", ext "photo-981""#,
        // The daemon channel: the connected phone gets it live; the tablet that was off is
        // queued, gets the push when it connects, and its delivery then shows delivered.
        "     grace/phone   delivered (daemon, 1 attempt)",
        "     grace/tablet  queued (daemon, 1 attempt)",
        r#"     daemon  grace/phone   title "alice", body "Climbing gym at 8? Bring chalk", badge 4, conversation_id "alice""#,
        "   grace/tablet comes online:",
        r#"     daemon  grace/tablet  title "alice", body "Climbing gym at 8? Bring chalk", badge 4, conversation_id "alice""#,
        "     grace/tablet  delivered (daemon, 1 attempt)",
        // A retried POST adds nothing.
        "   the same message id; vendors received nothing new",
    ] {
        assert!(
            lines.contains(&expected),
            "missing line {expected:?} in:\n{stdout}"
        );
    }
    assert_eq!(lines.iter().filter(|l| l.contains('✗')).count(), 0);
    assert_eq!(
        lines.last().copied(),
        Some("demo OK: 6 messages, 22 outcomes and 12 deliveries received exactly as expected"),
        "{stdout}"
    );
}

/// The (method, path) pairs of the README's API table: a cell may list several methods, and
/// several paths, where `/x` after a `/v1/...` path replaces that path's last segment.
fn api_table(readme: &str) -> Vec<(String, String)> {
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let section = readme
        .split("## The gateway")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_default();
    let mut routes = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let (Some(methods), Some(paths)) = (cells.first(), cells.get(1)) else {
            continue;
        };
        let paths = ticked(paths);
        let first = paths.first().cloned().unwrap_or_default();
        for path in &paths {
            let path = if path.starts_with("/v1/") || !first.starts_with("/v1/") {
                path.clone()
            } else {
                let parent = first.rsplit_once('/').map_or("", |(p, _)| p);
                format!("{parent}{path}")
            };
            let path = path.split('?').next().unwrap_or_default().to_owned();
            for method in ticked(methods) {
                routes.push((method, path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_of_the_readme_api_table_is_served() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let routes = api_table(&readme);
    assert_eq!(routes.len(), 23, "{routes:?}");
    assert!(routes.contains(&(
        "POST".to_owned(),
        "/v1/apps/{app}/users/{user}/devices/{device}/kicked".to_owned()
    )));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.server.listen = ([127, 0, 0, 1], 0).into();
    config.store.path = dir.path().join("readme.sqlite3");
    let mut app = AppConfig::default();
    app.api_keys
        .push(ApiKeyConfig::inline("readme", "pw_readme_key"));
    config.apps.insert("chat".to_owned(), app);
    let gateway = pushway::gateway::start(config)
        .await
        .expect("gateway starts");
    let base = format!("http://{}", gateway.addr());
    let http = reqwest::Client::new();
    let problem_of = |method: &str, path: &str| {
        let path = path
            .replace("{app}", "chat")
            .replace("{user}", "bob")
            .replace("{device}", "phone")
            .replace("{id}", "no-such-message");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = http
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth("pw_readme_key");
        if method == reqwest::Method::PUT || method == reqwest::Method::POST {
            request = request
                .header("content-type", "application/json")
                .header("idempotency-key", "readme")
                .body("{}");
        }
        async move {
            let response = request.send().await.expect("answer");
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            body["type"].as_str().unwrap_or_default().to_owned()
        }
    };
    // What an unknown route and a known route's unknown method answer, so the check can fail.
    assert_eq!(
        problem_of("GET", "/v1/apps/{app}/nowhere").await,
        "/problems/not-found"
    );
    assert_eq!(
        problem_of("PATCH", "/v1/apps/{app}/messages").await,
        "/problems/method-not-allowed"
    );
    for (method, path) in &routes {
        let problem = problem_of(method, path).await;
        assert!(
            problem != "/problems/not-found" && problem != "/problems/method-not-allowed",
            "README lists {method} {path}, which the gateway answers with {problem}"
        );
    }
    gateway.stop(std::time::Duration::from_secs(1)).await;
}
