//! Every error shape of §5 exactly: scripted faults, the token registry, HTML answers.

use pushway_mock::fault::Trigger;
use pushway_mock::fcm::{FcmFault, TokenState};

use super::*;

fn apns_error(status: u16, reason: &str) -> Value {
    json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.ApnsError", "statusCode": status, "reason": reason})
}

fn unregistered() -> Value {
    envelope(
        404,
        "Requested entity was not found.",
        "NOT_FOUND",
        json!([fcm_error("UNREGISTERED")]),
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
