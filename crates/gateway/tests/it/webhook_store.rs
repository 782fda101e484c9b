//! The store's webhook events: written in the writer's and the accept's transactions, for the
//! subscribed (app, type) pairs only, once per row as the outcome is applied; claimed under a
//! lease, retried, dead after the last attempt.

use pushway_gateway::store::{
    DeadTokenRecord, DeliveryState, EventCounts, EventRetry, EventType, OutcomeRecord,
    WebhookFilter, WriteBatch,
};
use serde_json::{Value, json};

use super::store::{Both, message, open};

fn outcome(id: i64, state: DeliveryState, label: &str, reason: Option<&str>) -> OutcomeRecord {
    OutcomeRecord {
        delivery_id: id,
        state,
        run_at: 5_000,
        outcome: label.to_owned(),
        reason: reason.map(str::to_owned),
        retried: false,
    }
}

fn filter(types: &[EventType]) -> WebhookFilter {
    let mut f = WebhookFilter::default();
    f.add("chat", types.iter().copied());
    f
}

/// The bodies of `app`'s due events, without their random ids.
async fn bodies(store: &dyn Both, now: i64) -> Vec<Value> {
    let events = store
        .claim_events("chat", now, now + 1, 100)
        .await
        .expect("claim");
    events
        .iter()
        .map(|e| {
            let mut v: Value = serde_json::from_str(&e.body).expect("json");
            let id = v["id"].as_str().expect("id").to_owned();
            assert!(id.starts_with("evt_") && id.len() == 36, "{id}");
            v.as_object_mut().expect("object").remove("id");
            v
        })
        .collect()
}

#[tokio::test]
async fn outcomes_make_events_once_per_in_flight_row_for_subscribed_types_only() {
    let (store, _dir) = open().await;
    store.set_webhook_filter(filter(&[EventType::Delivered, EventType::Dead]));
    store
        .accept(&[message("m1", "k1", 4)])
        .await
        .expect("accept");
    let rows = store.claim(2_000, 62_000, 10).await.expect("claim");
    let id = |d: &str| {
        rows.iter()
            .find(|r| r.token == format!("t{d}"))
            .expect("row")
            .id
    };
    let batch = WriteBatch {
        outcomes: vec![
            outcome(id("0"), DeliveryState::Delivered, "delivered", None),
            // A second outcome of the same row in the batch is not applied: no event either.
            outcome(id("0"), DeliveryState::Dead, "rejected", Some("x")),
            outcome(id("1"), DeliveryState::Dead, "invalid_token", Some("20301")),
            outcome(id("2"), DeliveryState::Dead, "expired", None),
            // Not an event type.
            outcome(id("3"), DeliveryState::Retrying, "retry", Some("503")),
        ],
        ..WriteBatch::default()
    };
    store.record(&batch, 3_000).await.expect("record");
    // The same batch again (a retried commit): no row is in flight, no event.
    store.record(&batch, 3_001).await.expect("record");
    let event = |t: &str, d: &str, reason: Value| {
        json!({"type": t, "app": "chat", "message_id": "m1", "user_id": "bob",
               "device_id": d, "channel": "xiaomi/mi", "reason": reason, "at_ms": 3_000})
    };
    assert_eq!(
        bodies(&*store, 3_000).await,
        [
            event("delivered", "d0", Value::Null),
            event("dead", "d1", json!("20301")),
            event("dead", "d2", json!("expired")),
        ]
    );
}

#[tokio::test]
async fn nothing_is_written_for_an_app_or_type_not_subscribed() {
    let (store, _dir) = open().await;
    store.set_webhook_filter(filter(&[EventType::Dead]));
    store
        .accept(&[message("m1", "k1", 1)])
        .await
        .expect("accept");
    let rows = store.claim(2_000, 62_000, 10).await.expect("claim");
    let batch = WriteBatch {
        outcomes: vec![outcome(
            rows[0].id,
            DeliveryState::Delivered,
            "delivered",
            None,
        )],
        ..WriteBatch::default()
    };
    store.record(&batch, 3_000).await.expect("record");
    assert_eq!(
        store.event_counts("chat").await.expect("counts"),
        EventCounts::default()
    );
}

#[tokio::test]
async fn a_removed_registration_is_one_token_invalidated_event_without_the_token() {
    let (store, _dir) = open().await;
    store.set_webhook_filter(filter(&[EventType::TokenInvalidated]));
    let device = pushway_gateway::store::Device {
        app: "chat".to_owned(),
        user: "bob".to_owned(),
        device_id: "phone".to_owned(),
        kind: pushway_core::TokenKind::Xiaomi,
        credential: "mi".to_owned(),
        token: "regid-secret-token".to_owned(),
        locale: None,
    };
    store.put_device(&device, 1_000).await.expect("register");
    let dead = DeadTokenRecord {
        app: "chat".to_owned(),
        kind: pushway_core::TokenKind::Xiaomi,
        credential: "mi".to_owned(),
        token: "regid-secret-token".to_owned(),
        reason: "unregistered".to_owned(),
        since: None,
    };
    let unknown = DeadTokenRecord {
        token: "never-registered".to_owned(),
        ..dead.clone()
    };
    let batch = WriteBatch {
        dead: vec![dead.clone(), dead, unknown],
        ..WriteBatch::default()
    };
    store.record(&batch, 3_000).await.expect("record");
    let events = store
        .claim_events("chat", 3_000, 4_000, 100)
        .await
        .expect("claim");
    assert_eq!(events.len(), 1);
    assert!(!events[0].body.contains("regid"), "{}", events[0].body);
    let mut body: Value = serde_json::from_str(&events[0].body).expect("json");
    body.as_object_mut().expect("object").remove("id");
    assert_eq!(
        body,
        json!({"type": "token_invalidated", "app": "chat", "message_id": null, "user_id": "bob",
               "device_id": "phone", "channel": "xiaomi/mi", "reason": "unregistered",
               "at_ms": 3_000})
    );
}

#[tokio::test]
async fn claimed_events_are_leased_retried_then_dead_and_kept() {
    let (store, _dir) = open().await;
    store.set_webhook_filter(filter(&[EventType::Delivered]));
    store
        .accept(&[message("m1", "k1", 3)])
        .await
        .expect("accept");
    let rows = store.claim(2_000, 62_000, 10).await.expect("claim");
    let outcomes = rows
        .iter()
        .map(|r| outcome(r.id, DeliveryState::Delivered, "delivered", None))
        .collect();
    let batch = WriteBatch {
        outcomes,
        ..WriteBatch::default()
    };
    store.record(&batch, 3_000).await.expect("record");
    assert_eq!(
        store.apps_with_due_events(3_000).await.expect("due"),
        ["chat"]
    );
    assert_eq!(
        store.apps_with_due_events(2_999).await.expect("due"),
        Vec::<String>::new()
    );

    // At most `limit`, oldest first; leased: not claimed again before the lease ends.
    let first = store
        .claim_events("chat", 3_000, 9_000, 2)
        .await
        .expect("claim");
    assert_eq!(first.len(), 2);
    assert!(first[0].id < first[1].id && first.iter().all(|e| e.attempts == 1));
    let rest = store
        .claim_events("chat", 3_000, 9_000, 100)
        .await
        .expect("claim");
    assert_eq!(rest.len(), 1);
    assert!(
        store
            .claim_events("chat", 8_999, 20_000, 100)
            .await
            .expect("claim")
            .is_empty()
    );
    // A crash: after the lease, the same events again, attempt 2.
    let again = store
        .claim_events("chat", 9_000, 20_000, 100)
        .await
        .expect("claim");
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        [first[0].id, first[1].id, rest[0].id]
    );
    assert!(again.iter().all(|e| e.attempts == 2));

    // One answered, one due again at 10_000, one dead.
    store.events_sent(&[again[0].id]).await.expect("sent");
    let retries = [
        EventRetry {
            id: again[1].id,
            run_at: Some(10_000),
        },
        EventRetry {
            id: again[2].id,
            run_at: None,
        },
    ];
    store
        .events_failed(&retries, "status 500", 9_500)
        .await
        .expect("failed");
    assert_eq!(
        store.event_counts("chat").await.expect("counts"),
        EventCounts {
            pending: 1,
            dead: 1
        }
    );
    assert!(
        store
            .claim_events("chat", 9_999, 20_000, 100)
            .await
            .expect("claim")
            .is_empty()
    );
    let last = store
        .claim_events("chat", 10_000, 20_000, 100)
        .await
        .expect("claim");
    assert_eq!(
        last.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(),
        [(again[1].id, 3)]
    );
}

#[tokio::test]
async fn dead_events_are_pruned_after_the_retention_and_pending_ones_never() {
    let (store, _dir) = open().await;
    store.set_webhook_filter(filter(&[EventType::Delivered]));
    store
        .accept(&[message("m1", "k1", 2)])
        .await
        .expect("accept");
    let rows = store.claim(2_000, 62_000, 10).await.expect("claim");
    let batch = WriteBatch {
        outcomes: rows
            .iter()
            .map(|r| outcome(r.id, DeliveryState::Delivered, "delivered", None))
            .collect(),
        ..WriteBatch::default()
    };
    store.record(&batch, 3_000).await.expect("record");
    let events = store
        .claim_events("chat", 3_000, 9_000, 1)
        .await
        .expect("claim");
    let dead = [EventRetry {
        id: events[0].id,
        run_at: None,
    }];
    store
        .events_failed(&dead, "timeout", 4_000)
        .await
        .expect("failed");
    assert_eq!(store.prune_events(4_000, 10).await.expect("prune"), 0);
    assert_eq!(store.prune_events(4_001, 10).await.expect("prune"), 1);
    assert_eq!(
        store.event_counts("chat").await.expect("counts"),
        EventCounts {
            pending: 1,
            dead: 0
        }
    );
}
