//! Tests of the `pushway-mock` binary.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Starts the binary with `args`, reads `n` JSON lines from its stdout, and returns them with
/// the child (killed when dropped).
async fn start(args: &[&str], n: usize) -> (tokio::process::Child, Vec<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushway-mock"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn pushway-mock");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut out = Vec::new();
    for _ in 0..n {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("a line within a minute")
            .expect("read")
            .expect("a line before EOF");
        out.push(serde_json::from_str::<Value>(&line).expect("a JSON line"));
        assert!(line.starts_with("{\"simulator\":"), "{line}");
    }
    (child, out)
}

#[tokio::test]
async fn prints_one_line_per_simulator_and_serves_them() {
    let (mut child, lines) = start(
        &[
            "xiaomi",
            "huawei",
            "--xiaomi-app-secret",
            "s3cret",
            "--huawei-app-id",
            "12345",
        ],
        2,
    )
    .await;
    assert_eq!(lines[0]["simulator"], "xiaomi");
    assert_eq!(lines[1]["simulator"], "huawei");
    for line in &lines {
        let addr = line["addr"].as_str().expect("addr");
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        assert_eq!(
            line["base_url"].as_str().expect("base_url"),
            format!("http://{addr}")
        );
    }

    let client = reqwest::Client::new();
    let xiaomi = lines[0]["base_url"].as_str().expect("base_url");
    let answer: Value = client
        .post(format!("{xiaomi}/v3/message/regid"))
        .header("authorization", "key=wrong")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("restricted_package_name=p&registration_id=r&title=t&description=d")
        .send()
        .await
        .expect("xiaomi answers")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["code"], 21301);

    let huawei = lines[1]["base_url"].as_str().expect("base_url");
    let answer = client
        .post(format!("{huawei}/oauth2/v3/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=999&client_secret=x")
        .send()
        .await
        .expect("huawei answers");
    assert_eq!(answer.status().as_u16(), 400);
    let answer: Value = answer.json().await.expect("json");
    assert_eq!(answer["sub_error"], 20003);

    child.kill().await.expect("kill");
}

#[tokio::test]
async fn all_starts_every_simulator_on_the_given_ports() {
    let (mut child, lines) = start(&["--apns-h2c", "--apns-no-provider-token"], 3).await;
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l["simulator"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["apns", "xiaomi", "huawei"]);
    assert_eq!(lines[0]["tls"], false);
    assert!(lines[0].get("ca_cert_pem").is_none());
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn bad_arguments_fail_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_pushway-mock"))
        .args(["--huawei-illegal-tokens", "kebab"])
        .output()
        .await
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("expected `snake` or `camel:<reason>`"),
        "{stderr}"
    );
}
