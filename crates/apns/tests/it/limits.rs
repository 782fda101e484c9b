//! The 4096-byte payload limit and the 64-byte collapse id, enforced before sending.

use pushway_apns::{CollapseId, MAX_PAYLOAD};
use pushway_core::Reason;

use crate::*;

#[tokio::test]
async fn oversize_body_is_shortened_to_fit() {
    let env = h2c().await;
    let mut n = group();
    n.body = "很长的消息".repeat(600);
    assert!(env.send(&n).await.is_delivered());
    let r = env.sim.requests().pop().unwrap();
    assert_eq!(r.status(), Some(200));
    assert!(
        r.request.body.len() <= MAX_PAYLOAD,
        "{}",
        r.request.body.len()
    );
    assert!(
        r.request.body.len() > MAX_PAYLOAD - 16,
        "{}",
        r.request.body.len()
    );
    let body = r.request.json();
    let text = body["aps"]["alert"]["body"].as_str().unwrap();
    assert!(text.ends_with('…'));
    assert!(n.body.starts_with(text.trim_end_matches('…')));
    assert_eq!(body["ext"], "{\"route\":\"chat/g1\"}");
}

#[tokio::test]
async fn oversize_ext_is_rejected_before_any_request() {
    let env = h2c().await;
    let mut n = c2c();
    n.app_data.ext = Some(pushway_core::Ext::from("x".repeat(MAX_PAYLOAD).as_str()));
    let outcome = env.send(&n).await;
    assert_eq!(outcome.as_str(), "rejected");
    assert_eq!(outcome.reason().unwrap().code(), Reason::PAYLOAD_TOO_LARGE);
    assert_eq!(env.sim.request_count(), 0);
}

#[tokio::test]
async fn oversize_collapse_id_is_rejected_before_any_request() {
    let env = start(false, |b| b, |b| b.collapse_id(CollapseId::ConversationId)).await;
    let mut n = group();
    n.app_data.conversation_id = "g".repeat(65);
    let outcome = env.send(&n).await;
    assert_eq!(outcome.as_str(), "rejected");
    assert_eq!(outcome.reason().unwrap().code(), "collapse_id_invalid");
    assert_eq!(env.sim.request_count(), 0);
    n.app_data.conversation_id = "g".repeat(64);
    assert!(env.send(&n).await.is_delivered());
}
