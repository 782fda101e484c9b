//! The daemon channel's secret rotated while running: connected devices are disconnected, tokens
//! of the old secret are refused, tokens issued after the rotation connect and get their pushes.

use pushway_gateway::app::{CredentialConfig, CredentialKind};
use pushway_gateway::config::DaemonConfig;
use pushway_gateway::service::Change;
use reqwest::StatusCode;
use serde_json::json;

use crate::daemon::{connect, register, start, token, within};
use crate::support::{c2c, devices_of};

const NEW_SECRET: &str = "the rotated daemon secret, 32+ bytes long";

#[tokio::test]
async fn a_rotated_daemon_secret_disconnects_devices_and_only_new_tokens_connect() {
    let h = start().await;
    let a = register(&h, "alice", "phone").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let old_token = token(&h, "alice", "phone").await;
    let mut device = connect(&h, &old_token).await.expect("connects");

    let running = h.config().apps["demo"].daemon.clone().expect("a daemon");
    let mut rotated = DaemonConfig::with_secret(NEW_SECRET);
    rotated.token_lifetime_secs = running.token_lifetime_secs;
    let changed = h
        .gateway()
        .service()
        .put_credential(
            "demo",
            CredentialKind::Daemon,
            "daemon",
            CredentialConfig::Daemon(rotated),
        )
        .await
        .expect("the new secret is accepted");
    assert_eq!(
        (changed.item.as_str(), changed.change),
        ("daemon", Change::Rotated)
    );

    // The old hub closed the connection (1001, going away): the device reconnects.
    let closed = within(device.next()).await.expect_err("disconnected");
    assert_eq!(closed.close_code(), Some(1001));
    // Its old token was signed with the old secret: refused (4002, invalid token).
    assert_eq!(connect(&h, &old_token).await.err(), Some(4002));

    let new_token = token(&h, "alice", "phone").await;
    let mut device = connect(&h, &new_token).await.expect("a new token connects");
    let receiving = tokio::spawn(async move {
        let push = within(device.next()).await.expect("a push");
        device.ack(&push.id).await.expect("ack");
        push
    });
    let a = h
        .post_message(
            "after-rotation",
            json!({"message": c2c("bob", "alice", "hi"), "recipients": [{"user_id": "alice"}]}),
        )
        .await;
    let push = within(receiving).await.expect("device task");
    assert_eq!(a.body["message_id"], json!(push.id));
    let alice = devices_of(&a.body, "alice");
    assert_eq!(
        (&alice[0]["state"], &alice[0]["attempts"]),
        (&json!("delivered"), &json!(1)),
        "{:#}",
        a.body
    );
}
