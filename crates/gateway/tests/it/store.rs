//! The store on its own: leases, re-claims after a crash, group-committed outcomes. On SQLite,
//! or on a fresh Postgres database with `PUSHWAY_TEST_STORE=postgres` (as the API tests).

use pushway_core::TokenKind;
use pushway_gateway::store::postgres::PgStore;
use pushway_gateway::store::sqlite::SqliteStore;
use pushway_gateway::store::{
    Accepted, DeliveryState, NewDelivery, NewMessage, NewRecipient, OutcomeRecord, Store,
    WebhookStore, WriteBatch,
};

use super::support::{fresh_database, on_postgres};

/// A store of either kind, with its webhook side.
pub(crate) trait Both: Store + WebhookStore {}
impl<T: Store + WebhookStore> Both for T {}

pub(crate) fn message(id: &str, key: &str, devices: usize) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        app: "chat".to_owned(),
        idempotency_key: key.to_owned(),
        request_hash: [7; 32],
        body: "{}".to_owned(),
        created_at: 1_000,
        expires_at: 1_000_000,
        notifications: vec!["{}".to_owned()],
        recipients: vec![NewRecipient {
            user: "bob".to_owned(),
            unread: 1,
            suppressed: None,
            deliveries: (0..devices)
                .map(|i| NewDelivery {
                    device_id: format!("d{i}"),
                    kind: TokenKind::Xiaomi,
                    credential: "mi".to_owned(),
                    token: format!("t{i}"),
                    notification: 0,
                })
                .collect(),
            suppressed_devices: Vec::new(),
        }],
    }
}

async fn accept_one(store: &dyn Both, message: NewMessage) -> Accepted {
    let mut accepted = store.accept(&[message]).await.expect("accept");
    assert_eq!(accepted.len(), 1);
    accepted.remove(0)
}

pub(crate) async fn open() -> (Box<dyn Both>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Box<dyn Both> = if on_postgres() {
        Box::new(PgStore::open(&fresh_database(), 4).await.expect("open"))
    } else {
        Box::new(
            SqliteStore::open(&dir.path().join("s.sqlite3"))
                .await
                .expect("open"),
        )
    };
    store
        .sync_apps(&[("chat".to_owned(), vec![])], 0)
        .await
        .expect("apps");
    (store, dir)
}

#[tokio::test]
async fn a_lease_holds_until_it_expires_then_the_rows_are_claimed_again() {
    let (store, _dir) = open().await;
    assert!(accept_one(&*store, message("m1", "k1", 3)).await.created);
    let first = store.claim(2_000, 62_000, 10).await.expect("claim");
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|row| row.attempts == 1));
    // While the lease holds, nobody else gets the rows.
    assert!(
        store
            .claim(30_000, 90_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // The worker "crashed": after the lease, the same rows come back, attempt 2.
    let again = store.claim(62_000, 122_000, 10).await.expect("claim");
    let ids =
        |rows: &[pushway_gateway::store::Claimed]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
    assert!(again.iter().all(|row| row.attempts == 2));

    // Outcomes of one batch commit together; a delivered row is never claimed again.
    let batch = WriteBatch {
        outcomes: again
            .iter()
            .map(|row| OutcomeRecord {
                delivery_id: row.id,
                state: DeliveryState::Delivered,
                run_at: 62_001,
                outcome: "delivered".to_owned(),
                reason: None,
                retried: false,
            })
            .collect(),
        ..WriteBatch::default()
    };
    store.record(&batch, 62_001).await.expect("record");
    assert!(
        store
            .claim(10_000_000, 10_060_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let status = store
        .status("chat", "m1", 0)
        .await
        .expect("status")
        .expect("message");
    assert!(status.is_settled());
}

#[tokio::test]
async fn one_group_commit_answers_each_message_and_a_key_taken_within_it() {
    let (store, _dir) = open().await;
    let batch = [
        message("a", "k1", 2),
        message("b", "k2", 1),
        message("c", "k1", 4),
    ];
    let accepted = store.accept(&batch).await.expect("accept");
    let answers: Vec<_> = accepted
        .iter()
        .map(|a| (a.message_id.as_str(), a.created))
        .collect();
    assert_eq!(answers, [("a", true), ("b", true), ("a", false)]);
    assert_eq!(
        store.claim(2_000, 3_000, 100).await.expect("claim").len(),
        3
    );
}

#[tokio::test]
async fn an_idempotency_key_taken_meanwhile_stores_nothing() {
    let (store, _dir) = open().await;
    assert!(accept_one(&*store, message("m1", "k", 1)).await.created);
    let second = store
        .accept(&[message("m2", "k", 5)])
        .await
        .expect("accept")[0]
        .clone();
    assert_eq!((second.message_id.as_str(), second.created), ("m1", false));
    assert_eq!(
        store.claim(2_000, 3_000, 100).await.expect("claim").len(),
        1
    );
    assert!(
        store
            .status("chat", "m2", 0)
            .await
            .expect("status")
            .is_none()
    );
    // Another app cannot read the message.
    assert!(
        store
            .status("other", "m1", 0)
            .await
            .expect("status")
            .is_none()
    );
}

#[tokio::test]
async fn pruning_deletes_finished_messages_past_the_retention_only() {
    let (store, _dir) = open().await;
    accept_one(&*store, message("done", "k1", 2)).await;
    accept_one(&*store, message("busy", "k2", 1)).await;
    let claimed = store.claim(2_000, 62_000, 10).await.expect("claim");
    assert_eq!(claimed.len(), 3);
    // Finish both rows of "done" and leave "busy" retrying.
    let outcomes = claimed
        .iter()
        .map(|row| {
            let busy = store_message_of(row.id, &claimed) == "busy";
            OutcomeRecord {
                delivery_id: row.id,
                state: if busy {
                    DeliveryState::Retrying
                } else {
                    DeliveryState::Delivered
                },
                run_at: 70_000,
                outcome: if busy { "retry" } else { "delivered" }.to_owned(),
                reason: None,
                retried: false,
            }
        })
        .collect();
    store
        .record(
            &WriteBatch {
                outcomes,
                ..WriteBatch::default()
            },
            3_000,
        )
        .await
        .expect("record");
    // Accepted at 1 000: not before 1 000, so nothing goes yet.
    assert_eq!(store.prune(1_000, 100).await.expect("prune"), 0);
    assert_eq!(store.prune(5_000, 100).await.expect("prune"), 1);
    assert!(
        store
            .status("chat", "done", 0)
            .await
            .expect("status")
            .is_none()
    );
    assert!(
        store
            .status("chat", "busy", 0)
            .await
            .expect("status")
            .is_some()
    );
    // The key of the pruned message is forgotten: it may be used again.
    assert!(accept_one(&*store, message("again", "k1", 1)).await.created);
}

/// Rows are created in accept order: "done" got the first two ids.
fn store_message_of(id: i64, claimed: &[pushway_gateway::store::Claimed]) -> &'static str {
    let first = claimed.iter().map(|r| r.id).min().unwrap_or(0);
    if id < first + 2 { "done" } else { "busy" }
}
