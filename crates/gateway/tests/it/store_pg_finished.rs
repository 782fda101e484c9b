//! The Postgres hot outbox stays small (issue 16): a finished row (delivered, failed, dead)
//! leaves `outbox` for `outbox_finished` in the transaction that records its outcome, the
//! status, summary, dead letters and console still see every row once, a replayed dead letter
//! moves back, and pruning after the retention empties `outbox_finished`. These run on
//! Postgres whatever `PUSHWAY_TEST_STORE` says.

use pushway_core::TokenKind;
use pushway_gateway::store::postgres::PgStore;
use pushway_gateway::store::{
    DeadLetterFilter, DeliveryState, Device, OutcomeRecord, Store, WriteBatch,
};
use sqlx::Row;

use super::store::message;
use super::support::{claim_plan, pg_chat_store};

/// Deliveries of the message.
const N: usize = 12;

/// `(state, rows)` of a table, by state.
async fn by_state(store: &PgStore, table: &str) -> Vec<(String, i64)> {
    let sql = format!("SELECT state, count(*) FROM {table} GROUP BY state ORDER BY state");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .expect("count")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn outcome(id: i64, state: DeliveryState, label: &str, run_at: i64) -> OutcomeRecord {
    OutcomeRecord {
        delivery_id: id,
        state,
        run_at,
        outcome: label.to_owned(),
        reason: (state == DeliveryState::Dead).then(|| "Unregistered".to_owned()),
        retried: state == DeliveryState::Retrying,
    }
}

/// The outcome of row `i` (of the claim's order): delivered, dead, failed, retrying in turn.
fn planned(i: usize) -> (DeliveryState, &'static str) {
    match i % 4 {
        0 => (DeliveryState::Delivered, "delivered"),
        1 => (DeliveryState::Dead, "invalid_token"),
        2 => (DeliveryState::Failed, "unknown"),
        _ => (DeliveryState::Retrying, "retry"),
    }
}

#[tokio::test]
async fn finished_rows_leave_the_hot_table_and_stay_visible_until_pruned() {
    let store = pg_chat_store().await;
    store
        .accept(&[message("m1", "k1", N)])
        .await
        .expect("accept");
    let claimed = store.claim(2_000, 62_000, 100).await.expect("claim");
    // In id order, the rows of devices d0, d1, … (accepted in that order).
    let first = claimed[0].id;
    let ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    assert_eq!(ids, (first..).take(N).collect::<Vec<i64>>());
    let outcomes: Vec<OutcomeRecord> = claimed
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let (state, label) = planned(i);
            outcome(row.id, state, label, 90_000)
        })
        .collect();
    let batch = WriteBatch {
        outcomes,
        ..WriteBatch::default()
    };
    store.record(&batch, 3_000).await.expect("record");

    // The hot table keeps only the rows due again; the finished ones are out of it.
    let retrying = i64::try_from(N / 4).expect("n");
    let finished = i64::try_from(N).expect("n") - retrying;
    assert_eq!(
        by_state(&store, "outbox").await,
        vec![("retrying".to_owned(), retrying)]
    );
    assert_eq!(
        by_state(&store, "outbox_finished").await,
        vec![
            ("dead".to_owned(), retrying),
            ("delivered".to_owned(), retrying),
            ("failed".to_owned(), retrying),
        ]
    );
    assert_eq!(finished, 3 * retrying);

    // The status reports every (message, device) once, with its state, attempts and outcome.
    let status = store
        .status("chat", "m1", 3_000)
        .await
        .expect("status")
        .expect("found");
    let devices = &status.recipients[0].devices;
    assert_eq!(devices.len(), N);
    for i in 0..N {
        let (state, label) = planned(i);
        let device = format!("d{i}");
        let found: Vec<_> = devices.iter().filter(|d| d.device_id == device).collect();
        assert_eq!(found.len(), 1, "{device} once");
        assert_eq!(found[0].state, state, "{device}");
        assert_eq!(found[0].attempts, 1, "{device}");
        assert_eq!(found[0].last_outcome.as_deref(), Some(label), "{device}");
    }
    let summary = store
        .summary("chat", "m1")
        .await
        .expect("summary")
        .expect("found");
    let counts = &summary.deliveries;
    assert_eq!(
        (
            counts.total,
            counts.delivered,
            counts.dead,
            counts.failed,
            counts.retrying
        ),
        (12, 3, 3, 3, 3)
    );
    assert_eq!(summary.last_updated_at_ms, Some(3_000));

    // Dead letters come from the finished table; the console counts them and the open rows.
    let dead = store
        .dead_letters("chat", &DeadLetterFilter::default(), 0, 100)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 3);
    let stats = store.outbox_stats(100_000).await.expect("stats");
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].depth, stats[0].due, stats[0].dead), (3, 3, 3));
    let recent = store
        .recent_deliveries("chat", "bob", 100)
        .await
        .expect("recent");
    assert_eq!(recent.len(), N);
    let recent_ids: Vec<i64> = recent.iter().map(|r| r.id).collect();
    let mut newest_first: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(recent_ids, newest_first);

    // A replayed dead letter moves back into the hot table under its id, pending.
    let first_dead = dead[0].id;
    let d = first_dead - first;
    store
        .put_device(
            &Device {
                app: "chat".to_owned(),
                user: "bob".to_owned(),
                device_id: format!("d{d}"),
                kind: TokenKind::Xiaomi,
                credential: "mi".to_owned(),
                token: format!("t{d}"),
                locale: None,
            },
            4_000,
        )
        .await
        .expect("register");
    let replayed = store
        .replay("chat", &[first_dead], 5_000)
        .await
        .expect("replay");
    assert_eq!(replayed.replayed, vec![first_dead]);
    let back: Vec<(String, i64)> = sqlx::query("SELECT state, attempts FROM outbox WHERE id = $1")
        .bind(first_dead)
        .fetch_all(store.pool())
        .await
        .expect("outbox")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(back, vec![("pending".to_owned(), 0)]);
    assert_eq!(
        by_state(&store, "outbox_finished").await,
        vec![
            ("dead".to_owned(), retrying - 1),
            ("delivered".to_owned(), retrying),
            ("failed".to_owned(), retrying),
        ]
    );

    // Everything claimed again and finished: the hot table is empty, the message can go.
    let again = store.claim(100_000, 160_000, 100).await.expect("claim");
    assert_eq!(again.len(), 4);
    let batch = WriteBatch {
        outcomes: again
            .iter()
            .map(|row| outcome(row.id, DeliveryState::Delivered, "delivered", 100_000))
            .collect(),
        ..WriteBatch::default()
    };
    store.record(&batch, 100_000).await.expect("record");
    assert_eq!(by_state(&store, "outbox").await, vec![]);
    assert_eq!(
        by_state(&store, "outbox_finished").await,
        vec![
            ("dead".to_owned(), retrying - 1),
            ("delivered".to_owned(), retrying + 4),
            ("failed".to_owned(), retrying),
        ]
    );
    // Not yet past the retention: nothing pruned.
    assert_eq!(store.prune(1_000, 100).await.expect("prune"), 0);
    assert_eq!(by_state(&store, "deliveries").await.len(), 3);
    // Past it: the message and every finished row of it are gone.
    assert_eq!(store.prune(1_001, 100).await.expect("prune"), 1);
    assert_eq!(by_state(&store, "outbox_finished").await, vec![]);
    assert_eq!(by_state(&store, "deliveries").await, vec![]);
    assert!(
        store
            .status("chat", "m1", 200_000)
            .await
            .expect("status")
            .is_none()
    );
}

#[tokio::test]
async fn the_claim_walks_the_due_index_of_the_hot_table() {
    let store = pg_chat_store().await;
    store
        .accept(&[message("m1", "k1", 3)])
        .await
        .expect("accept");
    let plan = claim_plan(&store, (i64::MIN, i64::MIN, i64::MIN)).await;
    assert!(
        plan.contains("Index Scan using deliveries_due on outbox d"),
        "{plan}"
    );
    assert!(!plan.contains("outbox_finished"), "{plan}");
}
