//! `pushway serve --log-format json`: every log line is one JSON object; an accepted message and
//! its delivery attempt are traced with their ids, and no line holds the device's token or the
//! API key.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const TOKEN: &str = "regid-of-the-log-test";

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("a line within 20 s")
        .expect("read stdout")
        .expect("pushway still running")
}

#[tokio::test]
async fn json_logs_trace_messages_and_attempts_by_id_and_never_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushway"))
        .args(["serve", "--simulate", "--log-format", "json"])
        .env("PUSHWAY_SERVER__LISTEN", "127.0.0.1:0")
        .env("PUSHWAY_STORE__PATH", dir.path().join("db.sqlite3"))
        .env("RUST_LOG", "info,pushway_gateway=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starts pushway serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut logs = Vec::new();
    let (mut base, mut key) = (None, None);
    while base.is_none() || key.is_none() {
        let line = next_line(&mut lines).await;
        if let Some(rest) = line.strip_prefix("pushway listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some((_, k)) = line.split_once("API key: ") {
            key = Some(k.trim().to_owned());
        } else if line.starts_with('{') {
            logs.push(line);
        }
    }
    let (base, key) = (base.expect("address"), key.expect("key"));

    let http = reqwest::Client::new();
    let device = json!({"kind": "xiaomi", "credential": "demo", "token": TOKEN});
    let put = http
        .put(format!("{base}/v1/apps/demo/users/bob/devices/phone"))
        .bearer_auth(&key)
        .json(&device)
        .send()
        .await
        .expect("register");
    assert!(put.status().is_success());
    let message = json!({
        "message": {"conversation": {"type": "c2c", "peer": "bob"}, "sender": {"user_id": "alice"},
                    "elements": [{"type": "text", "text": "hello"}]},
        "recipients": [{"user_id": "bob"}]
    });
    let accepted: Value = http
        .post(format!("{base}/v1/apps/demo/messages?wait=5s"))
        .bearer_auth(&key)
        .header("idempotency-key", "log-test")
        .json(&message)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let id = accepted["message_id"].as_str().expect("id").to_owned();
    assert_eq!(
        accepted["recipients"][0]["devices"][0]["state"],
        "delivered"
    );

    // Read until both the accept's and the delivery attempt's events are in. Their order is
    // not fixed: rows leased at accept reach the worker as the transaction commits, so the
    // attempt can be logged before the handler logs the accept.
    let is_attempt = |v: &Value| v["fields"]["message"] == "delivery attempt";
    let is_accept = |v: &Value| v["fields"]["message"] == "message accepted";
    let seen = |logs: &[String], is: &dyn Fn(&Value) -> bool| {
        logs.iter()
            .any(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| is(&v)))
    };
    while !(seen(&logs, &is_attempt) && seen(&logs, &is_accept)) {
        let line = next_line(&mut lines).await;
        // The rest of the banner (`try:` and the curl lines) is text, not a log line.
        if line.starts_with('{') {
            logs.push(line);
        }
    }
    child.kill().await.expect("kill");

    let events: Vec<Value> = logs
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let accepted = events
        .iter()
        .find(|v| v["fields"]["message"] == "message accepted")
        .expect("the accept's event");
    assert_eq!(
        accepted["span"],
        json!({"name": "message", "app": "demo", "message_id": id})
    );
    let attempt = events.iter().find(|v| is_attempt(v)).expect("attempt");
    assert_eq!(attempt["target"], "pushway_gateway::worker");
    assert_eq!(
        attempt["fields"],
        json!({"message": "delivery attempt", "outcome": "delivered", "reason": "", "state": "delivered"})
    );
    let span = &attempt["span"];
    assert_eq!(
        (&span["name"], &span["message_id"], &span["app"]),
        (&json!("delivery"), &json!(id), &json!("demo"))
    );
    assert_eq!(
        (&span["channel"], &span["attempt"]),
        (&json!("xiaomi"), &json!(1))
    );
    assert!(
        span["delivery_id"].as_i64().is_some_and(|n| n > 0),
        "{span}"
    );
    for line in &logs {
        assert!(!line.contains(TOKEN), "the token in {line}");
        assert!(!line.contains(&key), "the API key in {line}");
    }
}
