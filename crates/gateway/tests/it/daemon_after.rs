//! Daemon deliveries after their send: a `queued` push acked on a later connection (or after
//! the ack timeout) shows `delivered` in the status API; a logout, a kick or a removal empties
//! the device's queue (and a login after one empties it again, for sends that were under way),
//! so its next connection gets nothing queued before, and those deliveries show `dead`. And
//! `serve --simulate`'s demo app serves daemon devices.

use pushway_gateway::config::DaemonConfig;
use pushway_gateway::simulate::{self, DEMO_APP};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::daemon::{SECRET, connect, register, start, token, within};
use crate::support::{Harness, KEY, c2c, devices_of};

/// A C2C message from bob to alice.
fn to_alice(text: &str) -> Value {
    json!({"message": c2c("bob", "alice", text), "recipients": [{"user_id": "alice"}]})
}

/// alice's only delivery in a status body: (state, last outcome, last reason, attempts).
fn alice_phone(status: &Value) -> (Value, Value, Value, Value) {
    let d = &devices_of(status, "alice")[0];
    (
        d["state"].clone(),
        d["last_outcome"].clone(),
        d["last_reason"].clone(),
        d["attempts"].clone(),
    )
}

/// Posts `to_alice(text)` under `key` and checks alice's phone is `queued`; the message id.
async fn queued_for_alice(h: &Harness, key: &str, text: &str) -> String {
    let a = h.post_message(key, to_alice(text)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(
        alice_phone(&a.body),
        (json!("queued"), json!("queued"), Value::Null, json!(1))
    );
    a.body["message_id"].as_str().expect("id").to_owned()
}

async fn status(h: &Harness, id: &str) -> Value {
    let a = h
        .call(Method::GET, &format!("/v1/apps/demo/messages/{id}"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

#[tokio::test]
async fn a_queued_push_acked_on_a_later_connection_shows_delivered() {
    let h = start().await;
    register(&h, "alice", "phone").await;
    let token = token(&h, "alice", "phone").await;
    let id = queued_for_alice(&h, "late-1", "while you were away").await;

    let mut device = connect(&h, &token).await.expect("connects");
    let push = within(device.next()).await.expect("the queued push");
    assert_eq!(push.id, id);
    // Not acked yet: still queued.
    assert_eq!(alice_phone(&status(&h, &id).await).0, json!("queued"));
    device.ack(&push.id).await.expect("ack");
    let done = h
        .status_until(&id, |s| alice_phone(s).0 == "delivered")
        .await;
    // One send: the ack came on the later connection, nothing was sent again.
    assert_eq!(
        alice_phone(&done),
        (
            json!("delivered"),
            json!("delivered"),
            Value::Null,
            json!(1)
        )
    );
    device.close().await;
}

#[tokio::test]
async fn an_ack_after_the_ack_timeout_turns_queued_into_delivered() {
    let h = Harness::start_with(|config, _| {
        let mut daemon = DaemonConfig::with_secret(SECRET);
        daemon.ack_timeout_ms = 100;
        config.apps.get_mut(DEMO_APP).expect("demo").daemon = Some(daemon);
    })
    .await;
    register(&h, "alice", "phone").await;
    let mut device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    // The device is online but acks only after the send has given up waiting.
    let receiving = tokio::spawn(async move {
        let push = within(device.next()).await.expect("a push");
        (device, push)
    });
    let id = queued_for_alice(&h, "slow-1", "slow reader").await;
    let (mut device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, id);
    device.ack(&push.id).await.expect("ack");
    let done = h
        .status_until(&id, |s| alice_phone(s).0 == "delivered")
        .await;
    assert_eq!(
        alice_phone(&done),
        (
            json!("delivered"),
            json!("delivered"),
            Value::Null,
            json!(1)
        )
    );
}

#[tokio::test]
async fn logout_empties_the_queue_so_the_next_connection_gets_only_newer_pushes() {
    let h = start().await;
    register(&h, "alice", "phone").await;
    let old = queued_for_alice(&h, "out-1", "sent before the logout").await;

    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/logout",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    // Settled by the time the logout answers.
    assert_eq!(
        alice_phone(&status(&h, &old).await),
        (
            json!("dead"),
            json!("dropped"),
            json!("recipient_logged_out"),
            json!(1)
        )
    );

    // Logged in again: the first push the device gets is the next message, not the old one.
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/login",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let mut device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    let new = h.post_nowait("out-2", to_alice("after the login")).await;
    let push = within(device.next()).await.expect("a push");
    assert_eq!(push.id, new);
    device.ack(&push.id).await.expect("ack");
    h.status_until(&new, |s| alice_phone(s).0 == "delivered")
        .await;
    assert_eq!(alice_phone(&status(&h, &old).await).0, json!("dead"));
}

#[tokio::test]
async fn a_push_queued_while_logged_out_is_dropped_when_the_device_logs_in_again() {
    let h = start().await;
    register(&h, "alice", "phone").await;
    let late = queued_for_alice(&h, "late-1", "under way at the logout").await;
    // The hub's own queue file, opened beside the running gateway (SQLite, WAL), or its queues
    // in the Postgres database: it holds the push as the worker queued it.
    let queue: std::sync::Arc<dyn pushway_daemon::QueueStore> = match &h.config().store.url {
        Some(url) => std::sync::Arc::new(
            pushway_daemon::PgStore::connect(url.expose(), "demo")
                .await
                .expect("the daemon queue in Postgres"),
        ),
        None => std::sync::Arc::new(
            pushway_daemon::SqliteStore::open(h.db.with_file_name("daemon-demo.sqlite3"))
                .await
                .expect("the daemon queue file"),
        ),
    };
    let key = pushway_daemon::DeviceKey::new("alice", "phone").expect("key");
    let queued = queue.pending(&key, 0, 0, 10).await.expect("pending").pushes;
    assert_eq!(queued.len(), 1);

    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/logout",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(queue.len(&key).await.expect("len"), 0);
    // A send that was under way at the logout queues the push after the logout emptied the
    // queue (as the worker's append would).
    let push = pushway_daemon::NewPush {
        id: &queued[0].id,
        frame: &queued[0].frame,
        expires_at_ms: queued[0].expires_at_ms,
    };
    queue.append(&key, push, 10).await.expect("append");

    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/login",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(queue.len(&key).await.expect("len"), 0);
    drop(queue);
    assert_eq!(
        alice_phone(&status(&h, &late).await),
        (
            json!("dead"),
            json!("dropped"),
            json!("recipient_logged_out"),
            json!(1)
        )
    );
    let mut device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    let new = h.post_nowait("late-2", to_alice("after the login")).await;
    let push = within(device.next()).await.expect("a push");
    assert_eq!(push.id, new);
    device.ack(&push.id).await.expect("ack");
    h.status_until(&new, |s| alice_phone(s).0 == "delivered")
        .await;

    // Logging in a device that is logged in already keeps its queue.
    device.close().await;
    let kept = queued_for_alice(&h, "late-3", "while it is away").await;
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/login",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let mut device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    assert_eq!(within(device.next()).await.expect("a push").id, kept);
}

#[tokio::test]
async fn a_kick_or_a_removal_empties_the_queue_too() {
    let h = start().await;
    register(&h, "alice", "phone").await;
    let kicked = queued_for_alice(&h, "kick-1", "before the kick").await;
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/alice/devices/phone/kicked",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        alice_phone(&status(&h, &kicked).await),
        (
            json!("dead"),
            json!("dropped"),
            json!("recipient_kicked_offline"),
            json!(1)
        )
    );

    h.call(
        Method::POST,
        "/v1/apps/demo/users/alice/devices/phone/login",
        None,
    )
    .await;
    let removed = queued_for_alice(&h, "rm-1", "before the removal").await;
    let a = h
        .call(
            Method::DELETE,
            "/v1/apps/demo/users/alice/devices/phone",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        alice_phone(&status(&h, &removed).await),
        (
            json!("dead"),
            json!("dropped"),
            json!("device_removed"),
            json!(1)
        )
    );

    // Registered again under the same id, the device starts with an empty queue.
    register(&h, "alice", "phone").await;
    let mut device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    let new = h.post_nowait("rm-2", to_alice("a new life")).await;
    assert_eq!(within(device.next()).await.expect("a push").id, new);
}

#[tokio::test]
async fn the_simulate_demo_app_serves_daemon_devices_with_a_secret_never_shown() {
    let (_demo_sims, app) = simulate::demo(KEY).await.expect("simulators");
    let daemon = app
        .daemon
        .clone()
        .expect("the demo app has a daemon channel");
    let secret = daemon.secret.as_ref().expect("an inline secret").expose();
    assert!(secret.len() >= 32, "{} bytes", secret.len());
    assert!(!format!("{app:?}").contains(secret));
    let (_, again) = simulate::demo(KEY).await.expect("simulators");
    assert_ne!(
        again
            .daemon
            .and_then(|d| d.secret)
            .map(|s| s.expose().to_owned()),
        Some(secret.to_owned()),
        "a new secret per start"
    );

    // The gateway as `serve --simulate` runs it: the demo app exactly as `demo` made it.
    let h = Harness::start_with(move |config, _| {
        config.apps.insert(DEMO_APP.to_owned(), app);
    })
    .await;
    let a = register(&h, "alice", "phone").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let mut device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    let id = h.post_nowait("sim-1", to_alice("simulated")).await;
    let push = within(device.next()).await.expect("a push");
    assert_eq!(
        (push.id.as_str(), push.notification.body.as_str()),
        (id.as_str(), "simulated")
    );
    device.ack(&push.id).await.expect("ack");
    h.status_until(&id, |s| alice_phone(s).0 == "delivered")
        .await;
}
