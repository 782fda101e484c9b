//! Signed delivery webhooks end to end: the gateway's events reach a local receiver that fails
//! its first answers, in batches of at most 100, each request signed; each event is posted until
//! one request holding it is answered 2xx, so a receiver sees it once per failed post plus once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use pushway_gateway::config::WebhookConfig;
use pushway_gateway::webhook::{self, VerifyError};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, c2c};
use crate::webhook_receiver::{Received, Receiver, Reply};

const SECRET: &str = "whsec_test_0123456789";

/// The demo app posting its events to `receiver` (`timeout_ms` well above a local answer's
/// time, so only the scripted hang times out).
async fn harness(addr: std::net::SocketAddr, edit: impl FnOnce(&mut WebhookConfig)) -> Harness {
    let mut hook = WebhookConfig::new(format!("http://{addr}/hook"), SECRET);
    hook.timeout_ms = 2_000;
    hook.backoff_base_ms = 50;
    hook.backoff_max_ms = 200;
    edit(&mut hook);
    Harness::start_with(move |config, _| {
        config.apps.get_mut("demo").expect("demo app").webhook = Some(hook);
    })
    .await
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Asserts every request is JSON, signed with `SECRET` and holds 1 to 100 events.
fn assert_signed_batches(received: &[Received]) {
    for r in received {
        assert_eq!(r.content_type, "application/json");
        let verified = webhook::verify(
            SECRET.as_bytes(),
            &r.timestamp,
            &r.signature,
            &r.body,
            now_secs(),
        );
        assert_eq!(verified, Ok(()), "{r:?}");
        let n = r.events().len();
        assert!((1..=100).contains(&n), "a batch of {n} events");
    }
}

/// The events of the 2xx-answered requests, by event id.
fn delivered_events(received: &[Received]) -> BTreeMap<String, Value> {
    let mut events = BTreeMap::new();
    for r in received.iter().filter(|r| r.succeeded()) {
        for e in r.events() {
            let id = e["id"].as_str().expect("an id").to_owned();
            assert!(
                events.insert(id, e).is_none(),
                "an event in two 2xx requests"
            );
        }
    }
    events
}

/// Events of the store by state.
async fn event_states(h: &Harness) -> BTreeMap<String, i64> {
    h.pairs("SELECT state, COUNT(*) FROM webhook_events GROUP BY state")
        .await
        .into_iter()
        .collect()
}

#[tokio::test]
async fn a_failing_receiver_gets_every_event_as_often_as_documented_in_signed_batches() {
    let (receiver, addr) =
        Receiver::start(&[Reply::Status(500), Reply::Hang], Reply::Status(200)).await;
    let h = harness(addr, |_| {}).await;
    let users: Vec<String> = (0..119).map(|i| format!("u{i:03}")).collect();
    for user in &users {
        h.device(user, "phone", "xiaomi", &format!("regid-{user}"))
            .await;
    }
    h.device("zed", "old-phone", "xiaomi", "regid-dead").await;
    h.sims.xiaomi.unregister(["regid-dead"]);
    let mut recipients: Vec<Value> = users.iter().map(|u| json!({"user_id": u})).collect();
    recipients.push(json!({"user_id": "zed"}));
    let message = h
        .post_nowait(
            "w1",
            json!({"message": c2c("alice", "bob", "hi"), "recipients": recipients}),
        )
        .await;

    // 119 delivered, 1 dead, 1 token invalidated: more than one batch.
    let received = receiver.until(|r| delivered_events(r).len() == 121).await;
    let replies: Vec<Reply> = received.iter().map(|r| r.reply).collect();
    assert_eq!(replies[..2], [Reply::Status(500), Reply::Hang]);
    assert!(
        replies[2..].iter().all(|r| *r == Reply::Status(200)),
        "{replies:?}"
    );
    assert_signed_batches(&received);

    // Each event: once per failed request that held it, plus once in exactly one 2xx request.
    let events = delivered_events(&received);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut failed: HashMap<String, usize> = HashMap::new();
    for r in &received {
        for e in r.events() {
            let id = e["id"].as_str().expect("id").to_owned();
            *seen.entry(id.clone()).or_default() += 1;
            if !r.succeeded() {
                *failed.entry(id).or_default() += 1;
            }
        }
    }
    assert_eq!(seen.len(), 121, "no event outside the expected ones");
    for (id, n) in &seen {
        assert_eq!(*n, 1 + failed.get(id).copied().unwrap_or(0), "event {id}");
    }
    assert!(!failed.is_empty(), "the failed requests held events");

    // Reasons as the status and the dead-token feed give them.
    let status = h
        .call(
            Method::GET,
            &format!("/v1/apps/demo/messages/{message}"),
            None,
        )
        .await;
    let dead_reason = crate::support::devices_of(&status.body, "zed")[0]["last_reason"].clone();
    assert!(dead_reason.is_string(), "{:#}", status.body);
    let feed = h
        .call(Method::GET, "/v1/apps/demo/dead-tokens?after=0", None)
        .await;
    let invalid_reason = feed.body["items"][0]["reason"].clone();
    assert!(invalid_reason.is_string(), "{:#}", feed.body);

    // Exactly the expected events, in the documented shape, never with a token.
    let by_kind: BTreeSet<(String, String, String)> = events
        .values()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("-").to_owned();
            (s("type"), s("user_id"), s("device_id"))
        })
        .collect();
    let mut expected: BTreeSet<(String, String, String)> = users
        .iter()
        .map(|u| ("delivered".to_owned(), u.clone(), "phone".to_owned()))
        .collect();
    expected.insert(("dead".into(), "zed".into(), "old-phone".into()));
    expected.insert(("token_invalidated".into(), "zed".into(), "old-phone".into()));
    assert_eq!(by_kind, expected);
    for e in events.values() {
        let keys: Vec<&str> = e
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys.iter().copied().collect::<BTreeSet<_>>(),
            BTreeSet::from([
                "type",
                "id",
                "app",
                "message_id",
                "user_id",
                "device_id",
                "channel",
                "reason",
                "at_ms"
            ])
        );
        assert_eq!(e["app"], "demo");
        assert_eq!(e["channel"], "xiaomi/demo");
        assert!(e["at_ms"].as_i64().is_some_and(|t| t > 0), "{e}");
        match e["type"].as_str() {
            Some("delivered") => {
                assert_eq!(e["message_id"], message.as_str());
                assert_eq!(e["reason"], Value::Null);
            }
            Some("dead") => {
                assert_eq!(e["message_id"], message.as_str());
                assert_eq!(e["reason"], dead_reason);
            }
            _ => {
                assert_eq!(e["message_id"], Value::Null);
                assert_eq!(e["reason"], invalid_reason);
            }
        }
    }
    for r in &received {
        let text = String::from_utf8_lossy(&r.body);
        assert!(
            !text.contains("regid-"),
            "a token in a webhook body: {text}"
        );
    }

    // Posted events are forgotten; nothing is left pending or dead.
    for _ in 0..500 {
        if event_states(&h).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(event_states(&h).await, BTreeMap::new());
}

#[tokio::test]
async fn events_are_dead_after_max_attempts_kept_and_posted_identically_each_time() {
    let (receiver, addr) = Receiver::start(&[], Reply::Status(503)).await;
    let h = harness(addr, |hook| hook.max_attempts = 3).await;
    h.device("bob", "phone", "xiaomi", "regid-bob").await;
    h.post_nowait(
        "w2",
        json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]}),
    )
    .await;
    for _ in 0..1500 {
        if event_states(&h).await.get("dead") == Some(&1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        event_states(&h).await,
        BTreeMap::from([("dead".to_owned(), 1)])
    );
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert_signed_batches(&received);
    // The same event, byte for byte, in every post.
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(received[1].body, received[2].body);
    assert_eq!(received[0].events().len(), 1);
    assert_eq!(received[0].events()[0]["type"], "delivered");
}

#[tokio::test]
async fn suppressed_recipients_and_devices_are_events_when_enabled() {
    let (receiver, addr) = Receiver::start(&[], Reply::Status(204)).await;
    let h = harness(addr, |hook| hook.events = vec!["suppressed".into()]).await;
    h.device("bob", "phone", "xiaomi", "regid-bob").await;
    h.device("bob", "tablet", "xiaomi", "regid-bob-tab").await;
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/bob/devices/tablet/logout",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let message = h
        .post_nowait(
            "w3",
            json!({"message": c2c("alice", "bob", "hi"),
                   "recipients": [{"user_id": "bob"}, {"user_id": "nobody"}]}),
        )
        .await;
    let received = receiver.until(|r| delivered_events(r).len() == 2).await;
    assert_signed_batches(&received);
    let mut events: Vec<Value> = delivered_events(&received).into_values().collect();
    events.sort_by_key(|e| e["user_id"].as_str().map(str::to_owned));
    for e in &mut events {
        e.as_object_mut().expect("object").remove("id");
        assert!(e.as_object_mut().expect("object").remove("at_ms").is_some());
    }
    assert_eq!(
        events,
        [
            json!({"type": "suppressed", "app": "demo", "message_id": message, "user_id": "bob",
                   "device_id": "tablet", "channel": null, "reason": "recipient_logged_out"}),
            json!({"type": "suppressed", "app": "demo", "message_id": message,
                   "user_id": "nobody", "device_id": null, "channel": null,
                   "reason": "no_devices"}),
        ]
    );
    // `delivered` was not subscribed: bob's phone got its push, and no event said so.
    let status = h
        .status_until(&message, |s| {
            crate::support::devices_of(s, "bob")[0]["state"] == "delivered"
        })
        .await;
    assert_eq!(
        crate::support::devices_of(&status, "bob")[0]["device_id"],
        "phone"
    );
    assert_eq!(event_states(&h).await, BTreeMap::new());
    assert_eq!(receiver.received().len(), received.len());
}

#[tokio::test]
async fn the_verifier_rejects_a_tampered_body_and_an_old_timestamp() {
    let (receiver, addr) = Receiver::start(&[], Reply::Status(200)).await;
    let h = harness(addr, |_| {}).await;
    h.device("bob", "phone", "xiaomi", "regid-bob").await;
    h.post_nowait(
        "w4",
        json!({"message": c2c("alice", "bob", "hi"), "recipients": [{"user_id": "bob"}]}),
    )
    .await;
    let received = receiver.until(|r| !r.is_empty()).await;
    let r = &received[0];
    let sent: i64 = r.timestamp.parse().expect("unix seconds");
    let check = |body: &[u8], now: i64| {
        webhook::verify(SECRET.as_bytes(), &r.timestamp, &r.signature, body, now)
    };
    assert_eq!(check(&r.body, sent), Ok(()));
    let tampered = String::from_utf8_lossy(&r.body).replace("delivered", "dead");
    assert_ne!(tampered.as_bytes(), &r.body[..]);
    assert_eq!(
        check(tampered.as_bytes(), sent),
        Err(VerifyError::Signature)
    );
    assert_eq!(check(&r.body, sent + 301), Err(VerifyError::Stale));
    assert_eq!(
        webhook::verify(
            b"not-the-secret-at-all",
            &r.timestamp,
            &r.signature,
            &r.body,
            sent
        ),
        Err(VerifyError::Signature)
    );
}
