//! The OpenAPI document: served without a key, the same as the committed `openapi.json`, and
//! describing what the server answers.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Answer, Harness};

/// The committed document, at the repository root.
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");

#[tokio::test]
async fn committed_document_is_current() {
    let h = Harness::start().await;
    let response = h
        .http
        .get(format!("{}/v1/openapi.json", h.base))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let served = response.text().await.expect("body");
    assert!(
        served == pushway_gateway::api::openapi_json(),
        "the served document is not the generated one"
    );
    let doc: Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");

    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &served).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    if committed != served {
        let line = committed
            .lines()
            .zip(served.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(served.lines().count()));
        panic!(
            "openapi.json (repository root) differs from the document the gateway serves, first \
             at line {}; regenerate it with `UPDATE_OPENAPI=1 cargo nextest run -p \
             pushway-gateway openapi` and commit it",
            line + 1
        );
    }
}

/// Every documented operation, called with the demo key on placeholder ids and no body,
/// answers a status the document lists for it, with a problem `type` the document pins.
#[tokio::test]
async fn every_operation_answers_as_documented() {
    let h = Harness::start().await;
    let doc: Value = serde_json::from_str(&pushway_gateway::api::openapi_json()).expect("JSON");
    let paths = doc["paths"].as_object().expect("paths");
    let mut calls = 0;
    for (template, item) in paths {
        let path = template
            .replace("{app}", "demo")
            .replace("{user}", "u1")
            .replace("{device}", "d1")
            .replace("{id}", "m1");
        for (method, operation) in item.as_object().expect("path item") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let answer = h
                .send(method.clone(), &path, Some(crate::support::KEY), &[], None)
                .await;
            assert_documented(&doc, operation, &answer, &format!("{method} {path}"));
            calls += 1;
        }
    }
    // Guards against a document that lost its paths; update it when an operation is added.
    assert_eq!(calls, 18, "operations in the document");
}

fn assert_documented(doc: &Value, operation: &Value, answer: &Answer, what: &str) {
    let status = answer.status.as_u16().to_string();
    let response = &operation["responses"][&status];
    assert!(
        response.is_object(),
        "{what}: {status} is not documented: {:?}",
        answer.body
    );
    let content = &response["content"];
    if answer.status == StatusCode::NO_CONTENT {
        assert!(content.is_null(), "{what}: 204 with content");
        return;
    }
    assert!(
        content[&answer.content_type].is_object(),
        "{what}: {status} as {:?} is not documented",
        answer.content_type
    );
    if answer.content_type == "application/problem+json" {
        let pinned =
            &content[&answer.content_type]["schema"]["allOf"][1]["properties"]["type"]["enum"];
        let types = pinned.as_array().expect("pinned problem types");
        assert!(
            types.contains(&answer.body["type"]),
            "{what}: problem {} is not documented for {status}",
            answer.body["type"]
        );
        assert!(doc["components"]["schemas"]["Problem"].is_object());
    }
}
