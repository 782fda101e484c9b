//! Receive rules end to end (issue 17): the settings API stores receive options, a locale and a
//! do-not-disturb window; the accept path applies them, and each suppression's reason is in the
//! message status.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, assert_problem, c2c, devices_of, recipient};

async fn put_settings(h: &Harness, user: &str, body: Value) {
    let path = format!("/v1/apps/demo/users/{user}/settings");
    let a = h.call(Method::PUT, &path, Some(body.clone())).await;
    assert_eq!((a.status, &a.body), (StatusCode::OK, &body));
    // Read back exactly as set.
    assert_eq!(h.call(Method::GET, &path, None).await.body, body);
}

fn group(mentions: Value) -> Value {
    json!({
        "conversation": {"type": "group", "id": "g1", "name": "Climbers"},
        "sender": {"user_id": "alice", "nickname": "Ann"},
        "elements": [{"type": "text", "text": "hi "}, {"type": "face"}],
        "mentions": mentions
    })
}

fn to(users: &[&str]) -> Value {
    Value::Array(
        users
            .iter()
            .map(|u| json!({"user_id": u, "unread": 1}))
            .collect(),
    )
}

/// An RFC 3339 instant `offset_secs` from now.
fn from_now(offset_secs: i64) -> String {
    let now = jiff::Timestamp::now();
    now.checked_add(jiff::SignedDuration::from_secs(offset_secs))
        .expect("in range")
        .to_string()
}

#[tokio::test]
async fn receive_options_and_windows_suppress_with_their_reasons() {
    let h = Harness::start().await;
    for user in ["bob", "carol", "dave", "erin", "fay", "gus"] {
        h.device(user, "x", "xiaomi", &format!("regid-{user}"))
            .await;
    }
    put_settings(
        &h,
        "bob",
        json!({"receive": {"groups": {"g1": "notify_only_when_mentioned"}}}),
    )
    .await;
    put_settings(
        &h,
        "carol",
        json!({"receive": {"groups": {"g1": "notify_only_when_mentioned"}}}),
    )
    .await;
    put_settings(
        &h,
        "dave",
        json!({"receive": {"groups": {"g1": "receive_not_notify"}}}),
    )
    .await;
    put_settings(&h, "erin", json!({"receive": {"global": "not_receive"}})).await;
    // fay is inside a one-off window around now; gus's window is over.
    put_settings(
        &h,
        "fay",
        json!({"receive": {"dnd": {"period": {"start": from_now(-3600), "duration_secs": 7200}}}}),
    )
    .await;
    put_settings(
        &h,
        "gus",
        json!({"receive": {"dnd": {"period": {"start": from_now(-7200), "duration_secs": 3600}}}}),
    )
    .await;

    let users = ["bob", "carol", "dave", "erin", "fay", "gus"];
    let a = h
        .post_message(
            "m1",
            json!({"message": group(json!({"user_ids": ["bob"]})), "recipients": to(&users)}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(devices_of(&a.body, "bob")[0]["state"], "delivered");
    assert_eq!(
        recipient(&a.body, "carol")["suppressed"],
        "group_not_mentioned"
    );
    assert_eq!(
        recipient(&a.body, "dave")["suppressed"],
        "group_not_notified"
    );
    assert_eq!(
        recipient(&a.body, "erin")["suppressed"],
        "global_not_received"
    );
    assert_eq!(recipient(&a.body, "fay")["suppressed"], "do_not_disturb");
    assert_eq!(devices_of(&a.body, "gus")[0]["state"], "delivered");
    // One batched Xiaomi request to the two who get it.
    let sent = h.sims.xiaomi.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].form_value("registration_id").as_deref(),
        Some("regid-bob,regid-gus")
    );
    assert_eq!(
        sent[0].form_value("description").as_deref(),
        Some("Ann: hi [表情]")
    );
}

#[tokio::test]
async fn the_peer_mute_holds_unless_the_message_ignores_it_and_online_only_never_pushes() {
    let h = Harness::start().await;
    h.device("bob", "x", "xiaomi", "regid-bob").await;
    put_settings(
        &h,
        "bob",
        json!({"receive": {"peers": {"alice": "receive_not_notify"}}}),
    )
    .await;

    let a = h
        .post_message(
            "m1",
            json!({"message": c2c("alice", "bob", "hi"), "recipients": to(&["bob"])}),
        )
        .await;
    assert_eq!(recipient(&a.body, "bob")["suppressed"], "peer_muted");

    let mut ignoring = c2c("alice", "bob", "hi");
    ignoring["control"] = json!({"ignore_peer_mute": true});
    let a = h
        .post_message(
            "m2",
            json!({"message": ignoring, "recipients": to(&["bob"])}),
        )
        .await;
    assert_eq!(devices_of(&a.body, "bob")[0]["state"], "delivered");

    let mut online = c2c("carol", "bob", "hi");
    online["control"] = json!({"online_only": true});
    let a = h
        .post_message("m3", json!({"message": online, "recipients": to(&["bob"])}))
        .await;
    assert_eq!(recipient(&a.body, "bob")["suppressed"], "online_only");
    assert_eq!(h.sims.xiaomi.requests().len(), 1);
}

#[tokio::test]
async fn a_user_locale_picks_the_table_for_devices_without_one_and_a_config_table_applies() {
    let h = Harness::start_with(|config, _| {
        let demo = config.apps.get_mut("demo").expect("demo app");
        demo.render.placeholders.insert(
            "en".to_owned(),
            pushway_gateway::config::PlaceholdersConfig::Builtin("tim_en".to_owned()),
        );
    })
    .await;
    h.device("bob", "x", "xiaomi", "regid-bob").await;
    put_settings(&h, "bob", json!({"locale": "en-US"})).await;
    let a = h
        .post_message(
            "m1",
            json!({"message": group(json!({})), "recipients": to(&["bob"])}),
        )
        .await;
    assert_eq!(devices_of(&a.body, "bob")[0]["state"], "delivered");
    let sent = h.sims.xiaomi.requests();
    assert_eq!(
        sent[0].form_value("description").as_deref(),
        Some("Ann: hi [Face]")
    );
}

#[tokio::test]
async fn bad_receive_settings_are_refused_naming_the_field_and_nothing_is_stored() {
    let h = Harness::start().await;
    let path = "/v1/apps/demo/users/bob/settings";
    let too_many: serde_json::Map<String, Value> = (0
        ..=pushway_gateway::service::MAX_RECEIVE_ENTRIES)
        .map(|i| (format!("g{i}"), json!("not_receive")))
        .collect();
    for (body, field) in [
        (
            json!({"receive": {"dnd": {"daily": {"start": "22:00", "duration_secs": 90000, "time_zone": "UTC"}}}}),
            "receive.dnd",
        ),
        (
            json!({"receive": {"dnd": {"daily": {"start": "22:00", "duration_secs": 60, "time_zone": "Moon/Base"}}}}),
            "receive.dnd",
        ),
        (
            json!({"receive": {"peers": {"alice": "notify_only_when_mentioned"}}}),
            "receive.peers.alice",
        ),
        (json!({"receive": {"groups": too_many}}), "receive.groups"),
        (
            json!({"receive": {"peers": {"": "not_receive"}}}),
            "receive.peers.",
        ),
        (json!({"locale": "en US"}), "locale"),
        (json!({"receive": {"mute": true}}), "receive.mute"),
    ] {
        let a = h.call(Method::PUT, path, Some(body.clone())).await;
        assert_problem(&a, 422, "invalid-field");
        assert_eq!(a.body["field"], field, "{body}: {:?}", a.body);
    }
    assert_eq!(h.count("user_settings").await, 0);
}
