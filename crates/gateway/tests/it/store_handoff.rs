//! Rows leased at accept (the worker's hand-off): written in flight under the lease a claim
//! would take, answered to the accept, claimed by nobody while the lease holds and claimed
//! again once it expires; a paused route's rows and rows beyond the lease's count stay due.
//! On Postgres, which leases nothing at accept, every row stays due.

use pushway_core::TokenKind;
use pushway_gateway::store::{
    AcceptLease, Claimed, NewDelivery, NewRecipient, RoutePause, WriteBatch,
};

use super::store::{message, open};
use super::support::on_postgres;

fn ids(rows: &[Claimed]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn rows_leased_at_accept_are_answered_held_and_claimed_again_after_the_lease() {
    let (store, _dir) = open().await;
    // A route paused until 50,000: its row is not leased.
    let pause = WriteBatch {
        pauses: vec![RoutePause {
            app: "chat".to_owned(),
            kind: TokenKind::Huawei,
            credential: "hw".to_owned(),
            until: 50_000,
            reason: "misconfigured".to_owned(),
        }],
        ..WriteBatch::default()
    };
    store.record(&pause, 500).await.expect("pause");
    let mut m = message("m1", "k1", 4);
    m.recipients[0].deliveries.insert(
        1,
        NewDelivery {
            device_id: "hw".to_owned(),
            kind: TokenKind::Huawei,
            credential: "hw".to_owned(),
            token: "thw".to_owned(),
            notification: 0,
        },
    );
    let lease = AcceptLease {
        now: 1_000,
        lease_until: 61_000,
        rows: 3,
    };
    let (accepted, leased) = store
        .accept_leasing(vec![m], Some(lease))
        .await
        .expect("accept");
    assert_eq!(accepted.len(), 1);
    assert!(accepted[0].created);
    let due_now = store.claim(2_000, 62_000, 10).await.expect("claim");
    if on_postgres() {
        assert!(leased.rows.is_empty());
        assert_eq!(due_now.len(), 4, "every row due (the huawei one paused)");
        return;
    }
    // d0, d1, d2 leased (the huawei row skipped as paused); d3 beyond the count stays due.
    let tokens: Vec<&str> = leased.rows.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(tokens, ["t0", "t1", "t2"]);
    for row in &leased.rows {
        assert_eq!((row.attempts, row.retries), (1, 0));
        assert_eq!(row.kind, TokenKind::Xiaomi);
        assert_eq!(row.message_id, "m1");
        assert_eq!((row.accepted_at, row.expires_at), (1_000, 1_000_000));
        assert_eq!(row.last_reason, None);
    }
    let notification = leased.rows[0].notification_id;
    assert_eq!(leased.notifications, vec![(notification, "{}".to_owned())]);
    assert_eq!(
        due_now.iter().map(|r| r.token.as_str()).collect::<Vec<_>>(),
        ["t3"]
    );
    // While the lease holds nobody claims them (the paused route's row waits for its end).
    assert!(
        store
            .claim(40_000, 100_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // After the lease (the process died before sending them), they are claimed again, attempt 2.
    let again = store.claim(61_000, 121_000, 10).await.expect("claim");
    let mut expected = ids(&leased.rows);
    expected.sort_unstable();
    let mut got: Vec<i64> = again
        .iter()
        .filter(|r| r.kind == TokenKind::Xiaomi)
        .map(|r| r.id)
        .collect();
    got.sort_unstable();
    assert_eq!(got, expected);
    assert!(
        again
            .iter()
            .filter(|r| r.kind == TokenKind::Xiaomi)
            .all(|r| r.attempts == 2)
    );
    assert_eq!(
        again
            .iter()
            .filter(|r| r.kind == TokenKind::Huawei)
            .map(|r| r.attempts)
            .collect::<Vec<_>>(),
        [1]
    );
}

#[tokio::test]
async fn without_a_lease_every_row_is_written_due() {
    let (store, _dir) = open().await;
    let (_, leased) = store
        .accept_leasing(vec![message("m1", "k1", 2)], None)
        .await
        .expect("accept");
    assert!(leased.rows.is_empty() && leased.notifications.is_empty());
    assert_eq!(
        store.claim(2_000, 62_000, 10).await.expect("claim").len(),
        2
    );
}

/// A message's delivery rows are written grouped by notification, each group in recipient
/// order (so a notification's dispatch, and the record of its outcomes, is one run of rows),
/// while the status still lists recipients in the order given and each one's devices by id
/// (alice's a1 is written before her a0).
#[tokio::test]
async fn a_messages_rows_are_written_grouped_by_notification_and_the_status_keeps_its_order() {
    let (store, _dir) = open().await;
    let device = |id: &str, notification: usize| NewDelivery {
        device_id: id.to_owned(),
        kind: TokenKind::Xiaomi,
        credential: "mi".to_owned(),
        token: format!("t-{id}"),
        notification,
    };
    let mut m = message("m1", "k1", 0);
    m.notifications = vec!["{\"n\":0}".to_owned(), "{\"n\":1}".to_owned()];
    let recipient = m.recipients[0].clone();
    m.recipients = [
        ("alice", vec![device("a0", 1), device("a1", 0)]),
        ("bob", vec![device("b0", 1)]),
        ("carol", vec![device("c0", 0)]),
    ]
    .into_iter()
    .map(|(user, deliveries)| NewRecipient {
        user: user.to_owned(),
        deliveries,
        ..recipient.clone()
    })
    .collect();
    let lease = AcceptLease {
        now: 1_000,
        lease_until: 61_000,
        rows: 10,
    };
    let (_, leased) = store
        .accept_leasing(vec![m], Some(lease))
        .await
        .expect("accept");
    let status = store
        .status("chat", "m1", 2_000)
        .await
        .expect("status")
        .expect("found");
    let listed: Vec<(&str, Vec<&str>)> = status
        .recipients
        .iter()
        .map(|r| {
            (
                r.user_id.as_str(),
                r.devices.iter().map(|d| d.device_id.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("alice", vec!["a0", "a1"]),
            ("bob", vec!["b0"]),
            ("carol", vec!["c0"])
        ]
    );
    if on_postgres() {
        return;
    }
    // Leased in the order written: notification 0's rows (alice's a1, carol's c0), then
    // notification 1's (alice's a0, bob's b0), with row ids in that order.
    let tokens: Vec<&str> = leased.rows.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(tokens, ["t-a1", "t-c0", "t-a0", "t-b0"]);
    let row_ids = ids(&leased.rows);
    assert!(row_ids.windows(2).all(|w| w[0] < w[1]), "{row_ids:?}");
    let notifications: Vec<i64> = leased.rows.iter().map(|r| r.notification_id).collect();
    assert_eq!(notifications[0], notifications[1]);
    assert_eq!(notifications[2], notifications[3]);
    assert!(notifications[1] < notifications[2]);
}
