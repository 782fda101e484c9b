//! The store's batched reads and writes: idempotency keys of many requests in one read, claims
//! that keep a notification's rows together, one statement of outcomes per batch.

use pushway_gateway::store::{DeliveryState, NewDelivery, OutcomeRecord, WriteBatch};

use super::store::{message, open};

#[tokio::test]
async fn the_keys_of_many_requests_are_found_in_one_read() {
    let (store, _dir) = open().await;
    let mut second = message("m2", "k2", 1);
    second.request_hash = [9; 32];
    store
        .accept(&[message("m1", "k1", 1), second])
        .await
        .expect("accept");
    let keys = ["k1", "k2", "k3"].map(str::to_owned);
    let mut found: Vec<_> = store
        .find_idempotent_many("chat", &keys)
        .await
        .expect("lookup")
        .into_iter()
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("k1".to_owned(), ("m1".to_owned(), [7; 32])),
            ("k2".to_owned(), ("m2".to_owned(), [9; 32])),
        ]
    );
    // Keys are per app.
    assert!(
        store
            .find_idempotent_many("other", &keys)
            .await
            .expect("lookup")
            .is_empty()
    );
}

#[tokio::test]
async fn a_claim_takes_the_rows_of_one_notification_together() {
    let (store, _dir) = open().await;
    // Four recipients whose notifications alternate (badges 1, 2, 1, 2).
    let mut m = message("m", "k", 0);
    m.notifications = vec!["{\"badge\":1}".to_owned(), "{\"badge\":2}".to_owned()];
    let template = m.recipients[0].clone();
    m.recipients = (0..4)
        .map(|i| {
            let mut r = template.clone();
            r.user = format!("u{i}");
            r.deliveries = vec![NewDelivery {
                device_id: "d".to_owned(),
                kind: pushway_core::TokenKind::Xiaomi,
                credential: "mi".to_owned(),
                token: format!("t{i}"),
                notification: i % 2,
            }];
            r
        })
        .collect();
    store.accept(&[m]).await.expect("accept");
    let first = store.claim(2_000, 62_000, 2).await.expect("claim");
    let second = store.claim(2_000, 62_000, 2).await.expect("claim");
    let tokens = |rows: &[pushway_gateway::store::Claimed]| {
        rows.iter().map(|r| r.token.clone()).collect::<Vec<_>>()
    };
    assert_eq!(tokens(&first), ["t0", "t2"]);
    assert_eq!(tokens(&second), ["t1", "t3"]);
    assert_eq!(first[0].notification_id, first[1].notification_id);
    assert_eq!(second[0].notification_id, second[1].notification_id);
    assert_ne!(first[0].notification_id, second[0].notification_id);
}

#[tokio::test]
async fn the_first_outcome_of_a_row_in_a_batch_is_the_one_recorded() {
    let (store, _dir) = open().await;
    store.accept(&[message("m", "k", 1)]).await.expect("accept");
    let claimed = store.claim(2_000, 62_000, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    let outcome = |state, label: &str| OutcomeRecord {
        delivery_id: claimed[0].id,
        state,
        run_at: 90_000,
        outcome: label.to_owned(),
        reason: Some(label.to_owned()),
        retried: state == DeliveryState::Retrying,
    };
    let batch = WriteBatch {
        outcomes: vec![
            outcome(DeliveryState::Delivered, "delivered"),
            outcome(DeliveryState::Retrying, "retry"),
        ],
        ..WriteBatch::default()
    };
    store.record(&batch, 3_000).await.expect("record");
    let status = store
        .status("chat", "m", 3_000)
        .await
        .expect("status")
        .expect("message");
    let device = &status.recipients[0].devices[0];
    assert_eq!(device.state, DeliveryState::Delivered);
    assert_eq!(device.last_outcome.as_deref(), Some("delivered"));
    assert_eq!(device.updated_at_ms, 3_000);
    assert!(
        store
            .claim(100_000, 160_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

#[tokio::test]
async fn a_batch_records_each_row_its_own_first_outcome_whatever_its_neighbours() {
    // Eight rows of one notification, written in a row (consecutive ids), all claimed.
    let (store, _dir) = open().await;
    store.accept(&[message("m", "k", 8)]).await.expect("accept");
    let mut claimed = store.claim(2_000, 62_000, 10).await.expect("claim");
    claimed.sort_by_key(|r| r.id);
    let tokens: Vec<&str> = claimed.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(tokens, ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"]);
    assert!(claimed.windows(2).all(|w| w[1].id == w[0].id + 1));
    let outcome = |row: usize, state, label: &str| OutcomeRecord {
        delivery_id: claimed[row].id,
        state,
        run_at: 90_000,
        outcome: label.to_owned(),
        reason: (state != DeliveryState::Delivered).then(|| label.to_owned()),
        retried: state == DeliveryState::Retrying,
    };
    let delivered = |row| outcome(row, DeliveryState::Delivered, "delivered");
    // t3 is finished first, so it is no longer in flight when its neighbours are recorded.
    let first = WriteBatch {
        outcomes: vec![delivered(3)],
        ..WriteBatch::default()
    };
    store.record(&first, 3_000).await.expect("record");
    // Out of id order; t2 dead between delivered neighbours; t1 twice (its first outcome
    // counts); t6 not in the batch.
    let second = WriteBatch {
        outcomes: vec![
            delivered(5),
            delivered(0),
            delivered(1),
            outcome(2, DeliveryState::Dead, "Unregistered"),
            outcome(3, DeliveryState::Retrying, "retry"),
            delivered(4),
            outcome(1, DeliveryState::Retrying, "retry"),
            delivered(7),
        ],
        ..WriteBatch::default()
    };
    store.record(&second, 4_000).await.expect("record");
    let status = store
        .status("chat", "m", 4_000)
        .await
        .expect("status")
        .expect("message");
    let rows: Vec<(String, DeliveryState, Option<String>, i64)> = status.recipients[0]
        .devices
        .iter()
        .map(|d| {
            (
                d.device_id.clone(),
                d.state,
                d.last_outcome.clone(),
                d.updated_at_ms,
            )
        })
        .collect();
    let row = |device: &str, state, outcome: Option<&str>, at| {
        (device.to_owned(), state, outcome.map(str::to_owned), at)
    };
    let delivered = Some("delivered");
    assert_eq!(
        rows,
        [
            row("d0", DeliveryState::Delivered, delivered, 4_000),
            row("d1", DeliveryState::Delivered, delivered, 4_000),
            row("d2", DeliveryState::Dead, Some("Unregistered"), 4_000),
            row("d3", DeliveryState::Delivered, delivered, 3_000),
            row("d4", DeliveryState::Delivered, delivered, 4_000),
            row("d5", DeliveryState::Delivered, delivered, 4_000),
            row("d6", DeliveryState::InFlight, None, 2_000),
            row("d7", DeliveryState::Delivered, delivered, 4_000),
        ]
    );
}
