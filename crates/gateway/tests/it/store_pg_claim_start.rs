//! Where the Postgres claims start their walk of the due index (issue 16: a long transaction
//! elsewhere must not make claims crawl; `store/postgres/claim_start.rs`): a row within the
//! window or after the cursor is taken by the next claim, in claim order; a row below both
//! waits for the next sweep, which comes `SWEEP_MS` of the callers' clock after the last one.
//! These run on Postgres whatever `PUSHWAY_TEST_STORE` says.

use pushway_gateway::store::postgres::{PgStore, SWEEP_MS, WINDOW_MS};
use pushway_gateway::store::{NewMessage, Store};

use super::store::message;
use super::support::{claim_plan, first_column, pg_chat_store};

/// A message of `devices` rows accepted (stamped, so due) at `at`.
fn at(id: &str, at: i64, devices: usize) -> NewMessage {
    let mut m = message(id, id, devices);
    m.created_at = at;
    m
}

/// The outbox ids of message `id`, in id order.
async fn ids_of(store: &PgStore, id: &str) -> Vec<i64> {
    first_column(
        store,
        "SELECT id FROM outbox WHERE message_id = $1 ORDER BY id",
        id,
    )
    .await
}

/// Claims at `now` (leased until 160,000) and returns the ids, in the order they came.
async fn claim(store: &PgStore, now: i64, limit: u32) -> Vec<i64> {
    claim_until(store, now, 160_000, limit).await
}

async fn claim_until(store: &PgStore, now: i64, lease_until: i64, limit: u32) -> Vec<i64> {
    let rows = store.claim(now, lease_until, limit).await.expect("claim");
    rows.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn a_row_below_the_window_and_the_cursor_waits_for_the_next_sweep() {
    assert_eq!((WINDOW_MS, SWEEP_MS), (2_000, 5_000));
    let store = pg_chat_store().await;
    store.accept(&[at("a", 99_500, 2)]).await.expect("accept");
    // The first claim sweeps; its first row is the cursor: (99,500, a's notification, a's id).
    let a = ids_of(&store, "a").await;
    assert_eq!(claim_until(&store, 100_000, 101_000, 10).await, a);
    // Rows that became visible late: 3,000 ms (below the window, which starts at 98,000, and
    // below the cursor), 1,500 ms (below the cursor, within the window); and a new one.
    let late = [
        at("late", 97_000, 1),
        at("inside", 98_500, 2),
        at("new", 99_800, 1),
    ];
    store.accept(&late).await.expect("accept");
    let (late, inside, new) = (
        ids_of(&store, "late").await,
        ids_of(&store, "inside").await,
        ids_of(&store, "new").await,
    );
    // In claim order: (run_at, notification, id).
    let expected: Vec<i64> = inside.iter().chain(&new).copied().collect();
    assert_eq!(claim(&store, 100_000, 10).await, expected);
    assert_eq!(claim(&store, 100_000, 10).await, Vec::<i64>::new());
    // a's leases (until 101,000) ran out: a windowed claim takes them again, the late row not.
    assert_eq!(claim(&store, 102_000, 10).await, a);
    assert_eq!(claim(&store, 104_999, 10).await, Vec::<i64>::new());
    // SWEEP_MS after the first claim: a sweep, from the start of the index.
    assert_eq!(claim(&store, 105_000, 10).await, late);
}

#[tokio::test]
async fn a_sweep_moves_the_cursor_back_so_the_next_claims_take_every_straggler_in_order() {
    let store = pg_chat_store().await;
    store.accept(&[at("a", 99_500, 1)]).await.expect("accept");
    assert_eq!(claim(&store, 100_000, 10).await, ids_of(&store, "a").await);
    // Five rows 10 s late, older than the window and the cursor.
    store
        .accept(&[at("s1", 90_000, 3), at("s2", 91_000, 2)])
        .await
        .expect("accept");
    let (s1, s2) = (ids_of(&store, "s1").await, ids_of(&store, "s2").await);
    store.accept(&[at("b", 104_000, 1)]).await.expect("accept");
    let b = ids_of(&store, "b").await;
    assert_eq!(claim(&store, 104_500, 10).await, b);
    // The sweep takes the oldest two; the claims after it start at the first of them, so the
    // other three come next, in order, without waiting for another sweep.
    assert_eq!(claim(&store, 105_000, 2).await, s1[..2]);
    let rest: Vec<i64> = s1[2..].iter().chain(&s2).copied().collect();
    assert_eq!(claim(&store, 105_001, 10).await, rest);
    assert_eq!(claim(&store, 105_002, 10).await, Vec::<i64>::new());
}

#[tokio::test]
async fn the_windowed_claim_starts_its_index_scan_at_the_start_key() {
    let store = pg_chat_store().await;
    store.accept(&[at("a", 1_000, 3)]).await.expect("accept");
    let plan = claim_plan(&store, (900, 5, 7)).await;
    // Both bounds of the walk are in the index condition: it starts at the key, stops at now.
    assert!(
        plan.contains(
            "Index Cond: ((run_at <= '2000'::bigint) AND (ROW(run_at, notification_id, id) >= \
             ROW('900'::bigint, '5'::bigint, '7'::bigint)))"
        ),
        "{plan}"
    );
}
