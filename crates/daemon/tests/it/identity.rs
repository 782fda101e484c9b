//! Connections and queues belong to a user's device, not to a device id; an older token cannot
//! take a device over; tokens can be revoked and cannot live too long.

use std::time::{Duration, SystemTime};

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::protocol::ServerFrame;
use pushway_daemon::{CloseReason, DeviceAuth, Hub, SqliteStore};

use crate::support::*;

fn hello(token: &str) -> String {
    format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#)
}

/// A raw connection that said hello with `token`; the caller reads the answer.
async fn raw_hello(url: &str, token: &str) -> RawWs {
    let mut ws = raw(url).await;
    send_text(&mut ws, &hello(token)).await;
    ws
}

#[tokio::test]
async fn two_users_with_the_same_device_id_have_separate_queues() {
    let t = TestHub::start(|b| b).await;
    for (user, id) in [("alice", "for-alice"), ("bob", "for-bob")] {
        let outcomes = t
            .provider
            .send(&notification(id), &[device_of(user, "phone-1")])
            .await;
        assert_eq!(outcomes, [Outcome::Queued]);
    }
    assert_eq!(t.hub.queue_len("alice", "phone-1").await.unwrap(), 1);
    assert_eq!(t.hub.queue_len("bob", "phone-1").await.unwrap(), 1);

    let mut alice = raw_authenticated(&t.url(), &t.token_of("alice", "phone-1")).await;
    let mut bob = raw_authenticated(&t.url(), &t.token_of("bob", "phone-1")).await;
    for (ws, expected) in [(&mut alice, "for-alice"), (&mut bob, "for-bob")] {
        match next_frame(ws).await {
            Some(ServerFrame::Push { id, .. }) => assert_eq!(id, expected),
            other => panic!("expected {expected}, got {other:?}"),
        }
        // Nothing else: the other user's push is not here.
        send_text(ws, r#"{"type":"ping"}"#).await;
        assert_eq!(next_frame(ws).await, Some(ServerFrame::Pong));
    }
    // Both are connected at once: neither replaced the other.
    assert!(t.hub.is_connected("alice", "phone-1") && t.hub.is_connected("bob", "phone-1"));
    assert_eq!(t.hub.stats().replaced, 0);
}

#[tokio::test]
async fn a_token_of_one_user_naming_another_user_s_device_reads_nothing_of_theirs() {
    let t = TestHub::start(|b| b).await;
    let for_bob = t
        .provider
        .send(&notification("for-bob"), &[device_of("bob", "bobs-phone")])
        .await;
    assert_eq!(for_bob, [Outcome::Queued]);
    let mut bob = raw_authenticated(&t.url(), &t.token_of("bob", "bobs-phone")).await;

    // Mallory's own, validly signed token, with dev = bob's device id.
    let mut mallory = raw_authenticated(&t.url(), &t.token_of("mallory", "bobs-phone")).await;
    send_text(&mut mallory, r#"{"type":"ack","id":"for-bob"}"#).await;
    send_text(&mut mallory, r#"{"type":"ping"}"#).await;
    assert_eq!(next_frame(&mut mallory).await, Some(ServerFrame::Pong));
    // Bob's connection is untouched and still gets his push; his queue still holds it.
    match next_frame(&mut bob).await {
        Some(ServerFrame::Push { id, .. }) => assert_eq!(id, "for-bob"),
        other => panic!("expected bob's push, got {other:?}"),
    }
    assert_eq!(t.hub.queue_len("bob", "bobs-phone").await.unwrap(), 1);
    assert_eq!(t.hub.stats().replaced, 0);
}

#[tokio::test]
async fn an_older_token_cannot_replace_a_connection_with_a_newer_one() {
    let t = TestHub::start(|b| b).await;
    let auth = t.hub.auth();
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    let older = auth
        .issue_at(
            USER,
            "phone-1",
            0,
            now - Duration::from_secs(120),
            now + hour,
        )
        .unwrap();
    let newer = auth.issue_at(USER, "phone-1", 0, now, now + hour).unwrap();

    let mut owner = raw_authenticated(&t.url(), &newer).await;
    let mut copy = raw_hello(&t.url(), &older).await;
    assert_closed_with(&mut copy, 4008, "superseded").await;
    assert_eq!(t.hub.stats().superseded, 1);
    // The owner's connection is still the live one.
    send_text(&mut owner, r#"{"type":"ping"}"#).await;
    assert_eq!(next_frame(&mut owner).await, Some(ServerFrame::Pong));
    let err = Connection::connect(&t.url(), &older, &ConnectOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.close_reason(), Some(CloseReason::Superseded));
    assert!(
        err.is_terminal(),
        "retrying with the same old token cannot help"
    );

    // A newer token does replace an older one (a device that got a fresh token).
    let t2 = TestHub::start(|b| b).await;
    let auth = t2.hub.auth();
    let older = auth
        .issue_at(
            USER,
            "phone-1",
            0,
            now - Duration::from_secs(120),
            now + hour,
        )
        .unwrap();
    let mut old = raw_authenticated(&t2.url(), &older).await;
    let _new = raw_authenticated(&t2.url(), &newer).await;
    assert_closed_with(&mut old, 4005, "replaced").await;
}

#[tokio::test]
async fn a_revoked_device_is_closed_and_its_old_tokens_are_refused() {
    let t = TestHub::start(|b| b).await;
    let old_token = t
        .hub
        .issue_token(USER, "phone-1", Duration::from_secs(600))
        .await
        .unwrap();
    let mut live = raw_authenticated(&t.url(), &old_token).await;

    assert_eq!(t.hub.revoke_device(USER, "phone-1").await.unwrap(), 1);
    assert_closed_with(&mut live, 4009, "auth_revoked").await;
    let mut again = raw_hello(&t.url(), &old_token).await;
    assert_closed_with(&mut again, 4009, "auth_revoked").await;
    let err = Connection::connect(&t.url(), &old_token, &ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_terminal());

    // A token of the new generation works; other devices of the user are not affected.
    assert_eq!(t.hub.token_generation(USER, "phone-1").await.unwrap(), 1);
    let new_token = t
        .hub
        .issue_token(USER, "phone-1", Duration::from_secs(600))
        .await
        .unwrap();
    let _live = raw_authenticated(&t.url(), &new_token).await;
    let _tablet = raw_authenticated(&t.url(), &t.token("tablet")).await;
}

#[tokio::test]
async fn a_revocation_survives_a_restart_with_the_sqlite_store() {
    let path = crate::restart::temp_db("revoke");
    let old_token;
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let hub = Hub::builder(auth()).store(store.clone()).build();
        old_token = hub
            .issue_token(USER, "phone-1", Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(hub.revoke_device(USER, "phone-1").await.unwrap(), 1);
        assert_eq!(hub.revoke_device(USER, "phone-1").await.unwrap(), 2);
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let hub = Hub::builder(auth()).store(store.clone()).build();
    let server = hub.bind("127.0.0.1:0").await.unwrap();
    assert_eq!(hub.token_generation(USER, "phone-1").await.unwrap(), 2);
    let mut ws = raw_hello(&server.url(), &old_token).await;
    assert_closed_with(&mut ws, 4009, "auth_revoked").await;
    let token = hub
        .issue_token(USER, "phone-1", Duration::from_secs(600))
        .await
        .unwrap();
    let _ws = raw_authenticated(&server.url(), &token).await;
    store.close().await;
    crate::restart::remove_db(&path);
}

#[tokio::test]
async fn tokens_that_live_too_long_or_are_issued_in_the_future_are_closed_4002() {
    let auth = DeviceAuth::hs256(SECRET)
        .unwrap()
        .max_lifetime(Duration::from_secs(24 * 3600));
    let hub = Hub::builder(auth.clone()).build();
    let server = hub.bind("127.0.0.1:0").await.unwrap();
    assert!(
        auth.issue(USER, "phone-1", 0, Duration::from_secs(24 * 3600 + 1))
            .is_err()
    );
    let now = SystemTime::now();
    let ten_years = auth
        .issue_at(
            USER,
            "phone-1",
            0,
            now,
            now + Duration::from_secs(10 * 365 * 24 * 3600),
        )
        .unwrap();
    let future = auth
        .issue_at(
            USER,
            "phone-1",
            0,
            now + Duration::from_secs(3600),
            now + Duration::from_secs(7200),
        )
        .unwrap();
    for token in [ten_years, future] {
        let mut ws = raw_hello(&server.url(), &token).await;
        assert_closed_with(&mut ws, 4002, "auth_invalid").await;
    }
    assert!(!hub.is_connected(USER, "phone-1"));
}
