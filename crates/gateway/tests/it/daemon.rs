//! The daemon channel through the gateway's own port: a daemon device registers, gets a token
//! scoped to its user and device, connects to `GET /v1/apps/demo/daemon` with pushway-daemon's
//! device client, and receives exactly what the gateway rendered; offline it is queued (across a
//! restart too); logout, kick and removal revoke its tokens.

use base64::Engine;
use pushway_core::{Message, Notification, Recipient, Rendered};
use pushway_daemon::client::{ConnectOptions, Connection, Push};
use pushway_gateway::config::DaemonConfig;
use pushway_gateway::simulate::DEMO_APP;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Answer, Harness, assert_problem, c2c, devices_of, recipient};

/// The demo app's daemon signing secret in these tests.
pub const SECRET: &str = "gateway daemon test secret, 32+ bytes";
/// A token lifetime that is not the default, to see it used.
const LIFETIME_SECS: u64 = 3600;

/// The harness with a daemon channel on the demo app.
pub async fn start() -> Harness {
    Harness::start_with(|config, _| {
        let mut daemon = DaemonConfig::with_secret(SECRET);
        daemon.token_lifetime_secs = LIFETIME_SECS;
        config.apps.get_mut(DEMO_APP).expect("demo").daemon = Some(daemon);
    })
    .await
}

/// The WebSocket URL of the demo app's daemon endpoint.
pub fn ws_url(h: &Harness) -> String {
    format!(
        "{}/v1/apps/demo/daemon",
        h.base.replacen("http://", "ws://", 1)
    )
}

/// Registers `device` of `user` as a daemon device (no token: the gateway sets it).
pub async fn register(h: &Harness, user: &str, device: &str) -> Answer {
    let path = format!("/v1/apps/demo/users/{user}/devices/{device}");
    h.call(Method::PUT, &path, Some(json!({"kind": "daemon"})))
        .await
}

/// `POST …/daemon-token` with the demo key.
pub async fn token_answer(h: &Harness, user: &str, device: &str) -> Answer {
    let path = format!("/v1/apps/demo/users/{user}/devices/{device}/daemon-token");
    h.call(Method::POST, &path, None).await
}

/// A token for `device` of `user`.
pub async fn token(h: &Harness, user: &str, device: &str) -> String {
    let a = token_answer(h, user, device).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["token"].as_str().expect("token").to_owned()
}

pub async fn connect(h: &Harness, token: &str) -> Result<Connection, u16> {
    Connection::connect(&ws_url(h), token, &ConnectOptions::default())
        .await
        .map_err(|e| e.close_code().unwrap_or(0))
}

/// `future`, failing the test after 10 s (a push or a close that never comes).
pub async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(10), future)
        .await
        .expect("waited over 10 s")
}

/// Receives one push and acks it, in the background (so a `?wait` POST sees `delivered`).
fn receive_one(mut device: Connection) -> tokio::task::JoinHandle<(Connection, Push)> {
    tokio::spawn(async move {
        let push = within(device.next()).await.expect("a push");
        device.ack(&push.id).await.expect("ack");
        (device, push)
    })
}

/// A C2C message from bob to alice with `unread`.
fn to_alice(text: &str, unread: u32) -> Value {
    json!({"message": c2c("bob", "alice", text), "recipients": [{"user_id": "alice", "unread": unread}]})
}

/// What pushway-core renders for `request` (as [`to_alice`] makes it) under `message_id`.
fn rendered(request: &Value, message_id: &str) -> Notification {
    let mut message = request["message"].clone();
    message["id"] = json!(message_id);
    let message: Message = pushway_core::json::from_str(&message.to_string()).expect("message");
    let mut alice = Recipient::new("alice");
    alice.unread =
        u32::try_from(request["recipients"][0]["unread"].as_u64().expect("unread")).expect("u32");
    match pushway_core::render(&message, &alice).expect("renders") {
        Rendered::Notification(n) => n,
        Rendered::Suppressed(reason) => panic!("suppressed: {reason:?}"),
    }
}

/// The JWT's claims, unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[tokio::test]
async fn a_daemon_device_gets_a_scoped_token_connects_on_the_api_port_and_receives_the_push() {
    let h = start().await;
    let a = register(&h, "alice", "phone").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(
        (&a.body["kind"], &a.body["credential"], &a.body["token"]),
        (&json!("daemon"), &json!("daemon"), &json!("alice/phone"))
    );

    let a = token_answer(&h, "alice", "phone").await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let token = a.body["token"].as_str().expect("token").to_owned();
    let c = claims(&token);
    assert_eq!(
        (&c["sub"], &c["dev"], &c["gen"], &c["aud"]),
        (
            &json!("alice"),
            &json!("phone"),
            &json!(0),
            &json!("pushway-daemon")
        )
    );
    let (iat, exp) = (
        c["iat"].as_u64().expect("iat"),
        c["exp"].as_u64().expect("exp"),
    );
    assert_eq!(exp - iat, LIFETIME_SECS);
    assert_eq!(a.body["expires_at_ms"], json!(exp * 1000));

    let device = connect(&h, &token).await.expect("connects");
    assert_eq!(device.device_id(), "phone");
    let receiving = receive_one(device);
    let request = to_alice("hello alice", 3);
    let a = h.post_message("d1", request.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let id = a.body["message_id"].as_str().expect("id").to_owned();
    let (device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, id);
    assert_eq!(push.notification, rendered(&request, &id));
    let alice = devices_of(&a.body, "alice");
    assert_eq!(alice.as_array().map(Vec::len), Some(1), "{alice}");
    assert_eq!(
        (
            &alice[0]["device_id"],
            &alice[0]["kind"],
            &alice[0]["state"],
            &alice[0]["attempts"],
            &alice[0]["last_outcome"]
        ),
        (
            &json!("phone"),
            &json!("daemon"),
            &json!("delivered"),
            &json!(1),
            &json!("delivered")
        )
    );
    device.close().await;
}

#[tokio::test]
async fn an_offline_device_is_queued_and_gets_the_push_on_connect_even_after_a_restart() {
    let mut h = start().await;
    register(&h, "alice", "phone").await;
    let token = token(&h, "alice", "phone").await;
    let request = to_alice("while you were away", 1);
    let a = h.post_message("q1", request.clone()).await;
    let id = a.body["message_id"].as_str().expect("id").to_owned();
    let alice = devices_of(&a.body, "alice");
    assert_eq!(
        (&alice[0]["state"], &alice[0]["last_outcome"]),
        (&json!("queued"), &json!("queued"))
    );

    // The hub's queue is a SQLite file of the app's own, beside the gateway's database; on a
    // Postgres store, in that database.
    let queue_file = h.db.with_file_name("daemon-demo.sqlite3");
    if crate::support::on_postgres() {
        assert!(!queue_file.exists(), "{}", queue_file.display());
        let queued = "SELECT count(*) FROM daemon_queue WHERE scope = 'demo'";
        assert_eq!(h.scalar(queued).await, 1);
    } else {
        assert!(queue_file.exists(), "{}", queue_file.display());
    }
    h.stop(std::time::Duration::from_secs(5)).await;
    h.restart().await;

    // The token issued before the restart still works, and the queued push arrives, once.
    let mut device = connect(&h, &token).await.expect("connects");
    let push = within(device.next()).await.expect("the queued push");
    assert_eq!(push.id, id);
    assert_eq!(push.notification, rendered(&request, &id));
    device.ack(&push.id).await.expect("ack");

    // A later message shows the queue held nothing else.
    let receiving = receive_one(device);
    let a = h.post_message("q2", to_alice("second", 2)).await;
    let (_device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, a.body["message_id"].as_str().expect("id"));
    assert_eq!(devices_of(&a.body, "alice")[0]["state"], "delivered");
}

#[tokio::test]
async fn tokens_reach_only_their_own_user_and_device() {
    let h = start().await;
    // The same device id under two users: two devices.
    register(&h, "alice", "phone").await;
    register(&h, "bob", "phone").await;
    let alice = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("alice connects");

    // No token for a device of another user under this user's path, nor for a vendor device.
    assert_problem(
        &token_answer(&h, "carol", "phone").await,
        404,
        "unknown-device",
    );
    h.device("carol", "mi", "xiaomi", "regid-carol").await;
    assert_problem(
        &token_answer(&h, "carol", "mi").await,
        409,
        "not-a-daemon-device",
    );

    // A token signed with another secret (another app's, say) naming bob's device is refused.
    let forged = pushway_daemon::DeviceAuth::hs256(b"another app's daemon secret, 32 bytes")
        .expect("secret")
        .issue("bob", "phone", 0, std::time::Duration::from_secs(600))
        .expect("token");
    assert_eq!(connect(&h, &forged).await.err(), Some(4002));

    // A message to bob waits in bob's queue; alice's connection gets nothing of it.
    let a = h
        .post_message(
            "b1",
            json!({"message": c2c("dave", "bob", "for bob"), "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(devices_of(&a.body, "bob")[0]["state"], "queued");
    let receiving = receive_one(alice);
    let a = h.post_message("a1", to_alice("for alice", 1)).await;
    let (_alice, push) = within(receiving).await.expect("alice's task");
    assert_eq!(push.id, a.body["message_id"].as_str().expect("id"));
}

#[tokio::test]
async fn logout_kick_and_removal_revoke_the_devices_tokens() {
    let h = start().await;
    register(&h, "alice", "phone").await;
    let old = token(&h, "alice", "phone").await;
    let mut device = connect(&h, &old).await.expect("connects");

    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/logout",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    // The live connection is closed, and the token no longer connects.
    let closed = within(device.next()).await.expect_err("closed");
    assert_eq!(closed.close_code(), Some(4009));
    assert_eq!(connect(&h, &old).await.err(), Some(4009));
    assert_problem(
        &token_answer(&h, "alice", "phone").await,
        409,
        "device-not-logged-in",
    );
    // While logged out it gets nothing: the message leaves it out.
    let a = h.post_message("l1", to_alice("not for you", 1)).await;
    assert_eq!(
        recipient(&a.body, "alice")["suppressed_devices"],
        json!([{"device_id": "phone", "reason": "recipient_logged_out"}])
    );

    // Logged in again, a new token connects; the first push it gets is the next message.
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/login",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let fresh = token(&h, "alice", "phone").await;
    assert_eq!(claims(&fresh)["gen"], 1);
    let receiving = receive_one(connect(&h, &fresh).await.expect("connects"));
    let a = h.post_message("l2", to_alice("welcome back", 2)).await;
    let (mut device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, a.body["message_id"].as_str().expect("id"));

    // Kicked: closed and refused the same way.
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/kicked",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        within(device.next())
            .await
            .expect_err("closed")
            .close_code(),
        Some(4009)
    );
    assert_eq!(connect(&h, &fresh).await.err(), Some(4009));

    // Removed: a token issued before the removal is refused.
    h.call(
        Method::POST,
        "/v1/apps/demo/users/alice/devices/phone/login",
        None,
    )
    .await;
    let last = token(&h, "alice", "phone").await;
    let a = h
        .call(
            Method::DELETE,
            "/v1/apps/demo/users/alice/devices/phone",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(connect(&h, &last).await.err(), Some(4009));
    assert_problem(
        &token_answer(&h, "alice", "phone").await,
        404,
        "unknown-device",
    );
}

#[tokio::test]
async fn logout_of_all_and_a_change_of_kind_revoke_daemon_tokens() {
    let h = start().await;
    register(&h, "alice", "phone").await;
    register(&h, "alice", "tablet").await;
    let phone = token(&h, "alice", "phone").await;
    let tablet = token(&h, "alice", "tablet").await;
    let mut live = connect(&h, &phone).await.expect("connects");
    let a = h
        .call(Method::POST, "/v1/apps/demo/users/alice/logout", None)
        .await;
    assert_eq!(a.body["logged_out"], 2);
    assert_eq!(
        within(live.next()).await.expect_err("closed").close_code(),
        Some(4009)
    );
    assert_eq!(connect(&h, &phone).await.err(), Some(4009));
    assert_eq!(connect(&h, &tablet).await.err(), Some(4009));

    // A daemon device registered again as another kind loses its tokens too.
    register(&h, "alice", "watch").await;
    let watch = token(&h, "alice", "watch").await;
    h.device("alice", "watch", "xiaomi", "regid-watch").await;
    assert_eq!(connect(&h, &watch).await.err(), Some(4009));
}
