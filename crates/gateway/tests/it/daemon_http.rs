//! The daemon channel's HTTP side refuses what it must, each with its documented problem: bad
//! WebSocket upgrades (never a 5xx), keys of other apps, apps without a daemon channel, daemon
//! registrations that name their own token; and its configuration is checked at start.

use pushway_gateway::config::{Config, DaemonConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::daemon::{register, start, token_answer};
use crate::support::{Harness, OTHER_KEY, assert_problem};

/// A response read off a raw socket: status, headers (lower-case names), JSON body.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET {path}` with `headers` on a fresh connection (closed after the answer), so the
/// upgrade headers reach the server exactly as written.
async fn raw_get(h: &Harness, path: &str, headers: &[&str]) -> Raw {
    let addr = h.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    // Up to the end of the body the Content-Length announces.
    loop {
        let n = tcp.read(&mut buf).await.expect("read");
        bytes.extend_from_slice(&buf[..n]);
        if n == 0 || complete(&bytes) {
            break;
        }
    }
    let text = String::from_utf8(bytes).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

fn complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    // An upgrade's answer has no body: the socket now speaks WebSocket.
    if head.starts_with("HTTP/1.1 101") {
        return true;
    }
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    length.is_some_and(|l| body.len() >= l)
}

fn assert_raw_problem(raw: &Raw, status: u16, slug: &str) {
    assert_eq!(raw.status, status, "{:?}", raw.body);
    assert_eq!(raw.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        raw.body["type"],
        format!("/problems/{slug}"),
        "{:?}",
        raw.body
    );
    assert_eq!(raw.body["status"], status);
}

const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

#[tokio::test]
async fn bad_upgrade_requests_are_4xx_problems() {
    let h = start().await;
    let path = "/v1/apps/demo/daemon";
    let upgrade = ["Connection: Upgrade", "Upgrade: websocket"];
    let cases: [(&[&str], u16, &str); 5] = [
        (&["Connection: close"], 400, "invalid-websocket-upgrade"),
        (
            &[
                "Connection: close",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                KEY,
            ],
            400,
            "invalid-websocket-upgrade",
        ),
        (
            &[upgrade[0], upgrade[1], KEY],
            400,
            "invalid-websocket-upgrade",
        ),
        (
            &[
                upgrade[0],
                upgrade[1],
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: short",
            ],
            400,
            "invalid-websocket-upgrade",
        ),
        (
            &[upgrade[0], upgrade[1], "Sec-WebSocket-Version: 8", KEY],
            426,
            "unsupported-websocket-version",
        ),
    ];
    for (headers, status, slug) in cases {
        let raw = raw_get(&h, path, headers).await;
        assert_raw_problem(&raw, status, slug);
        if status == 426 {
            assert_eq!(raw.header("sec-websocket-version"), Some("13"));
        }
    }
    // A good handshake is answered 101 with the RFC 6455 accept key of the sample nonce.
    let headers = [upgrade[0], upgrade[1], "Sec-WebSocket-Version: 13", KEY];
    let raw = raw_get(&h, path, &headers).await;
    assert_eq!(raw.status, 101);
    assert_eq!(
        raw.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );

    // Unknown apps, apps without a daemon channel, other methods.
    let good = [upgrade[0], upgrade[1], "Sec-WebSocket-Version: 13", KEY];
    assert_raw_problem(
        &raw_get(&h, "/v1/apps/nope/daemon", &good).await,
        404,
        "unknown-app",
    );
    assert_raw_problem(
        &raw_get(&h, "/v1/apps/other/daemon", &good).await,
        404,
        "no-daemon-channel",
    );
    let a = h
        .send(Method::POST, path, None, &[], Some("{}".to_owned()))
        .await;
    assert_problem(&a, 405, "method-not-allowed");
}

#[tokio::test]
async fn the_token_endpoint_takes_only_the_apps_own_key() {
    let h = start().await;
    register(&h, "alice", "phone").await;
    let path = "/v1/apps/demo/users/alice/devices/phone/daemon-token";
    let a = h.send(Method::POST, path, Some(OTHER_KEY), &[], None).await;
    assert_problem(&a, 403, "forbidden");
    let a = h.send(Method::POST, path, None, &[], None).await;
    assert_problem(&a, 401, "unauthorized");
    // The other app, with its own key, has no daemon channel.
    let a = h
        .send(
            Method::POST,
            "/v1/apps/other/users/alice/devices/phone/daemon-token",
            Some(OTHER_KEY),
            &[],
            None,
        )
        .await;
    assert_problem(&a, 404, "no-daemon-channel");
    assert_eq!(
        token_answer(&h, "alice", "phone").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn daemon_registrations_take_no_token_of_their_own() {
    let h = start().await;
    let path = "/v1/apps/demo/users/alice/devices/phone";
    let cases = [
        (json!({"kind": "daemon", "token": "bob/phone"}), "token"),
        (
            json!({"kind": "daemon", "credential": "demo"}),
            "credential",
        ),
        (json!({"kind": "xiaomi", "token": "regid"}), "credential"),
        (json!({"kind": "xiaomi", "credential": "demo"}), "token"),
    ];
    for (body, field) in cases {
        let a = h.call(Method::PUT, path, Some(body.clone())).await;
        assert_problem(&a, 422, "invalid-field");
        assert_eq!(a.body["field"], field, "{body}");
    }
    // A device id with '/' is no daemon address.
    let a = h
        .call(
            Method::PUT,
            "/v1/apps/demo/users/alice/devices/a%2Fb",
            Some(json!({"kind": "daemon"})),
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "device_id");
    assert_eq!(h.count("devices").await, 0);
    // The gateway's own values, sent back, are accepted.
    let body = json!({"kind": "daemon", "credential": "daemon", "token": "alice/phone"});
    let a = h.call(Method::PUT, path, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    // An app without a daemon channel has no daemon devices.
    let a = h
        .send(
            Method::PUT,
            "/v1/apps/other/users/alice/devices/phone",
            Some(OTHER_KEY),
            &[],
            Some(json!({"kind": "daemon"}).to_string()),
        )
        .await;
    assert_problem(&a, 422, "unsupported-token-kind");
}

#[test]
fn daemon_settings_are_checked_and_the_secret_never_shown() {
    let check = |daemon: DaemonConfig| {
        let mut config = Config::default();
        let mut app = pushway_gateway::config::AppConfig::default();
        app.daemon = Some(daemon);
        config.apps.insert("chat".to_owned(), app);
        pushway_gateway::check(&config).map_err(|e| e.to_string())
    };
    let short = check(DaemonConfig::with_secret("too short a secret"));
    assert_eq!(
        short.err().as_deref(),
        Some("apps.chat.daemon.secret: the HS256 secret must be at least 32 bytes, got 18")
    );
    let none = check(DaemonConfig::default());
    assert_eq!(
        none.err().as_deref(),
        Some("apps.chat.daemon.secret: secret or secret_file is required")
    );
    let mut long = DaemonConfig::with_secret(crate::daemon::SECRET);
    long.token_lifetime_secs = 31 * 86_400;
    assert_eq!(
        check(long).err().as_deref(),
        Some("apps.chat.daemon.token_lifetime_secs: must be 60 to 2592000 seconds")
    );
    let mut slow = DaemonConfig::with_secret(crate::daemon::SECRET);
    slow.ack_timeout_ms = 10_000;
    assert_eq!(
        check(slow).err().as_deref(),
        Some("apps.chat.daemon.ack_timeout_ms: must be 1 to 9999 (below worker.send_timeout_secs)")
    );
    let ok = check(DaemonConfig::with_secret(crate::daemon::SECRET)).expect("valid");
    assert_eq!(ok, ["app chat: 0 API key(s), channels: daemon/daemon"]);
    let debug = format!("{:?}", DaemonConfig::with_secret(crate::daemon::SECRET));
    assert!(!debug.contains("32+ bytes"), "{debug}");
}

#[tokio::test]
async fn an_unusable_id_in_the_token_path_is_the_documented_422() {
    let h = start().await;
    // A control character in the device id (schemathesis found it once the demo app had a
    // daemon channel: the answer was right, the document did not list it).
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/%C2%9B/daemon-token",
            None,
        )
        .await;
    assert_problem(&a, 422, "invalid-field");
    assert_eq!(a.body["field"], "device_id");
    let doc: Value =
        serde_json::from_str(&pushway_gateway::api::openapi_json()).expect("the document");
    let responses = &doc["paths"]["/v1/apps/{app}/users/{user}/devices/{device}/daemon-token"]["post"]
        ["responses"];
    assert!(responses["422"].is_object(), "{responses}");
}
