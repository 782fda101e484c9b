//! Every error shape the simulator answers (fcm.md §5) → its outcome, over TLS.

use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_mock::fcm::{FcmFault, TokenState, Trigger};

use crate::support::*;

const TOO_BIG: &str = r#"{"error":{"code":400,"message":"Android message is too big","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest"},{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;

fn raw(status: u16, content_type: &str, body: &str) -> FcmFault {
    FcmFault::Raw {
        status,
        content_type: content_type.to_owned(),
        body: body.to_owned(),
    }
}

/// One send of TOKEN_A with `fault` on its first attempt: the outcome, and how many sends and
/// token requests the simulator saw.
async fn one(fault: FcmFault) -> (Outcome, usize, u64) {
    let sim = sim().await;
    sim.inject(Trigger::Times(1), fault);
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(outcomes.len(), 1);
    (
        outcomes[0].clone(),
        sends(&sim).len(),
        sim.token_request_count(),
    )
}

fn label(o: &Outcome) -> (&'static str, String) {
    labels(std::slice::from_ref(o)).remove(0)
}

#[tokio::test]
async fn every_documented_error_maps_to_its_outcome_with_one_send() {
    let secs = |s| Some(Duration::from_secs(s));
    let cases: Vec<(FcmFault, &str, &str, Option<Duration>)> = vec![
        (
            FcmFault::Unregistered,
            "invalid_token",
            "UNREGISTERED",
            None,
        ),
        (
            FcmFault::InvalidToken,
            "invalid_token",
            "INVALID_ARGUMENT:token",
            None,
        ),
        (
            FcmFault::ApnsUnregistered,
            "invalid_token",
            "APNS_Unregistered",
            None,
        ),
        (
            FcmFault::SenderIdMismatch,
            "misconfigured",
            "SENDER_ID_MISMATCH",
            None,
        ),
        (
            FcmFault::ThirdPartyAuthError,
            "misconfigured",
            "THIRD_PARTY_AUTH_ERROR",
            None,
        ),
        (
            FcmFault::PermissionDenied,
            "auth",
            "PERMISSION_DENIED",
            None,
        ),
        (FcmFault::NotFoundHtml, "misconfigured", "NOT_FOUND", None),
        (
            FcmFault::QuotaExceeded {
                retry_after: Some(30),
            },
            "retry",
            "QUOTA_EXCEEDED",
            secs(30),
        ),
        (
            FcmFault::QuotaExceeded { retry_after: None },
            "retry",
            "QUOTA_EXCEEDED",
            secs(60),
        ),
        (
            FcmFault::Unavailable {
                retry_after: Some(5),
            },
            "retry",
            "UNAVAILABLE",
            secs(5),
        ),
        (
            FcmFault::Unavailable { retry_after: None },
            "retry",
            "UNAVAILABLE",
            None,
        ),
        (
            FcmFault::Internal { retry_after: None },
            "retry",
            "INTERNAL",
            None,
        ),
        (
            raw(502, "text/html", "<html>Bad Gateway</html>"),
            "retry",
            "http_502",
            None,
        ),
        (
            raw(400, "application/json; charset=UTF-8", TOO_BIG),
            "rejected",
            "PAYLOAD_TOO_LARGE",
            None,
        ),
    ];
    for (fault, kind, code, after) in cases {
        let name = format!("{fault:?}");
        let (outcome, sends, token_requests) = one(fault).await;
        assert_eq!(label(&outcome), (kind, code.to_owned()), "{name}");
        assert_eq!(outcome.retry_after(), after, "{name}");
        // One attempt, one access token: no error here refreshes or resends.
        assert_eq!((sends, token_requests), (1, 1), "{name}");
    }
}

#[tokio::test]
async fn the_registry_decides_per_token_within_one_batch() {
    let sim = sim().await;
    let tokens = [
        "tok-ok:APA91b",
        "tok-gone:APA91b",
        "tok-other:APA91b",
        "tok-bad:APA91b",
        "tok-ios:APA91b",
        "tok-3p:APA91b",
    ];
    sim.set_token_state(tokens[1], TokenState::Unregistered);
    sim.set_token_state(tokens[2], TokenState::OtherProject);
    sim.set_token_state(tokens[3], TokenState::Invalid);
    sim.set_token_state(tokens[4], TokenState::ApnsUnregistered);
    sim.set_token_state(tokens[5], TokenState::ThirdPartyAuthError);
    let outcomes = provider(&sim).send(&c2c(), &devices(&tokens)).await;
    let want = [
        ("delivered", ""),
        ("invalid_token", "UNREGISTERED"),
        ("misconfigured", "SENDER_ID_MISMATCH"),
        ("invalid_token", "INVALID_ARGUMENT:token"),
        ("invalid_token", "APNS_Unregistered"),
        ("misconfigured", "THIRD_PARTY_AUTH_ERROR"),
    ];
    let want: Vec<_> = want.iter().map(|(k, c)| (*k, (*c).to_owned())).collect();
    assert_eq!(labels(&outcomes), want);
    assert_eq!(sends(&sim).len(), 6, "one request per token, none resent");
    assert_eq!(sim.token_request_count(), 1);
}

#[tokio::test]
async fn a_wrong_project_is_auth_and_a_wrong_path_is_misconfigured() {
    let sim = sim().await;
    let outcomes = builder(&sim)
        .project_id("someone-else")
        .build()
        .unwrap()
        .send(&c2c(), &devices(&[TOKEN_A]))
        .await;
    assert_eq!(
        labels(&outcomes),
        [("auth", "PERMISSION_DENIED".to_owned())]
    );
    // The API base under a wrong prefix: the simulator's HTML 404, never an invalid token.
    let outcomes = builder(&sim)
        .api_base_url(format!("{}/batch", sim.base_url()))
        .build()
        .unwrap()
        .send(&c2c(), &devices(&[TOKEN_A]))
        .await;
    assert_eq!(
        labels(&outcomes),
        [("misconfigured", "NOT_FOUND".to_owned())]
    );
    assert!(!outcomes[0].should_drop_token());
}

/// The simulator's per-device quota (240 a minute at FCM; 2 here): the third send in the minute
/// is `Retry` after the simulator's `retry-after`, or after a minute when it sends none.
#[tokio::test]
async fn a_device_over_its_quota_is_retried_after_the_window() {
    for with_header in [true, false] {
        let sim = sim().await;
        sim.set_quotas(pushway_mock::fcm::Quotas {
            device_per_minute: Some(2),
            retry_after: with_header,
            ..Default::default()
        });
        let provider = provider(&sim);
        for _ in 0..2 {
            assert!(provider.send(&c2c(), &devices(&[TOKEN_A])).await[0].is_delivered());
        }
        let outcomes = provider.send(&c2c(), &devices(&[TOKEN_A, TOKEN_B])).await;
        assert_eq!(outcomes[0].as_str(), "retry");
        assert_eq!(outcomes[0].reason().unwrap().code(), "QUOTA_EXCEEDED");
        let after = outcomes[0].retry_after().unwrap();
        if with_header {
            assert!(
                after > Duration::ZERO && after <= Duration::from_secs(60),
                "{after:?}"
            );
        } else {
            assert_eq!(after, Duration::from_secs(60));
        }
        assert!(outcomes[1].is_delivered(), "another device is not limited");
    }
}
