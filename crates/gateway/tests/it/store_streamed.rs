//! A message whose recipients come in parts (`Store::accept_streamed`): written whole, each
//! delivery row with its own part's notifications, leased across parts; and nothing stored
//! when the parts stop before their end. On SQLite (parts written as they come) or Postgres
//! (parts collected first).

use std::collections::BTreeMap;

use pushway_core::TokenKind;
use pushway_gateway::store::{
    AcceptLease, Claimed, MorePart, MoreRecipients, NewDelivery, NewRecipient, Store,
};
use tokio::sync::mpsc;

use super::store::{message, open};
use super::support::on_postgres;

fn recipient(user: &str, devices: &[(&str, usize)]) -> NewRecipient {
    NewRecipient {
        user: user.to_owned(),
        unread: 1,
        suppressed: None,
        deliveries: devices
            .iter()
            .map(|(token, notification)| NewDelivery {
                device_id: format!("dev-{token}"),
                kind: TokenKind::Xiaomi,
                credential: "mi".to_owned(),
                token: (*token).to_owned(),
                notification: *notification,
            })
            .collect(),
        suppressed_devices: Vec::new(),
    }
}

/// Two parts after bob's (`t0`, notification 0): carol's with a new notification (index 1),
/// then dave's, one device on each notification.
fn parts() -> Vec<MorePart> {
    vec![
        MorePart::Recipients {
            notifications: vec!["{\"badge\":2}".to_owned()],
            recipients: vec![recipient("carol", &[("t-carol", 1)])],
        },
        MorePart::Recipients {
            notifications: Vec::new(),
            recipients: vec![recipient("dave", &[("t-dave-a", 0), ("t-dave-b", 1)])],
        },
    ]
}

/// Sends `parts` then (when `end`) the end, from a task of its own.
fn stream(parts: Vec<MorePart>, end: Option<MorePart>) -> MoreRecipients {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for part in parts.into_iter().chain(end) {
            if tx.send(part).await.is_err() {
                return;
            }
        }
    });
    MoreRecipients(rx)
}

/// Each token's notification JSON, from the rows' notification ids.
async fn bodies(store: &dyn Store, rows: &[Claimed]) -> BTreeMap<String, String> {
    let ids: Vec<i64> = rows.iter().map(|r| r.notification_id).collect();
    let known: BTreeMap<i64, String> = store
        .notifications(&ids)
        .await
        .expect("notifications")
        .into_iter()
        .collect();
    rows.iter()
        .map(|r| (r.token.clone(), known[&r.notification_id].clone()))
        .collect()
}

#[tokio::test]
async fn a_message_in_parts_is_written_whole_each_row_with_its_part_s_notification() {
    let (store, _dir) = open().await;
    let lease = AcceptLease {
        now: 1_000,
        lease_until: 61_000,
        rows: 2,
    };
    let (accepted, leased) = store
        .accept_streamed(
            message("m1", "k1", 1),
            stream(parts(), Some(MorePart::End)),
            Some(lease),
        )
        .await
        .expect("accept");
    assert!(accepted.created);
    assert_eq!(accepted.message_id, "m1");

    // SQLite leases the first two rows written, across parts (bob's, then carol's: rows go in
    // part by part); Postgres leases none.
    let leased_tokens: Vec<&str> = leased.rows.iter().map(|r| r.token.as_str()).collect();
    if on_postgres() {
        assert!(leased_tokens.is_empty());
    } else {
        assert_eq!(leased_tokens, ["t0", "t-carol"]);
        let carol = &leased.rows[1];
        assert_eq!(
            leased.notifications,
            [
                (leased.rows[0].notification_id, "{}".to_owned()),
                (carol.notification_id, "{\"badge\":2}".to_owned())
            ]
        );
    }
    let claimed = store.claim(2_000, 62_000, 100).await.expect("claim");
    let mut rows = leased.rows.clone();
    rows.extend(claimed);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let expected: BTreeMap<String, String> = [
        ("t0", "{}"),
        ("t-carol", "{\"badge\":2}"),
        ("t-dave-a", "{}"),
        ("t-dave-b", "{\"badge\":2}"),
    ]
    .into_iter()
    .map(|(t, b)| (t.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(bodies(&*store, &rows).await, expected);

    let status = store
        .status("chat", "m1", 2_000)
        .await
        .expect("status")
        .expect("the message");
    let users: Vec<&str> = status
        .recipients
        .iter()
        .map(|r| r.user_id.as_str())
        .collect();
    assert_eq!(users, ["bob", "carol", "dave"]);
}

#[tokio::test]
async fn parts_that_stop_before_their_end_or_fail_leave_nothing_stored() {
    let (store, _dir) = open().await;
    // The sender goes after the first part, without the end: an abandoned request.
    let mut first = parts();
    first.truncate(1);
    let abandoned = store
        .accept_streamed(message("m1", "k1", 1), stream(first, None), None)
        .await
        .expect_err("an abandoned stream");
    assert!(
        abandoned.to_string().contains("stopped before their end"),
        "{abandoned}"
    );
    let failed = store
        .accept_streamed(
            message("m2", "k1", 1),
            stream(
                parts(),
                Some(MorePart::Failed("rendering failed".to_owned())),
            ),
            None,
        )
        .await
        .expect_err("a failed stream");
    assert_eq!(failed.to_string(), "store: rendering failed");

    assert_eq!(
        store.find_idempotent("chat", "k1").await.expect("find"),
        None
    );
    assert!(
        store
            .status("chat", "m1", 2_000)
            .await
            .expect("status")
            .is_none()
    );
    assert!(
        store
            .status("chat", "m2", 2_000)
            .await
            .expect("status")
            .is_none()
    );
    assert!(
        store
            .claim(2_000, 62_000, 100)
            .await
            .expect("claim")
            .is_empty()
    );

    // The key is free: the whole message goes in under it.
    let (accepted, _) = store
        .accept_streamed(
            message("m3", "k1", 1),
            stream(parts(), Some(MorePart::End)),
            None,
        )
        .await
        .expect("accept");
    assert!(accepted.created);
    assert_eq!(
        store.claim(2_000, 62_000, 100).await.expect("claim").len(),
        4
    );
}
