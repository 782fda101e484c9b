//! Every error shape of §5 exactly (faults and the token registry), and the body checks of §8
//! S5–S10 and S13.

use pushway_mock::fault::Trigger;
use pushway_mock::fcm::{FcmFault, TokenState};

use super::*;

fn envelope(code: u16, message: &str, status: &str, details: Value) -> Value {
    json!({"error": {"code": code, "message": message, "status": status, "details": details}})
}

fn apns_error(status: u16, reason: &str) -> Value {
    json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.ApnsError", "statusCode": status, "reason": reason})
}

fn quota_failure() -> Value {
    json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"subject": "messaging", "description": "Exceeded quota for messages sent per minute."}
    ]})
}

fn unregistered() -> Value {
    envelope(
        404,
        "Requested entity was not found.",
        "NOT_FOUND",
        json!([fcm_error("UNREGISTERED")]),
    )
}

fn invalid_token() -> Value {
    envelope(
        400,
        "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
        json!([fcm_error("INVALID_ARGUMENT")]),
    )
}

fn apns_unregistered() -> Value {
    envelope(
        400,
        "APNs device token is disabled.",
        "INVALID_ARGUMENT",
        json!([
            fcm_error("INVALID_ARGUMENT"),
            apns_error(410, "Unregistered")
        ]),
    )
}

fn sender_id_mismatch() -> Value {
    envelope(
        403,
        "SenderId mismatch",
        "PERMISSION_DENIED",
        json!([fcm_error("SENDER_ID_MISMATCH")]),
    )
}

fn third_party() -> Value {
    envelope(
        401,
        "Auth error from APNS or Web Push Service",
        "UNAUTHENTICATED",
        json!([
            fcm_error("THIRD_PARTY_AUTH_ERROR"),
            apns_error(403, "InvalidProviderToken")
        ]),
    )
}

#[tokio::test]
async fn every_scripted_error_has_its_exact_status_headers_and_body() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    let unauthenticated = json!({"error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "status": "UNAUTHENTICATED"
    }});
    let permission = json!({"error": {
        "code": 403,
        "message": "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/pushway-test' (or it may not exist).",
        "status": "PERMISSION_DENIED"
    }});
    let cases: Vec<(FcmFault, u16, Option<&str>, Value)> = vec![
        (FcmFault::Unregistered, 404, None, unregistered()),
        (FcmFault::InvalidToken, 400, None, invalid_token()),
        (FcmFault::ApnsUnregistered, 400, None, apns_unregistered()),
        (FcmFault::SenderIdMismatch, 403, None, sender_id_mismatch()),
        (
            FcmFault::QuotaExceeded {
                retry_after: Some(30),
            },
            429,
            Some("30"),
            envelope(
                429,
                "Quota exceeded.",
                "RESOURCE_EXHAUSTED",
                json!([quota_failure(), fcm_error("QUOTA_EXCEEDED")]),
            ),
        ),
        (
            FcmFault::QuotaExceeded { retry_after: None },
            429,
            None,
            envelope(
                429,
                "Quota exceeded.",
                "RESOURCE_EXHAUSTED",
                json!([quota_failure(), fcm_error("QUOTA_EXCEEDED")]),
            ),
        ),
        (
            FcmFault::Unavailable {
                retry_after: Some(10),
            },
            503,
            Some("10"),
            envelope(
                503,
                "The service is currently unavailable.",
                "UNAVAILABLE",
                json!([fcm_error("UNAVAILABLE")]),
            ),
        ),
        (
            FcmFault::Unavailable { retry_after: None },
            503,
            None,
            envelope(
                503,
                "The service is currently unavailable.",
                "UNAVAILABLE",
                json!([fcm_error("UNAVAILABLE")]),
            ),
        ),
        (
            FcmFault::Internal { retry_after: None },
            500,
            None,
            envelope(
                500,
                "Internal error encountered.",
                "INTERNAL",
                json!([fcm_error("INTERNAL")]),
            ),
        ),
        (FcmFault::ThirdPartyAuthError, 401, None, third_party()),
        (FcmFault::Unauthenticated, 401, None, unauthenticated),
        (FcmFault::PermissionDenied, 403, None, permission),
    ];
    for (fault, status, retry_after, body) in cases {
        sim.inject(Trigger::Times(1), fault.clone());
        let answer = send(&client, &sim, &token, &message()).await;
        assert_eq!(answer.status, status, "{fault:?}");
        assert_eq!(answer.header("retry-after"), retry_after, "{fault:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json; charset=UTF-8"),
            "{fault:?}"
        );
        assert_eq!(answer.json(), body, "{fault:?}");
        assert!(
            answer.body.contains("\n  \"error\": {\n    \"code\""),
            "{fault:?}: not pretty: {}",
            answer.body
        );
        let www = (fault == FcmFault::Unauthenticated)
            .then_some(r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#);
        assert_eq!(answer.header("www-authenticate"), www, "{fault:?}");
    }
    // The queue is used up: the next send is accepted, and only it counts.
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(sim.accepted_count(), 1);
    assert_eq!(sim.accepted().len(), 1);
}

#[tokio::test]
async fn html_404s_for_a_wrong_path_and_a_scripted_one() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    let response = client
        .post(format!("{}/batch", sim.base_url()))
        .bearer_auth(&token)
        .body("--batch")
        .send()
        .await
        .expect("answer");
    let answer = read(response).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=UTF-8")
    );
    assert!(
        answer
            .body
            .contains("<title>Error 404 (Not Found)!!1</title>"),
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .contains("The requested URL <code>/batch</code> was not found on this server.")
    );

    sim.inject(Trigger::Times(1), FcmFault::NotFoundHtml);
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=UTF-8")
    );
    assert!(
        answer
            .body
            .contains("/v1/projects/pushway-test/messages:send")
    );

    sim.inject(
        Trigger::Times(1),
        FcmFault::Raw {
            status: 502,
            content_type: "text/html".into(),
            body: "<html>Bad Gateway</html>".into(),
        },
    );
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (502, "<html>Bad Gateway</html>")
    );
    assert_eq!(sim.accepted_count(), 0);
}

#[tokio::test]
async fn the_token_registry_answers_each_documented_shape() {
    let (sim, client) = start(builder()).await;
    let token = access_token(&client, &sim).await;
    let cases = [
        (TokenState::Unregistered, 404, unregistered()),
        (TokenState::Invalid, 400, invalid_token()),
        (TokenState::OtherProject, 403, sender_id_mismatch()),
        (TokenState::ApnsUnregistered, 400, apns_unregistered()),
        (TokenState::ThirdPartyAuthError, 401, third_party()),
    ];
    for (i, (state, status, body)) in cases.into_iter().enumerate() {
        let device = format!("device-{i}");
        sim.set_token_state(&device, state);
        let mut msg = message();
        msg["message"]["token"] = json!(device);
        let answer = send(&client, &sim, &token, &msg).await;
        assert_eq!((answer.status, answer.json()), (status, body), "{state:?}");
    }
    // Malformed tokens are invalid whatever the registry says; unknown ones only when strict.
    let mut msg = message();
    msg["message"]["token"] = json!("has space");
    assert_eq!(
        send(&client, &sim, &token, &msg).await.json(),
        invalid_token()
    );
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    sim.set_accept_any_token(false);
    assert_eq!(
        send(&client, &sim, &token, &message()).await.json(),
        invalid_token()
    );
    sim.set_token_state(DEVICE, TokenState::Valid);
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    assert_eq!(sim.accepted_count(), 2);
}

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
