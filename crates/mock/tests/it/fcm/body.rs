//! The body checks of §8 S5–S10 and S13, and the quotas of S12.

use super::*;

/// Sends `body` and returns (status, JSON).
async fn check(
    client: &reqwest::Client,
    sim: &FcmSimulator,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let answer = send(client, sim, token, &body).await;
    (answer.status, answer.json())
}

fn bad_field(field: &str, message: &str) -> Value {
    envelope(
        400,
        message,
        "INVALID_ARGUMENT",
        json!([{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
            {"field": field, "description": message}
        ]}]),
    )
}

fn invalid_argument(message: &str) -> Value {
    envelope(
        400,
        message,
        "INVALID_ARGUMENT",
        json!([fcm_error("INVALID_ARGUMENT")]),
    )
}

#[tokio::test]
async fn body_checks_answer_in_the_checklist_order_with_google_s_texts() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    let with = |path: &[&str], value: Value| {
        let mut body = message();
        let mut at = &mut body["message"];
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        body
    };
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "S5 unknown field",
            with(&["android", "notification", "colour"], json!("#ff0000")),
            bad_field(
                "message.android.notification",
                "Invalid JSON payload received. Unknown name \"colour\" at 'message.android.notification': Cannot find field.",
            ),
        ),
        (
            "S5 unknown top-level field",
            json!({"message": message()["message"], "dry_run": true}),
            bad_field(
                "",
                "Invalid JSON payload received. Unknown name \"dry_run\": Cannot find field.",
            ),
        ),
        (
            "S6 data value not a string (position in wire order)",
            with(&["data", "unread"], json!(12)),
            bad_field(
                "message.data[2].value",
                "Invalid value at 'message.data[2].value' (TYPE_STRING), 12",
            ),
        ),
        (
            "S6 ttl not a Duration",
            with(&["android", "ttl"], json!("86400")),
            bad_field(
                "message.android.ttl",
                "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), \"86400\"",
            ),
        ),
        (
            "S6 unknown priority",
            with(&["android", "priority"], json!("URGENT")),
            bad_field(
                "message.android.priority",
                "Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), \"URGENT\"",
            ),
        ),
        (
            "S6 notification_count not an int32",
            with(
                &["android", "notification", "notification_count"],
                json!(3_000_000_000_u64),
            ),
            bad_field(
                "message.android.notification.notification_count",
                "Invalid value at 'message.android.notification.notification_count' (TYPE_INT32), 3000000000",
            ),
        ),
        (
            "S7 two targets",
            with(&["topic"], json!("news")),
            bad_field(
                "message",
                "Invalid JSON payload received. Oneof field 'target' is already set. Cannot set 'topic'",
            ),
        ),
        (
            "S7 no target",
            json!({"message": {"data": {"a": "b"}}}),
            invalid_argument("Recipient of the message is not set."),
        ),
        (
            "S8 reserved data key",
            with(&["data", "google.sent_time"], json!("1")),
            invalid_argument("Invalid data payload key: google.sent_time"),
        ),
        (
            "S8 ttl over 28 days",
            with(&["android", "ttl"], json!("2419201s")),
            invalid_argument("android.ttl must be at most 2419200s, got 2419201s"),
        ),
        (
            "S8 color",
            with(&["android", "notification", "color"], json!("red")),
            invalid_argument("android.notification.color must be in the form #rrggbb, got red"),
        ),
    ];
    for (case, body, expected) in cases {
        assert_eq!(
            check(&client, &sim, &token, body).await,
            (400, expected),
            "{case}"
        );
    }
    assert_eq!(sim.accepted_count(), 0);
}

#[tokio::test]
async fn both_spellings_any_case_priority_and_validate_only_are_accepted() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    let camel = json!({"validateOnly": false, "message": {
        "token": DEVICE,
        "android": {"priority": "high", "ttl": "1.500000000s", "notification": {
            "channelId": "im", "clickAction": "OPEN_CHAT", "notificationCount": "4", "defaultSound": true
        }, "directBootOk": true},
        "apns": {"headers": {"apns-priority": "10"}, "payload": {"aps": {"badge": 1}}},
        "fcmOptions": {"analyticsLabel": "im"}
    }});
    assert_eq!(check(&client, &sim, &token, camel).await.0, 200);
    let mut dry = message();
    dry["validate_only"] = json!(true);
    assert_eq!(
        check(&client, &sim, &token, dry).await,
        (
            200,
            json!({"name": "projects/pushway-test/messages/fake_message_id"})
        )
    );
    // validate_only runs every check first.
    let mut dry_bad = message();
    dry_bad["validate_only"] = json!(true);
    dry_bad["message"]["token"] = json!("");
    assert_eq!(
        check(&client, &sim, &token, dry_bad).await,
        (400, invalid_token())
    );
    let mut topic = message();
    topic["message"]
        .as_object_mut()
        .expect("object")
        .remove("token");
    topic["message"]["topic"] = json!("bad/topic");
    assert_eq!(
        check(&client, &sim, &token, topic).await,
        (400, invalid_argument("Invalid topic name: bad/topic"))
    );
    assert_eq!(sim.accepted_count(), 1, "validate_only is not a send");
}

fn too_big() -> Value {
    envelope(
        400,
        "Android message is too big",
        "INVALID_ARGUMENT",
        json!([{"@type": "type.googleapis.com/google.rpc.BadRequest"}, fcm_error("INVALID_ARGUMENT")]),
    )
}

#[tokio::test]
async fn the_size_rule_counts_data_bytes_and_strictly_the_whole_message() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    // Data keys + values in UTF-8 bytes: "k" + 4095 bytes of 3-byte CJK and ASCII = 4096.
    let value = format!("{}{}", "你".repeat(1365), "");
    assert_eq!(1 + value.len(), 4096);
    let data = |value: &str| json!({"message": {"token": DEVICE, "data": {"k": value}}});
    assert_eq!(check(&client, &sim, &token, data(&value)).await.0, 200);
    assert_eq!(
        check(&client, &sim, &token, data(&format!("{value}x"))).await,
        (400, too_big())
    );
    // android.data replaces message.data in the count.
    let replaced = json!({"message": {"token": DEVICE, "data": {"k": format!("{value}x")}, "android": {"data": {"k": "v"}}}});
    assert_eq!(check(&client, &sim, &token, replaced).await.0, 200);

    // Strict: the compact message without its target, here {"data":{"k":"…"}} = 17 + len.
    sim.set_strict_size(true);
    let fits = "a".repeat(4096 - 17);
    assert_eq!(check(&client, &sim, &token, data(&fits)).await.0, 200);
    assert_eq!(
        check(&client, &sim, &token, data(&format!("{fits}a"))).await,
        (400, too_big())
    );
    assert_eq!(sim.accepted_count(), 3);
}

#[tokio::test]
async fn quotas_answer_429_with_retry_after_per_project_and_per_device() {
    use pushway_mock::fcm::Quotas;
    let quota_body = envelope(
        429,
        "Quota exceeded.",
        "RESOURCE_EXHAUSTED",
        json!([quota_failure(), fcm_error("QUOTA_EXCEEDED")]),
    );
    let project = Quotas {
        project_per_minute: Some(3),
        retry_after: true,
        ..Quotas::default()
    };
    let (sim, client) = start(builder().quotas(project)).await;
    let token = access_token(&client, &sim).await;
    for _ in 0..3 {
        assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    }
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!((answer.status, answer.json()), (429, quota_body.clone()));
    let secs: u64 = answer
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&secs), "{secs}");
    // No-header mode; setting quotas starts the windows afresh.
    sim.set_quotas(Quotas {
        retry_after: false,
        ..project
    });
    for _ in 0..3 {
        assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    }
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!((answer.status, answer.header("retry-after")), (429, None));

    // Per device: a second token is not affected.
    sim.set_quotas(Quotas {
        device_per_minute: Some(2),
        retry_after: true,
        ..Quotas::default()
    });
    let mut other = message();
    other["message"]["token"] = json!("other-device");
    for _ in 0..2 {
        assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    }
    assert_eq!(
        send(&client, &sim, &token, &message()).await.json(),
        quota_body
    );
    assert_eq!(send(&client, &sim, &token, &other).await.status, 200);
    sim.set_quotas(Quotas::default());
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(sim.accepted_count(), 3 + 3 + 2 + 1 + 1);
}

#[tokio::test]
async fn data_only_to_ios_needs_apns_priority_5() {
    use pushway_mock::fcm::TokenState;
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    sim.set_token_state("ios-device", TokenState::Ios);
    let body = |priority: &str, alert: bool| {
        let mut payload = json!({"aps": {"content-available": 1}});
        if alert {
            payload["aps"]["alert"] = json!({"title": "Alice", "body": "hi"});
        }
        json!({"message": {"token": "ios-device", "data": {"conv_id": "c2c_alice"},
            "apns": {"headers": {"apns-priority": priority}, "payload": payload}}})
    };
    assert_eq!(
        check(&client, &sim, &token, body("10", false)).await,
        (
            400,
            invalid_argument(
                "Data-only messages to iOS devices must be sent with apns-priority 5."
            )
        )
    );
    assert_eq!(check(&client, &sim, &token, body("5", false)).await.0, 200);
    assert_eq!(check(&client, &sim, &token, body("10", true)).await.0, 200);
    // The same message to an Android token is fine.
    let mut android = body("10", false);
    android["message"]["token"] = json!(DEVICE);
    assert_eq!(check(&client, &sim, &token, android).await.0, 200);
    assert_eq!(sim.accepted_count(), 3);
}
