//! Dead letters: listed by app, reason and time, replayed with a fresh attempt budget (only
//! where the device still has the same token), and a replayed row delivered by the simulator.

use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::XiaomiFault;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin::{ADMIN_KEY, admin_call, with_admin};
use crate::support::{Harness, assert_problem, c2c, devices_of};

const LIST: &str = "/admin/v1/apps/demo/dead-letters";
const REPLAY: &str = "/admin/v1/apps/demo/dead-letters/replay";

async fn get(h: &Harness, path: &str) -> Value {
    let (a, _) = admin_call(h, Method::GET, path, Some(ADMIN_KEY), None).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
    a.body
}

async fn replay(h: &Harness, body: Value) -> Value {
    let (a, _) = admin_call(h, Method::POST, REPLAY, Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

/// A message to bob, carol and dave whose Xiaomi sends all fail (503, one attempt allowed):
/// three dead letters. Returns the message id and the three rows' ids, by user.
async fn three_dead(h: &Harness) -> (String, Vec<i64>) {
    for user in ["bob", "carol", "dave"] {
        h.device(user, "phone", "xiaomi", &format!("regid-{user}"))
            .await;
    }
    h.sims
        .xiaomi
        .inject(Trigger::Always, XiaomiFault::Status(503));
    let recipients = json!([{"user_id": "bob"}, {"user_id": "carol"}, {"user_id": "dave"}]);
    let id = h
        .post_nowait(
            "dl-1",
            json!({"message": c2c("alice", "bob", "hi"), "recipients": recipients}),
        )
        .await;
    let status = h
        .status_until(&id, |s| {
            ["bob", "carol", "dave"]
                .iter()
                .all(|u| devices_of(s, u)[0]["state"] == "dead")
        })
        .await;
    assert_eq!(devices_of(&status, "bob")[0]["last_outcome"], "retry");
    h.sims.xiaomi.clear_faults();
    let page = get(h, LIST).await;
    let ids = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["id"].as_i64().expect("id"))
        .collect();
    (id, ids)
}

#[tokio::test]
async fn dead_letters_are_listed_with_their_last_outcome_and_filtered() {
    let h = Harness::start_with(|config, _| {
        with_admin(config);
        config.worker.max_attempts = 1;
    })
    .await;
    let (message, ids) = three_dead(&h).await;
    let page = get(&h, LIST).await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{page:#}");
    assert_eq!(page.get("next_cursor"), None);
    for (item, user) in items.iter().zip(["bob", "carol", "dave"]) {
        let dead_at = item["dead_at_ms"].as_i64().expect("dead_at_ms");
        let created_at = item["created_at_ms"].as_i64().expect("created_at_ms");
        assert!(dead_at >= created_at, "{item:#}");
        let reason = item["last_reason"].clone();
        assert_eq!(reason, "http_503", "{item:#}");
        assert_eq!(
            *item,
            json!({
                "id": item["id"], "message_id": message, "user_id": user, "device_id": "phone",
                "kind": "xiaomi", "credential": "demo", "attempts": 1, "last_outcome": "retry",
                "last_reason": reason, "created_at_ms": created_at, "dead_at_ms": dead_at
            })
        );
        // No token in a dead letter.
        assert!(!item.to_string().contains("regid-"), "{item:#}");
    }
    let dead_at = items[0]["dead_at_ms"].as_i64().expect("time");
    let count = |page: &Value| page["items"].as_array().map_or(0, Vec::len);
    assert_eq!(count(&get(&h, &format!("{LIST}?reason=retry")).await), 3);
    assert_eq!(count(&get(&h, &format!("{LIST}?reason=http_503")).await), 3);
    assert_eq!(
        count(&get(&h, &format!("{LIST}?reason=invalid_token")).await),
        0
    );
    assert_eq!(
        count(&get(&h, &format!("{LIST}?since_ms={}", dead_at + 60_000)).await),
        0
    );
    assert_eq!(
        count(&get(&h, &format!("{LIST}?until_ms={dead_at}")).await),
        0
    );
    assert_eq!(
        count(
            &get(
                &h,
                &format!("{LIST}?since_ms=0&until_ms={}&reason=", dead_at + 60_000)
            )
            .await
        ),
        3
    );
    // Pages of one, by cursor.
    let first = get(&h, &format!("{LIST}?limit=2")).await;
    assert_eq!(count(&first), 2);
    assert_eq!(first["next_cursor"], ids[1]);
    let second = get(&h, &format!("{LIST}?limit=2&cursor={}", ids[1])).await;
    assert_eq!(count(&second), 1);
    assert_eq!(second["items"][0]["id"], ids[2]);
    assert_eq!(second.get("next_cursor"), None);
    // The other app has none; an unknown app, parameter or bad value is a problem.
    let other = get(&h, "/admin/v1/apps/other/dead-letters").await;
    assert_eq!(other, json!({"items": []}));
    for (path, status, slug) in [
        ("/admin/v1/apps/nope/dead-letters", 404, "unknown-app"),
        (
            "/admin/v1/apps/demo/dead-letters?token=x",
            400,
            "invalid-query",
        ),
        (
            "/admin/v1/apps/demo/dead-letters?limit=0",
            400,
            "invalid-query",
        ),
        (
            "/admin/v1/apps/demo/dead-letters?since_ms=yesterday",
            400,
            "invalid-query",
        ),
    ] {
        let (a, _) = admin_call(&h, Method::GET, path, Some(ADMIN_KEY), None).await;
        assert_problem(&a, status, slug);
    }
    let (a, _) = admin_call(&h, Method::GET, LIST, Some(crate::support::KEY), None).await;
    assert_problem(&a, 401, "unauthorized");
}

#[tokio::test]
async fn a_replay_makes_dead_letters_pending_again_only_where_the_token_is_the_same() {
    let h = Harness::start_with(|config, _| {
        with_admin(config);
        config.worker.max_attempts = 1;
    })
    .await;
    let (message, ids) = three_dead(&h).await;
    let (bob, carol, dave) = (ids[0], ids[1], ids[2]);
    // carol's phone has a new token since; dave's phone is gone.
    h.device("carol", "phone", "xiaomi", "regid-carol-2").await;
    let a = h
        .call(
            Method::DELETE,
            "/v1/apps/demo/users/dave/devices/phone",
            None,
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    h.sims.xiaomi.clear_requests();

    let answer = replay(&h, json!({"ids": [bob, carol, dave, 999_999, bob]})).await;
    assert_eq!(
        answer,
        json!({
            "replayed": 1,
            "replayed_ids": [bob],
            "not_replayed": [
                {"id": carol, "reason": "token_changed"},
                {"id": dave, "reason": "device_gone"},
                {"id": 999_999, "reason": "unknown"},
                {"id": bob, "reason": "not_dead"}
            ]
        })
    );
    // Delivered by the simulator, with a fresh budget: one attempt, not two.
    let status = h
        .status_until(&message, |s| {
            devices_of(s, "bob")[0]["state"] == "delivered"
        })
        .await;
    let device = &devices_of(&status, "bob")[0];
    assert_eq!(device["attempts"], 1, "{device:#}");
    assert_eq!(device["last_outcome"], "delivered");
    let requests = h.sims.xiaomi.requests();
    assert_eq!(requests.len(), 1);
    let body = String::from_utf8_lossy(&requests[0].body);
    assert!(body.contains("regid-bob"), "{body}");
    assert!(!body.contains("regid-carol"), "{body}");
    assert_eq!(devices_of(&status, "carol")[0]["state"], "dead");
    assert_eq!(devices_of(&status, "dave")[0]["state"], "dead");

    // What is left: carol's and dave's; a replay by filter refuses both, with the reasons.
    let left = get(&h, LIST).await;
    let left: Vec<&Value> = left["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| &d["id"])
        .collect();
    assert_eq!(left, [&json!(carol), &json!(dave)]);
    let answer = replay(&h, json!({"filter": {"reason": "retry"}, "limit": 10})).await;
    assert_eq!(
        answer,
        json!({
            "replayed": 0,
            "replayed_ids": [],
            "not_replayed": [
                {"id": carol, "reason": "token_changed"},
                {"id": dave, "reason": "device_gone"}
            ]
        })
    );
    // carol logs out and registers her old token again: still no replay while logged out.
    h.device("carol", "phone", "xiaomi", "regid-carol").await;
    let a = h
        .call(
            Method::POST,
            "/v1/apps/demo/users/carol/devices/phone/logout",
            None,
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let answer = replay(&h, json!({"ids": [carol]})).await;
    assert_eq!(
        answer["not_replayed"],
        json!([{"id": carol, "reason": "logged_out"}])
    );
    assert_eq!(h.sims.xiaomi.request_count(), 1);

    // Malformed replays.
    for (body, status, slug) in [
        (json!({"ids": [bob], "filter": {}}), 422, "invalid-field"),
        (json!({}), 422, "invalid-field"),
        (json!({"filter": {"token": "x"}}), 422, "invalid-field"),
        (json!({"filter": {}, "limit": 0}), 422, "invalid-field"),
    ] {
        let (a, _) = admin_call(&h, Method::POST, REPLAY, Some(ADMIN_KEY), Some(body)).await;
        assert_problem(&a, status, slug);
    }
    let (a, _) = admin_call(&h, Method::POST, REPLAY, None, Some(json!({"ids": [bob]}))).await;
    assert_problem(&a, 401, "unauthorized");
}

#[tokio::test]
async fn a_replayed_letter_that_had_expired_lives_its_time_to_live_again() {
    let h = Harness::start_with(|config, _| {
        with_admin(config);
        config.worker.max_attempts = 1_000_000;
    })
    .await;
    h.device("bob", "phone", "xiaomi", "regid-bob").await;
    h.sims
        .xiaomi
        .inject(Trigger::Always, XiaomiFault::Status(503));
    let mut message = c2c("alice", "bob", "hi");
    message["ttl_secs"] = json!(1);
    let id = h
        .post_nowait(
            "dl-ttl",
            json!({"message": message, "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    h.status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "dead")
        .await;
    let page = get(&h, &format!("{LIST}?reason=expired")).await;
    let row = page["items"][0]["id"]
        .as_i64()
        .expect("an expired dead letter");
    h.sims.xiaomi.clear_faults();
    let answer = replay(&h, json!({"ids": [row]})).await;
    assert_eq!(answer["replayed_ids"], json!([row]));
    let status = h
        .status_until(&id, |s| devices_of(s, "bob")[0]["state"] == "delivered")
        .await;
    assert_eq!(devices_of(&status, "bob")[0]["attempts"], 1);
    assert_eq!(get(&h, LIST).await, json!({"items": []}));
}
