//! Tests of the `pushway-mock` binary.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Starts the binary with `args`, reads `n` JSON lines from its stdout, and returns them with
/// the child (killed when dropped).
pub(crate) async fn start(args: &[&str], n: usize) -> (tokio::process::Child, Vec<Value>) {
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
    let (mut child, lines) = start(&["--apns-h2c", "--apns-no-provider-token"], 4).await;
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l["simulator"].as_str().expect("name"))
        .collect();
    // FCM last: tools that read the first three lines keep working.
    assert_eq!(names, ["apns", "xiaomi", "huawei", "fcm"]);
    assert_eq!(lines[3]["tls"], true);
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

/// A Xiaomi send (any AppSecret is accepted here): code 0 unless a fault answers first.
async fn xiaomi_send(client: &reqwest::Client, base: &str) -> reqwest::Response {
    client
        .post(format!("{base}/v3/message/regid"))
        .header("authorization", "key=any")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("restricted_package_name=p&registration_id=r&title=t&description=d")
        .send()
        .await
        .expect("xiaomi answers")
}

/// `POST` to the control endpoint; returns the status and the JSON answer.
pub(crate) async fn control(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let answer = client
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("control answers");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("json"))
}

#[tokio::test]
async fn a_fault_flag_applies_from_the_first_request_and_reads_back() {
    let (mut child, lines) = start(
        &[
            "xiaomi",
            "--xiaomi-fault",
            "times=1:status=503",
            "--xiaomi-fault",
            "token=BAD:rate_limited",
        ],
        1,
    )
    .await;
    let client = reqwest::Client::new();
    let base = lines[0]["base_url"].as_str().expect("base_url");
    assert_eq!(xiaomi_send(&client, base).await.status().as_u16(), 503);
    let again: Value = xiaomi_send(&client, base).await.json().await.expect("json");
    assert_eq!(again["code"], 0, "times=1 is used up");

    let url = lines[0]["control_url"].as_str().expect("control_url");
    assert!(url.ends_with("/_control/faults"), "{url}");
    let state: Value = client
        .get(url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        state,
        serde_json::json!({"xiaomi": {
            "faults": ["times=1:status=503", "token=BAD:rate_limited"],
            "requests": 2
        }})
    );
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn the_control_endpoint_sets_and_clears_faults_per_simulator() {
    let (mut child, lines) = start(
        &[
            "apns",
            "xiaomi",
            "huawei",
            "--apns-h2c",
            "--apns-no-provider-token",
        ],
        3,
    )
    .await;
    let url = lines[0]["control_url"].as_str().expect("control_url");
    assert!(lines.iter().all(|l| l["control_url"] == url));
    let client = reqwest::Client::new();
    let apns = lines[0]["base_url"].as_str().expect("base_url");
    let xiaomi = lines[1]["base_url"].as_str().expect("base_url");
    let huawei = lines[2]["base_url"].as_str().expect("base_url");

    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let apns_send = || async {
        let answer = h2c
            .post(format!("{apns}/3/device/{}", "ab".repeat(32)))
            .header("apns-topic", "com.example.app")
            .header("apns-push-type", "alert")
            .body(r#"{"aps":{"alert":"hi"}}"#)
            .send()
            .await
            .expect("apns answers");
        let status = answer.status().as_u16();
        (status, answer.text().await.expect("body"))
    };
    assert_eq!(apns_send().await, (200, String::new()));

    let (status, state) = control(
        &client,
        url,
        serde_json::json!({"simulator": "apns", "faults": ["reason=ServiceUnavailable"]}),
    )
    .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["apns"]["faults"][0], "reason=ServiceUnavailable");
    assert_eq!(
        apns_send().await,
        (503, r#"{"reason":"ServiceUnavailable"}"#.to_owned())
    );

    let (status, _) = control(
        &client,
        url,
        serde_json::json!({"simulator": "xiaomi", "faults": ["quota_exceeded"]}),
    )
    .await;
    assert_eq!(status, 200);
    let answer: Value = xiaomi_send(&client, xiaomi)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["code"], 200001);

    let (status, _) = control(
        &client,
        url,
        serde_json::json!({"simulator": "huawei_oauth", "faults": ["status=502"]}),
    )
    .await;
    assert_eq!(status, 200);
    let token = client
        .post(format!("{huawei}/oauth2/v3/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=12345&client_secret=x")
        .send()
        .await
        .expect("huawei answers");
    assert_eq!(token.status().as_u16(), 502);

    // Replacing one simulator's rules leaves the others; `[]` clears.
    let (_, state) = control(
        &client,
        url,
        serde_json::json!({"simulator": "apns", "faults": []}),
    )
    .await;
    assert_eq!(state["apns"]["faults"], serde_json::json!([]));
    assert_eq!(state["xiaomi"]["faults"][0], "quota_exceeded");
    assert_eq!(state["huawei_oauth"]["faults"][0], "status=502");
    assert_eq!(state["apns"]["requests"], 2);
    assert_eq!(apns_send().await, (200, String::new()));

    // A bad rule is a 400 that says why and changes nothing.
    let (status, answer) = control(
        &client,
        url,
        serde_json::json!({"simulator": "xiaomi", "faults": ["flow_control"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .expect("error")
            .contains("unknown Xiaomi fault"),
        "{answer}"
    );

    // DELETE clears every simulator.
    let cleared: Value = client
        .delete(url)
        .send()
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert_eq!(cleared["xiaomi"]["faults"], serde_json::json!([]));
    let answer: Value = xiaomi_send(&client, xiaomi)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["code"], 0);
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn a_fault_flag_for_a_simulator_not_started_or_a_bad_rule_fails_at_start() {
    for (args, needle) in [
        (
            &["xiaomi", "--apns-fault", "drop"][..],
            "no simulator \"apns\" is running",
        ),
        (
            &["xiaomi", "--xiaomi-fault", "ratio=1:drop"][..],
            "ratio=K/N",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_pushway-mock"))
            .args(args)
            .output()
            .await
            .expect("run");
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// `GET` of a URL answering JSON; the status and the body.
pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let answer = client.get(url).send().await.expect("answers");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("json"))
}

#[tokio::test]
async fn received_lists_each_device_token_a_simulator_was_sent_with_its_data() {
    let (mut child, lines) = start(
        &[
            "apns",
            "xiaomi",
            "huawei",
            "--apns-h2c",
            "--apns-no-provider-token",
        ],
        3,
    )
    .await;
    let received_url = |i: usize| lines[i]["received_url"].as_str().expect("received_url");
    let control = lines[0]["control_url"].as_str().expect("control_url");
    let base = control.trim_end_matches("/_control/faults");
    for (i, name) in ["apns", "xiaomi", "huawei"].iter().enumerate() {
        assert_eq!(
            received_url(i),
            format!("{base}/_control/received?simulator={name}")
        );
    }
    let client = reqwest::Client::new();
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let token = "ab".repeat(32);
    let apns_id = "a1b2c3d4-0000-4000-8000-000000000001";
    let answer = h2c
        .post(format!(
            "{}/3/device/{token}",
            lines[0]["base_url"].as_str().expect("url")
        ))
        .header("apns-topic", "com.example.app")
        .header("apns-push-type", "alert")
        .header("apns-id", apns_id)
        .body(r#"{"aps":{"alert":"hi"},"ext":"m1"}"#)
        .send()
        .await
        .expect("apns answers");
    assert_eq!(answer.status().as_u16(), 200);

    let xiaomi = lines[1]["base_url"].as_str().expect("url");
    let answer: Value = client
        .post(format!("{xiaomi}/v3/message/regid"))
        .header("authorization", "key=any")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("restricted_package_name=p&registration_id=r1,r2&title=t&description=d&payload=%7B%22ext%22%3A%22m2%22%7D")
        .send()
        .await
        .expect("xiaomi answers")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["code"], 0);

    // Huawei entries are what was sent, whatever the answer (here 401: no access token).
    let huawei = lines[2]["base_url"].as_str().expect("url");
    for body in [
        r#"{"message":{"data":"{\"ext\":\"m3\"}","token":["h1","h2"]}}"#,
        r#"{"validate_only":true,"message":{"data":"x","token":["h3"]}}"#,
    ] {
        let answer = client
            .post(format!("{huawei}/v1/12345/messages:send"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("huawei answers");
        assert_eq!(answer.status().as_u16(), 401);
    }

    let (status, apns) = get_json(&client, received_url(0)).await;
    assert_eq!(status, 200, "{apns}");
    assert_eq!(
        apns,
        serde_json::json!({
            "simulator": "apns", "requests": 1, "kept": 1, "complete": true, "total": 1,
            "offset": 0, "next_offset": null,
            "received": [{"token": token, "data": {"aps": {"alert": "hi"}, "ext": "m1"},
                          "apns_id": apns_id, "status": 200}]
        })
    );
    let (_, xiaomi) = get_json(&client, received_url(1)).await;
    assert_eq!(
        xiaomi["received"],
        serde_json::json!([
            {"token": "r1", "data": {"ext": "m2"}},
            {"token": "r2", "data": {"ext": "m2"}}
        ])
    );
    let (_, huawei) = get_json(&client, received_url(2)).await;
    assert_eq!(huawei["requests"], 2);
    assert_eq!(
        huawei["received"],
        serde_json::json!([
            {"token": "h1", "data": {"ext": "m3"}},
            {"token": "h2", "data": {"ext": "m3"}}
        ])
    );

    // Pages of `limit` entries, `next_offset` to go on.
    let (_, first) = get_json(&client, &format!("{}&limit=1", received_url(1))).await;
    assert_eq!(first["received"][0]["token"], "r1");
    assert_eq!(first["next_offset"], 1);
    let (_, second) = get_json(&client, &format!("{}&offset=1", received_url(1))).await;
    assert_eq!(
        second["received"],
        serde_json::json!([{"token": "r2", "data": {"ext": "m2"}}])
    );
    assert_eq!(second["next_offset"], Value::Null);

    // Mistakes are 400s that say why; other methods 405.
    for (query, needle) in [
        ("", "name the simulator"),
        ("?simulator=huawei_oauth", "no simulator \"huawei_oauth\""),
        ("?simulator=apns&limit=20001", "limit is at most 20000"),
        ("?simulator=apns&since=3", "unknown parameter"),
    ] {
        let (status, answer) = get_json(&client, &format!("{base}/_control/received{query}")).await;
        assert_eq!(status, 400, "{query}: {answer}");
        let error = answer["error"].as_str().expect("error");
        assert!(error.contains(needle), "{query}: {error}");
    }
    let answer = client
        .delete(received_url(0))
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status().as_u16(), 405);
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn received_says_when_the_recording_keeps_nothing() {
    let (mut child, lines) = start(&["xiaomi", "--recording", "off"], 1).await;
    let client = reqwest::Client::new();
    let base = lines[0]["base_url"].as_str().expect("base_url");
    assert_eq!(xiaomi_send(&client, base).await.status().as_u16(), 200);
    let url = lines[0]["received_url"].as_str().expect("received_url");
    let (status, answer) = get_json(&client, url).await;
    assert_eq!(status, 200);
    assert_eq!(answer["requests"], 1);
    assert_eq!(answer["kept"], 0);
    assert_eq!(answer["complete"], false);
    assert_eq!(answer["received"], serde_json::json!([]));
    child.kill().await.expect("kill");
}
