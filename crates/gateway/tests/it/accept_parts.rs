//! A message whose accept stopped between its parts (SQLite writes a big message in parts): it
//! is not settled meanwhile, and the same Idempotency-Key again completes it under the same id,
//! writing and sending only the rows that were missing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, c2c, on_postgres};

/// Writes to the store file while the gateway is stopped (what a crash left behind).
async fn edit_store(h: &Harness, statements: &[&str]) {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&h.db);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("open db");
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(&pool)
            .await
            .expect("edit");
    }
    pool.close().await;
}

async fn summary(h: &Harness, id: &str) -> Value {
    let a = h
        .call(
            Method::GET,
            &format!("/v1/apps/demo/messages/{id}/summary"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

#[tokio::test]
async fn the_same_key_completes_a_message_whose_accept_stopped_between_its_parts() {
    if on_postgres() {
        // Postgres writes every message in one transaction: none is ever left half-written.
        return;
    }
    let mut h = Harness::start().await;
    h.device("bob", "b1", "xiaomi", "regid-b1").await;
    h.device("bob", "b2", "xiaomi", "regid-b2").await;
    h.device("carol", "c1", "xiaomi", "regid-c1").await;
    let body = json!({
        "message": c2c("alice", "group", "hello"),
        "recipients": [{"user_id": "bob"}, {"user_id": "carol"}]
    });
    let first = h.post_message("k1", body.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    let id = first.body["message_id"].as_str().expect("id").to_owned();
    h.status_until(&id, |s| {
        s["recipients"][1]["devices"][0]["state"] == "delivered"
    })
    .await;
    assert_eq!(h.sims.xiaomi.acked(), 3);

    // As if the gateway had stopped after the part with bob: carol's rows never written.
    h.stop(Duration::from_secs(5)).await;
    edit_store(
        &h,
        &[
            "UPDATE messages SET complete = 0",
            "DELETE FROM deliveries WHERE user_id = 'carol'",
            "DELETE FROM recipients WHERE user_id = 'carol'",
        ],
    )
    .await;
    h.restart().await;
    let half = summary(&h, &id).await;
    assert_eq!(half["recipients"], 1);
    assert_eq!(half["deliveries"]["delivered"], 2);
    assert_eq!(half["settled"], false, "{half}");

    // The retry: the same id, carol's row written and sent once, bob's left as they were.
    let again = h.post_message("k1", body).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{:?}", again.body);
    assert_eq!(again.body["message_id"], id.as_str());
    h.status_until(&id, |s| {
        s["recipients"][1]["devices"][0]["state"] == "delivered"
    })
    .await;
    assert_eq!(h.count("messages").await, 1);
    assert_eq!(h.count("recipients").await, 2);
    assert_eq!(
        h.pairs("SELECT device_id, attempts FROM deliveries ORDER BY device_id")
            .await,
        [
            ("b1".to_owned(), 1),
            ("b2".to_owned(), 1),
            ("c1".to_owned(), 1)
        ]
    );
    assert_eq!(h.scalar("SELECT complete FROM messages").await, 1);
    assert_eq!(h.sims.xiaomi.acked(), 4);
    let whole = summary(&h, &id).await;
    assert_eq!(whole["recipients"], 2);
    assert_eq!(whole["deliveries"]["delivered"], 3);
    assert_eq!(whole["settled"], true, "{whole}");
}
