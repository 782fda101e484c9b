//! A big message written in parts (`Store::accept_part`, SQLite): incomplete until its last part,
//! never settled while incomplete, and completed by a retry under the same id, with one row per
//! device, after an accept stopped between its parts. Postgres writes every message whole.

use pushway_core::TokenKind;
use pushway_gateway::store::{
    AcceptLease, AcceptPart, Accepted, Claimed, DeliveryState, NewDelivery, NewMessage,
    NewRecipient, OutcomeRecord, WriteBatch,
};

use super::store::{Both, open};

/// A message to bob, carol and dave, two devices each; carol's second device logged out.
fn group(id: &str) -> NewMessage {
    let recipient = |user: &str, devices: &[&str], out: Option<&str>| NewRecipient {
        user: user.to_owned(),
        unread: 1,
        suppressed: None,
        deliveries: devices
            .iter()
            .map(|d| NewDelivery {
                device_id: (*d).to_owned(),
                kind: TokenKind::Xiaomi,
                credential: "mi".to_owned(),
                token: format!("t-{d}"),
                notification: usize::from(user == "dave"),
            })
            .collect(),
        suppressed_devices: out
            .map(|d| vec![(d.to_owned(), "recipient_logged_out".to_owned())])
            .unwrap_or_default(),
    };
    NewMessage {
        id: id.to_owned(),
        app: "chat".to_owned(),
        idempotency_key: "k1".to_owned(),
        request_hash: [7; 32],
        body: "{}".to_owned(),
        created_at: 1_000,
        expires_at: 1_000_000,
        notifications: vec!["{\"n\":0}".to_owned(), "{\"n\":1}".to_owned()],
        recipients: vec![
            recipient("bob", &["b1", "b2"], None),
            recipient("carol", &["c1"], Some("c2")),
            recipient("dave", &["d1", "d2"], None),
        ],
    }
}

/// `message` with only its recipients `range`.
fn part(message: &NewMessage, range: std::ops::Range<usize>) -> NewMessage {
    NewMessage {
        recipients: message.recipients[range].to_vec(),
        ..message.clone()
    }
}

fn lease(rows: usize) -> Option<AcceptLease> {
    Some(AcceptLease {
        now: 1_000,
        lease_until: 61_000,
        rows,
    })
}

fn tokens(rows: &[Claimed]) -> Vec<&str> {
    rows.iter().map(|r| r.token.as_str()).collect()
}

async fn deliver(store: &dyn Both, rows: &[Claimed]) {
    let batch = WriteBatch {
        outcomes: rows
            .iter()
            .map(|row| OutcomeRecord {
                delivery_id: row.id,
                state: DeliveryState::Delivered,
                run_at: 2_000,
                outcome: "delivered".to_owned(),
                reason: None,
                retried: false,
            })
            .collect(),
        ..WriteBatch::default()
    };
    store.record(&batch, 2_000).await.expect("record");
}

/// Each recipient with the ids of its delivery devices, as the status lists them.
async fn devices(store: &dyn Both, id: &str) -> Vec<(String, Vec<String>)> {
    let status = store
        .status("chat", id, 3_000)
        .await
        .expect("status")
        .expect("the message");
    status
        .recipients
        .into_iter()
        .map(|r| {
            let ids = r.devices.into_iter().map(|d| d.device_id).collect();
            (r.user_id, ids)
        })
        .collect()
}

#[tokio::test]
async fn an_accept_stopped_after_its_first_part_is_completed_by_its_retry_under_the_same_id() {
    let (store, _dir) = open().await;
    if !store.accepts_in_parts() {
        // Postgres: every message whole, so none is ever incomplete.
        assert!(!store.incomplete("chat", "m1").await.expect("incomplete"));
        return;
    }
    let whole = group("m1");
    let first = AcceptPart {
        first: true,
        last: false,
        offset: 0,
    };
    let (accepted, leased) = store
        .accept_part(part(&whole, 0..1), first, lease(10))
        .await
        .expect("first part");
    assert_eq!(
        accepted,
        Accepted {
            message_id: "m1".to_owned(),
            created: true
        }
    );
    assert_eq!(tokens(&leased.rows), ["t-b1", "t-b2"]);
    let written = leased.notifications.clone();
    assert_eq!(written.len(), 1);
    // The accept stops here (a crash). Bob's rows are sent all the same.
    deliver(&*store, &leased.rows).await;
    assert!(store.incomplete("chat", "m1").await.expect("incomplete"));
    let summary = store
        .summary("chat", "m1")
        .await
        .expect("summary")
        .expect("the message");
    assert_eq!((summary.recipients, summary.deliveries.total), (1, 2));
    assert_eq!(summary.deliveries.delivered, 2);
    assert!(!summary.settled, "an incomplete message is not settled");
    assert_eq!(
        devices(&*store, "m1").await,
        [("bob".to_owned(), vec!["b1".to_owned(), "b2".to_owned()])]
    );

    // A request under the same key with a new id (one that did not see the first) writes
    // nothing: the first message answers.
    let (other, leased) = store
        .accept_part(
            group("m2"),
            AcceptPart {
                first: true,
                last: true,
                offset: 0,
            },
            lease(10),
        )
        .await
        .expect("other");
    assert_eq!(
        other,
        Accepted {
            message_id: "m1".to_owned(),
            created: false
        }
    );
    assert!(leased.rows.is_empty());
    assert_eq!(
        store.summary("chat", "m2").await.expect("summary"),
        None,
        "no second message"
    );

    // The retry writes the whole message again under its id: only the missing rows are
    // written and leased, and the message is complete.
    let (again, leased) = store
        .accept_part(
            whole.clone(),
            AcceptPart {
                first: true,
                last: true,
                offset: 0,
            },
            lease(10),
        )
        .await
        .expect("retry");
    assert_eq!(
        again,
        Accepted {
            message_id: "m1".to_owned(),
            created: false
        }
    );
    assert_eq!(tokens(&leased.rows), ["t-c1", "t-d1", "t-d2"]);
    // The notification already written is referred to, not written again.
    assert_eq!(leased.notifications.len(), 2);
    assert_eq!(leased.notifications[0], written[0]);
    assert_ne!(leased.notifications[1].0, written[0].0);
    assert!(!store.incomplete("chat", "m1").await.expect("incomplete"));
    let own = |u: &str, d: &[&str]| (u.to_owned(), d.iter().map(|d| (*d).to_owned()).collect());
    assert_eq!(
        devices(&*store, "m1").await,
        [
            own("bob", &["b1", "b2"]),
            own("carol", &["c1"]),
            own("dave", &["d1", "d2"])
        ]
    );
    let summary = store
        .summary("chat", "m1")
        .await
        .expect("summary")
        .expect("the message");
    assert_eq!(
        (
            summary.recipients,
            summary.suppressed_devices,
            summary.deliveries.total,
            summary.deliveries.delivered,
            summary.deliveries.in_flight
        ),
        (3, 1, 5, 2, 3)
    );
    assert!(!summary.settled);
    deliver(&*store, &leased.rows).await;
    let summary = store
        .summary("chat", "m1")
        .await
        .expect("summary")
        .expect("the message");
    assert!(summary.settled, "complete and every row delivered");
    assert_eq!(
        store.find_idempotent("chat", "k1").await.expect("find"),
        Some(("m1".to_owned(), [7; 32]))
    );
}

#[tokio::test]
async fn a_message_written_in_three_parts_is_incomplete_until_the_last_and_keeps_its_order() {
    let (store, _dir) = open().await;
    if !store.accepts_in_parts() {
        return;
    }
    let whole = group("m1");
    let mut notifications = Vec::new();
    for (i, range) in [0..1, 1..2, 2..3].into_iter().enumerate() {
        assert_eq!(
            store.incomplete("chat", "m1").await.expect("incomplete"),
            i > 0
        );
        let which = AcceptPart {
            first: i == 0,
            last: i == 2,
            offset: range.start,
        };
        let (accepted, leased) = store
            .accept_part(part(&whole, range), which, lease(10))
            .await
            .expect("part");
        assert_eq!(accepted.message_id, "m1");
        assert_eq!(accepted.created, i == 0);
        notifications.push(leased.notifications);
    }
    assert!(!store.incomplete("chat", "m1").await.expect("incomplete"));
    // Bob's and carol's rows share the one notification, written once.
    assert_eq!(notifications[0], notifications[1]);
    assert_ne!(notifications[0], notifications[2]);
    let users: Vec<String> = devices(&*store, "m1")
        .await
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    assert_eq!(users, ["bob", "carol", "dave"]);
}
