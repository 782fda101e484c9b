//! A message accepted in parts (`Store::accept_in_parts`, the accept path of large group
//! messages): every part is stored as one message, in one transaction, or nothing is. On
//! SQLite (which writes each part as it arrives), or on Postgres with
//! `PUSHWAY_TEST_STORE=postgres` (the trait's default, which collects the parts first).

use pushway_core::TokenKind;
use pushway_gateway::store::{
    AcceptLease, Accepted, DeliveryState, MessagePart, NewDelivery, NewMessage, NewRecipient, Store,
};
use tokio::sync::mpsc;

use super::store::{message, open};
use super::support::on_postgres;

/// A message's head: no notifications or recipients yet.
fn head(id: &str, key: &str) -> NewMessage {
    let mut head = message(id, key, 0);
    head.notifications.clear();
    head.recipients.clear();
    head
}

fn recipient(user: &str, devices: &[(&str, usize)]) -> NewRecipient {
    NewRecipient {
        user: user.to_owned(),
        unread: 1,
        suppressed: None,
        deliveries: devices
            .iter()
            .map(|&(device, notification)| NewDelivery {
                device_id: device.to_owned(),
                kind: TokenKind::Xiaomi,
                credential: "mi".to_owned(),
                token: format!("{user}-{device}"),
                notification,
            })
            .collect(),
        suppressed_devices: Vec::new(),
    }
}

/// Three parts: the second brings a notification of its own, and its second recipient refers
/// to the first part's.
fn parts() -> Vec<MessagePart> {
    let mut carol = recipient("carol", &[]);
    carol.suppressed = Some("no_devices".to_owned());
    let mut erin = recipient("erin", &[]);
    erin.suppressed_devices = vec![("e1".to_owned(), "logged_out".to_owned())];
    vec![
        MessagePart {
            notifications: vec![r#"{"n":0}"#.to_owned()],
            recipients: vec![recipient("bob", &[("b1", 0), ("b2", 0)]), carol],
            last: false,
        },
        MessagePart {
            notifications: vec![r#"{"n":1}"#.to_owned()],
            recipients: vec![
                recipient("dave", &[("d1", 1)]),
                recipient("frank", &[("f1", 0)]),
            ],
            last: false,
        },
        MessagePart {
            notifications: Vec::new(),
            recipients: vec![erin],
            last: true,
        },
    ]
}

/// Sends `parts` as a caller rendering them would, and answers the accept.
async fn accept(
    store: &dyn Store,
    head: NewMessage,
    parts: Vec<MessagePart>,
    lease: Option<AcceptLease>,
) -> Result<(Accepted, pushway_gateway::store::LeasedAtAccept), String> {
    let (tx, rx) = mpsc::channel(1);
    let send = async move {
        for part in parts {
            if tx.send(part).await.is_err() {
                break;
            }
        }
    };
    let (accepted, ()) = tokio::join!(store.accept_in_parts(head, rx, lease), send);
    accepted.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_message_in_parts_is_stored_whole_in_order_with_each_part_s_notifications() {
    let (store, _dir) = open().await;
    let lease = AcceptLease {
        now: 1_000,
        lease_until: 61_000,
        rows: 3,
    };
    let (accepted, leased) = accept(&*store, head("m1", "k1"), parts(), Some(lease))
        .await
        .expect("accepted");
    assert_eq!(
        accepted,
        Accepted {
            message_id: "m1".to_owned(),
            created: true
        }
    );

    let status = store
        .status("chat", "m1", 2_000)
        .await
        .expect("status")
        .expect("stored");
    let users: Vec<&str> = status
        .recipients
        .iter()
        .map(|r| r.user_id.as_str())
        .collect();
    assert_eq!(users, ["bob", "carol", "dave", "frank", "erin"]);
    assert_eq!(
        status.recipients[1].suppressed.as_deref(),
        Some("no_devices")
    );
    let erin = &status.recipients[4].suppressed_devices;
    assert_eq!(erin.len(), 1);
    assert_eq!(
        (erin[0].device_id.as_str(), erin[0].reason.as_str()),
        ("e1", "logged_out")
    );
    let devices: Vec<&str> = status
        .recipients
        .iter()
        .flat_map(|r| &r.devices)
        .map(|d| d.device_id.as_str())
        .collect();
    assert_eq!(devices, ["b1", "b2", "d1", "f1"]);

    // Each delivery refers to the notification its part gave it: claimed (what is left due)
    // or leased at accept, every row's notification is read back by its id.
    let mut rows = leased.rows.clone();
    rows.extend(store.claim(2_000, 62_000, 10).await.expect("claim"));
    rows.sort_by_key(|r| r.id);
    let tokens: Vec<&str> = rows.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(tokens, ["bob-b1", "bob-b2", "dave-d1", "frank-f1"]);
    let ids: Vec<i64> = rows.iter().map(|r| r.notification_id).collect();
    let bodies = store.notifications(&ids).await.expect("notifications");
    let body_of = |id: i64| {
        bodies
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, body)| body.as_str())
            .expect("notification stored")
    };
    let per_row: Vec<&str> = ids.iter().map(|&id| body_of(id)).collect();
    assert_eq!(
        per_row,
        [r#"{"n":0}"#, r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":0}"#]
    );

    if on_postgres() {
        // The trait's default leases none: every row was left due for the claim above.
        assert!(leased.rows.is_empty());
    } else {
        // SQLite leases the first `lease.rows` rows, across parts, with their notifications
        // once each.
        let tokens: Vec<&str> = leased.rows.iter().map(|r| r.token.as_str()).collect();
        assert_eq!(tokens, ["bob-b1", "bob-b2", "dave-d1"]);
        assert!(leased.rows.iter().all(|r| r.attempts == 1));
        let handed: Vec<&str> = leased
            .notifications
            .iter()
            .map(|(_, b)| b.as_str())
            .collect();
        assert_eq!(handed, [r#"{"n":0}"#, r#"{"n":1}"#]);
        let states: Vec<DeliveryState> = status
            .recipients
            .iter()
            .flat_map(|r| &r.devices)
            .map(|d| d.state)
            .collect();
        assert_eq!(
            states,
            [
                DeliveryState::InFlight,
                DeliveryState::InFlight,
                DeliveryState::InFlight,
                DeliveryState::Pending
            ]
        );
    }
}

#[tokio::test]
async fn parts_that_end_without_the_last_one_store_nothing() {
    let (store, _dir) = open().await;
    let mut first_two = parts();
    first_two.truncate(2);
    let error = accept(&*store, head("m1", "k1"), first_two, None)
        .await
        .expect_err("abandoned");
    assert!(error.contains("abandoned"), "{error}");
    assert!(
        store
            .status("chat", "m1", 2_000)
            .await
            .expect("status")
            .is_none()
    );
    assert!(
        store
            .claim(2_000, 62_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // The key is free again.
    let (accepted, _) = accept(&*store, head("m2", "k1"), parts(), None)
        .await
        .expect("accepted");
    assert!(accepted.created);
}

#[tokio::test]
async fn a_key_taken_earlier_answers_the_earlier_message_and_stores_no_part() {
    let (store, _dir) = open().await;
    assert!(
        store
            .accept(&[message("m1", "k1", 1)])
            .await
            .expect("accept")[0]
            .created
    );
    let (accepted, leased) = accept(&*store, head("m2", "k1"), parts(), None)
        .await
        .expect("answered");
    assert_eq!(
        accepted,
        Accepted {
            message_id: "m1".to_owned(),
            created: false
        }
    );
    assert!(leased.rows.is_empty());
    assert!(
        store
            .status("chat", "m2", 2_000)
            .await
            .expect("status")
            .is_none()
    );
    // Only m1's one row.
    assert_eq!(
        store.claim(2_000, 62_000, 10).await.expect("claim").len(),
        1
    );
}
