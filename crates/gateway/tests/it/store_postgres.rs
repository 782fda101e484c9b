//! What only the Postgres store has to prove: several nodes on one database. Each "node" is a
//! `PgStore` of its own (its own pool) on one fresh database; another session's transaction is
//! a raw connection. These run on Postgres whatever `PUSHWAY_TEST_STORE` says.

use std::collections::BTreeSet;
use std::time::Duration;

use pushway_core::TokenKind;
use pushway_gateway::store::postgres::PgStore;
use pushway_gateway::store::{Device, Store};
use sqlx::{Connection, PgConnection, Row};

use super::store::message;
use super::support::{first_column, fresh_database};

/// Two nodes on one fresh database, with the app `chat`; and its URL.
async fn two_nodes() -> (PgStore, PgStore, String) {
    let url = fresh_database();
    let a = PgStore::open(&url, 4).await.expect("node a");
    let b = PgStore::open(&url, 4).await.expect("node b");
    a.sync_apps(&[("chat".to_owned(), vec![])], 0)
        .await
        .expect("apps");
    (a, b, url)
}

/// Every delivery row id, in id order.
async fn all_ids(store: &PgStore) -> Vec<i64> {
    sqlx::query("SELECT id FROM deliveries ORDER BY id")
        .fetch_all(store.pool())
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Waits until some session of the database waits for a lock (at most 10 s).
async fn until_a_session_waits_for_a_lock(store: &PgStore) {
    for _ in 0..1000 {
        let waiting: i64 = sqlx::query(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(store.pool())
        .await
        .expect("pg_stat_activity")
        .get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no session ever waited for a lock");
}

#[tokio::test]
async fn two_concurrent_claimers_never_get_the_same_row() {
    let (a, b, _) = two_nodes().await;
    for i in 0..40 {
        let m = message(&format!("m{i}"), &format!("k{i}"), 10);
        a.accept(&[m]).await.expect("accept");
    }
    let every = all_ids(&a).await;
    assert_eq!(every.len(), 400);
    // Both nodes claim small batches as fast as they can until nothing is due.
    let claimer = |store: PgStore| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let rows = store.claim(2_000, 62_000, 7).await.expect("claim");
                if rows.is_empty() {
                    return got;
                }
                got.extend(rows.iter().map(|r| r.id));
            }
        })
    };
    let (got_a, got_b) = tokio::join!(claimer(a.clone()), claimer(b.clone()));
    let (got_a, got_b) = (got_a.expect("a"), got_b.expect("b"));
    let set_a: BTreeSet<i64> = got_a.iter().copied().collect();
    let set_b: BTreeSet<i64> = got_b.iter().copied().collect();
    assert_eq!(set_a.len(), got_a.len(), "node a got a row twice");
    assert_eq!(set_b.len(), got_b.len(), "node b got a row twice");
    assert_eq!(
        set_a.intersection(&set_b).count(),
        0,
        "a row claimed by both"
    );
    let union: Vec<i64> = set_a.union(&set_b).copied().collect();
    assert_eq!(union, every, "every row claimed exactly once");
}

#[tokio::test]
async fn a_claim_skips_rows_another_node_is_claiming_and_does_not_wait_for_them() {
    let (a, _b, url) = two_nodes().await;
    a.accept(&[message("m1", "k1", 6)]).await.expect("accept");
    let every = all_ids(&a).await;
    // Another node's claim in progress: its transaction holds the first three rows.
    let mut other = PgConnection::connect(&url).await.expect("connect");
    let mut tx = other.begin().await.expect("begin");
    sqlx::query("SELECT id FROM outbox WHERE id = ANY($1) FOR UPDATE")
        .bind(&every[..3])
        .execute(&mut *tx)
        .await
        .expect("lock");
    let claimed = tokio::time::timeout(Duration::from_secs(10), a.claim(2_000, 62_000, 10))
        .await
        .expect("the claim does not wait for the locked rows")
        .expect("claim");
    let ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    assert_eq!(ids, every[3..]);
    // That claim gave up (rolled back): its rows are due and the next claim takes them.
    tx.rollback().await.expect("rollback");
    let rest: Vec<i64> = a
        .claim(2_000, 62_000, 10)
        .await
        .expect("claim")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(rest, every[..3]);
}

#[tokio::test]
async fn a_lease_that_ran_out_on_one_node_is_claimed_by_another() {
    let (a, b, _) = two_nodes().await;
    a.accept(&[message("m1", "k1", 3)]).await.expect("accept");
    let first = a.claim(2_000, 62_000, 10).await.expect("claim");
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|r| r.attempts == 1));
    // Node a died holding the lease: node b gets nothing until it runs out...
    assert!(
        b.claim(61_999, 121_999, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // ...then every row, attempt 2.
    let again = b.claim(62_000, 122_000, 10).await.expect("claim");
    let ids =
        |rows: &[pushway_gateway::store::Claimed]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
    assert!(again.iter().all(|r| r.attempts == 2));
    assert!(
        a.claim(62_000, 122_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

/// The message under `key`: (id, rows of the key, delivery rows of the id).
async fn stored_under(store: &PgStore, key: &str) -> (Vec<String>, i64) {
    let ids: Vec<String> = first_column(
        store,
        "SELECT id FROM messages WHERE idempotency_key = $1",
        key,
    )
    .await;
    let rows: i64 = sqlx::query("SELECT count(*) FROM deliveries")
        .fetch_one(store.pool())
        .await
        .expect("deliveries")
        .get(0);
    (ids, rows)
}

#[tokio::test]
async fn an_idempotency_key_taken_by_an_open_transaction_gives_one_message() {
    let (a, b, url) = two_nodes().await;
    // Node b's accept of "first" under key k, not committed yet.
    let mut other = PgConnection::connect(&url).await.expect("connect");
    let mut tx = other.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO messages (id, app_id, idempotency_key, request_hash, body, created_at,
                               expires_at)
         VALUES ('first', 'chat', 'k', $1, '{}', 1000, 1000000)",
    )
    .bind(&[7u8; 32][..])
    .execute(&mut *tx)
    .await
    .expect("insert");
    // Node a accepts "second" under the same key: it waits for that transaction...
    let accept = tokio::spawn({
        let a = a.clone();
        async move { a.accept(&[message("second", "k", 2)]).await }
    });
    until_a_session_waits_for_a_lock(&a).await;
    tx.commit().await.expect("commit");
    // ...and answers the earlier message, storing nothing of its own.
    let accepted = accept.await.expect("task").expect("accept");
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].message_id, "first");
    assert!(!accepted[0].created);
    assert_eq!(stored_under(&b, "k").await, (vec!["first".to_owned()], 0));

    // The same race where the other transaction rolls back: the waiting accept takes the key.
    let mut tx = other.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO messages (id, app_id, idempotency_key, request_hash, body, created_at,
                               expires_at)
         VALUES ('third', 'chat', 'k2', $1, '{}', 1000, 1000000)",
    )
    .bind(&[7u8; 32][..])
    .execute(&mut *tx)
    .await
    .expect("insert");
    let accept = tokio::spawn({
        let a = a.clone();
        async move { a.accept(&[message("fourth", "k2", 2)]).await }
    });
    until_a_session_waits_for_a_lock(&a).await;
    tx.rollback().await.expect("rollback");
    let accepted = accept.await.expect("task").expect("accept");
    assert_eq!(accepted[0].message_id, "fourth");
    assert!(accepted[0].created);
    assert_eq!(stored_under(&b, "k2").await, (vec!["fourth".to_owned()], 2));
}

#[tokio::test]
async fn two_nodes_accepting_one_key_at_once_make_one_message() {
    let (a, b, _) = two_nodes().await;
    for round in 0..20 {
        let key = format!("k{round}");
        let (ma, mb) = (
            [message(&format!("a{round}"), &key, 1)],
            [message(&format!("b{round}"), &key, 1)],
        );
        let (ra, rb) = tokio::join!(a.accept(&ma), b.accept(&mb));
        let (ra, rb) = (ra.expect("a"), rb.expect("b"));
        assert_eq!(ra[0].message_id, rb[0].message_id, "round {round}");
        assert_eq!(
            u8::from(ra[0].created) + u8::from(rb[0].created),
            1,
            "round {round}: exactly one created"
        );
        let (ids, _) = stored_under(&a, &key).await;
        assert_eq!(ids, vec![ra[0].message_id.clone()]);
    }
    let (_, rows) = stored_under(&a, "none").await;
    assert_eq!(rows, 20, "one delivery row per message");
}

#[tokio::test]
async fn one_token_registered_for_two_users_on_two_nodes_at_once_ends_on_one() {
    let (a, b, _) = two_nodes().await;
    let device = |user: &str| Device {
        app: "chat".to_owned(),
        user: user.to_owned(),
        device_id: "phone".to_owned(),
        kind: TokenKind::Xiaomi,
        credential: "mi".to_owned(),
        token: "shared-token".to_owned(),
        locale: None,
    };
    for round in 0..20 {
        let (alice, bob) = (format!("alice{round}"), format!("bob{round}"));
        let (da, db) = (device(&alice), device(&bob));
        let (ra, rb) = tokio::join!(a.put_device(&da, 1_000), b.put_device(&db, 1_000));
        let (ra, rb) = (ra.expect("a"), rb.expect("b"));
        assert!(ra.created && rb.created, "round {round}");
        let holders: Vec<String> = sqlx::query(
            "SELECT user_id FROM devices WHERE token = 'shared-token' ORDER BY user_id",
        )
        .fetch_all(a.pool())
        .await
        .expect("devices")
        .iter()
        .map(|r| r.get(0))
        .collect();
        assert_eq!(holders.len(), 1, "round {round}: {holders:?}");
        // The one that came second moved it from the first (or from the previous round's).
        let moved: Vec<String> = ra
            .moved_from
            .iter()
            .chain(&rb.moved_from)
            .map(|(user, _)| user.clone())
            .collect();
        assert!(
            moved.contains(&alice) || moved.contains(&bob),
            "round {round}: {moved:?}"
        );
    }
}

#[tokio::test]
async fn a_prune_skips_a_message_another_node_holds_and_takes_it_afterwards() {
    let (a, b, url) = two_nodes().await;
    a.accept(&[message("m1", "k1", 1)]).await.expect("accept");
    let claimed = a.claim(2_000, 62_000, 10).await.expect("claim");
    let batch = pushway_gateway::store::WriteBatch {
        outcomes: vec![pushway_gateway::store::OutcomeRecord {
            delivery_id: claimed[0].id,
            state: pushway_gateway::store::DeliveryState::Dead,
            run_at: 3_000,
            outcome: "invalid_token".to_owned(),
            reason: None,
            retried: false,
        }],
        ..Default::default()
    };
    a.record(&batch, 3_000).await.expect("record");
    // Another node is replaying its dead row: it holds the message (as `replay` does).
    let mut other = PgConnection::connect(&url).await.expect("connect");
    let mut tx = other.begin().await.expect("begin");
    sqlx::query("SELECT id FROM messages WHERE id = 'm1' FOR KEY SHARE")
        .execute(&mut *tx)
        .await
        .expect("lock");
    let pruned = tokio::time::timeout(Duration::from_secs(10), b.prune(10_000_000, 100))
        .await
        .expect("the prune does not wait for the held message")
        .expect("prune");
    assert_eq!(pruned, 0);
    tx.rollback().await.expect("rollback");
    assert_eq!(b.prune(10_000_000, 100).await.expect("prune"), 1);
    assert_eq!(stored_under(&a, "k1").await, (Vec::new(), 0));
}
