//! §8.2 request checks and §8.3 response shapes, over h2c with reqwest.

use std::time::Duration;

use pushway_mock::Recording;
use pushway_mock::apns::{ApnsEnvironment, ApnsOutcome, ApnsReason, PUSH_TYPES, SignatureEncoding};
use reqwest::Method;

use super::*;

#[tokio::test]
async fn success_is_headers_only_with_the_echoed_apns_id_and_a_unique_id_in_development() {
    let s = start(|b| b).await;
    let a = s.send(s.push()).await;
    assert_ok(&a);
    assert_eq!(a.apns_id.as_deref(), Some(APNS_ID));
    assert!(
        is_upper_uuid(a.unique_id.as_deref().expect("apns-unique-id")),
        "{a:?}"
    );
}

#[tokio::test]
async fn production_answers_carry_no_unique_id() {
    let s = start(|b| b.environment(ApnsEnvironment::Production)).await;
    let a = s.send(s.push()).await;
    assert_ok(&a);
    assert_eq!(a.unique_id, None);
}

#[tokio::test]
async fn a_missing_or_invalid_apns_id_is_answered_with_a_generated_upper_case_one() {
    let s = start(|b| b).await;
    let a = s.send(s.push().without("apns-id")).await;
    assert_ok(&a);
    let generated = a.apns_id.expect("generated apns-id");
    assert!(is_upper_uuid(&generated), "{generated}");
    let b = s.send(s.push().without("apns-id")).await;
    assert_ne!(
        b.apns_id.as_deref(),
        Some(generated.as_str()),
        "a new id per request"
    );
    let bad = s.send(s.push().set("apns-id", "not-a-uuid")).await;
    assert_rejected(&bad, ApnsReason::BadMessageId);
    assert!(is_upper_uuid(bad.apns_id.as_deref().expect("id")));
    // Echoed as sent, whatever its case.
    let upper = APNS_ID.to_uppercase();
    assert_eq!(
        s.send(s.push().set("apns-id", &upper)).await.apns_id,
        Some(upper)
    );
}

#[tokio::test]
async fn every_request_check_answers_its_reason_one_fault_at_a_time() {
    let s = start(|b| b).await;
    let k = &s.key;
    let iat = now_s(&s.sim);
    let signed = |h: &str, c: &str| k.sign_parts(h, c, SignatureEncoding::Raw);
    let other_key = TestKey::generate();
    let cases: Vec<(&str, Push, ApnsReason)> = vec![
        (
            "GET",
            s.push().method(Method::GET).body(""),
            ApnsReason::MethodNotAllowed,
        ),
        (
            "PUT",
            s.push().method(Method::PUT),
            ApnsReason::MethodNotAllowed,
        ),
        (
            "path elsewhere",
            s.push().path("/3/devices/abcd"),
            ApnsReason::BadPath,
        ),
        ("path root", s.push().path("/"), ApnsReason::BadPath),
        (
            "no token",
            s.push().path("/3/device/"),
            ApnsReason::MissingDeviceToken,
        ),
        (
            "repeated header",
            s.push().add("apns-priority", "10"),
            ApnsReason::DuplicateHeaders,
        ),
        (
            "bad apns-id",
            s.push().set("apns-id", "3f2b6c1e8d4a4e7b9c0d1a2b3c4d5e6f"),
            ApnsReason::BadMessageId,
        ),
        (
            "no authorization",
            s.push().without("authorization"),
            ApnsReason::MissingProviderToken,
        ),
        (
            "empty bearer",
            s.push().set("authorization", "bearer "),
            ApnsReason::MissingProviderToken,
        ),
        (
            "basic scheme",
            s.push().set("authorization", "Basic abc"),
            ApnsReason::MissingProviderToken,
        ),
        (
            "not a JWT",
            s.push().set("authorization", "bearer abc.def"),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "HS256",
            s.push().set(
                "authorization",
                &format!(
                    "bearer {}",
                    signed(
                        &format!(r#"{{"alg":"HS256","kid":"{KID}"}}"#),
                        &format!(r#"{{"iss":"{TEAM}","iat":{iat}}}"#)
                    )
                ),
            ),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "no kid",
            s.push().set(
                "authorization",
                &format!(
                    "bearer {}",
                    signed(
                        r#"{"alg":"ES256"}"#,
                        &format!(r#"{{"iss":"{TEAM}","iat":{iat}}}"#)
                    )
                ),
            ),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "iat as string",
            s.push().set(
                "authorization",
                &format!(
                    "bearer {}",
                    signed(
                        &format!(r#"{{"alg":"ES256","kid":"{KID}"}}"#),
                        &format!(r#"{{"iss":"{TEAM}","iat":"{iat}"}}"#)
                    )
                ),
            ),
            ApnsReason::InvalidProviderToken,
        ),
        (
            // A fractional iat is a valid NumericDate (auth.rs); a string is not.
            "iat as string",
            s.push().set(
                "authorization",
                &format!(
                    "bearer {}",
                    signed(
                        &format!(r#"{{"alg":"ES256","kid":"{KID}"}}"#),
                        &format!(r#"{{"iss":"{TEAM}","iat":"{iat}"}}"#)
                    )
                ),
            ),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "unknown kid",
            s.push().set(
                "authorization",
                &format!("bearer {}", k.provider_token("OTHERKEY00", TEAM, iat)),
            ),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "wrong iss",
            s.push().set(
                "authorization",
                &format!("bearer {}", k.provider_token(KID, "OTHERTEAM0", iat)),
            ),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "bad signature",
            s.push().set(
                "authorization",
                &format!("bearer {}", other_key.provider_token(KID, TEAM, iat)),
            ),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "iat > 1 h old",
            s.push().set(
                "authorization",
                &format!("bearer {}", k.provider_token(KID, TEAM, iat - 3601)),
            ),
            ApnsReason::ExpiredProviderToken,
        ),
        (
            "no topic",
            s.push().without("apns-topic"),
            ApnsReason::MissingTopic,
        ),
        (
            "topic of another app",
            s.push().set("apns-topic", "com.other.app"),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "unknown suffix",
            s.push().set("apns-topic", "com.example.app.bogus"),
            ApnsReason::InvalidProviderToken,
        ),
        (
            "push type",
            s.push().set("apns-push-type", "banner"),
            ApnsReason::InvalidPushType,
        ),
        (
            "push type case",
            s.push().set("apns-push-type", "Alert"),
            ApnsReason::InvalidPushType,
        ),
        (
            "priority 7",
            s.push().set("apns-priority", "7"),
            ApnsReason::BadPriority,
        ),
        (
            "priority text",
            s.push().set("apns-priority", "high"),
            ApnsReason::BadPriority,
        ),
        (
            "expiration text",
            s.push().set("apns-expiration", "tomorrow"),
            ApnsReason::BadExpirationDate,
        ),
        (
            "expiration negative",
            s.push().set("apns-expiration", "-1"),
            ApnsReason::BadExpirationDate,
        ),
        (
            "collapse id 65 B",
            s.push().set("apns-collapse-id", &"c".repeat(65)),
            ApnsReason::BadCollapseId,
        ),
        (
            "token not hex",
            s.push().token("xyz0"),
            ApnsReason::BadDeviceToken,
        ),
        (
            "token odd length",
            s.push().token("abc"),
            ApnsReason::BadDeviceToken,
        ),
        ("no body", s.push().body(""), ApnsReason::PayloadEmpty),
        (
            "4097 B",
            s.push().body(vec![b' '; 4097]),
            ApnsReason::PayloadTooLarge,
        ),
        (
            "voip 5121 B",
            s.push()
                .set("apns-push-type", "voip")
                .set("apns-topic", "com.example.app.voip")
                .body(vec![b' '; 5121]),
            ApnsReason::PayloadTooLarge,
        ),
    ];
    for (name, push, reason) in cases {
        let a = s.send(push).await;
        assert_eq!(
            (name, a.status, a.body.as_str()),
            (name, reason.status(), fixture(reason).as_str())
        );
        assert_rejected(&a, reason);
    }
    // A valid request still passes on the same connection after all of those.
    assert_ok(&s.send(s.push()).await);
}

#[tokio::test]
async fn limits_are_inclusive_and_documented_values_are_accepted() {
    let s = start(|b| b).await;
    for push in [
        s.push().body(vec![b' '; 4096]),
        s.push()
            .set("apns-push-type", "voip")
            .set("apns-topic", "com.example.app.voip")
            .body(vec![b' '; 5120]),
        s.push().set("apns-collapse-id", &"c".repeat(64)),
        s.push().set("apns-expiration", "0"),
        s.push().set("apns-expiration", "1000"),
        s.push()
            .without("apns-priority")
            .without("apns-push-type")
            .without("apns-id"),
        s.push().token(&TOKEN.to_uppercase()),
        s.push().token("abcd"),
        s.push()
            .set("content-type", "application/json; charset=utf-8"),
        s.push().set("authorization", &format!("Bearer {}", s.jwt)),
        s.push().body("not JSON at all"),
    ] {
        assert_ok(&s.send(push).await);
    }
    for p in ["10", "5", "1"] {
        assert_ok(&s.send(s.push().set("apns-priority", p)).await);
    }
    for t in PUSH_TYPES {
        assert_ok(&s.send(s.push().set("apns-push-type", t)).await);
    }
    for suffix in [
        ".voip",
        ".complication",
        ".push-type.liveactivity",
        ".push-type.widgets",
    ] {
        assert_ok(
            &s.send(s.push().set("apns-topic", &format!("{TOPIC}{suffix}")))
                .await,
        );
    }
}

#[tokio::test]
async fn unregistered_and_expired_tokens_get_410_with_their_millisecond_timestamp() {
    let s = start(|b| b).await;
    assert_ok(&s.send(s.push()).await);
    let script = s.sim.script();
    script.unregister_token(TOKEN, 1_767_222_000_000);
    let a = s.send(s.push()).await;
    assert_eq!(a.status, 410);
    assert_eq!(
        a.body,
        r#"{"reason":"Unregistered","timestamp":1767222000000}"#
    );
    assert_eq!(a.body, fixture(ApnsReason::Unregistered));
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert_eq!(a.apns_id.as_deref(), Some(APNS_ID));
    // Token case does not matter.
    let other = "ABCDEF0123";
    script.expire_token(&other.to_lowercase(), 42);
    let b = s.send(s.push().token(other)).await;
    assert_eq!(
        (b.status, b.body.as_str()),
        (410, r#"{"reason":"ExpiredToken","timestamp":42}"#)
    );
    script.forget_token(TOKEN);
    assert_ok(&s.send(s.push()).await);
}

#[tokio::test]
async fn registry_answers_not_for_topic_and_other_environment() {
    let s = start(|b| b.topic("com.example.other")).await;
    let script = s.sim.script();
    script.register_token(TOKEN, "com.example.other");
    assert_rejected(&s.send(s.push()).await, ApnsReason::DeviceTokenNotForTopic);
    assert_ok(
        &s.send(s.push().set("apns-topic", "com.example.other"))
            .await,
    );
    assert_ok(
        &s.send(s.push().set("apns-topic", "com.example.other.voip"))
            .await,
    );
    script.register_token_in(TOKEN, ApnsEnvironment::Production);
    assert_rejected(
        &s.send(s.push().set("apns-topic", "com.example.other"))
            .await,
        ApnsReason::BadDeviceToken,
    );
    // Unknown tokens are accepted unless the registry is strict.
    assert_ok(&s.send(s.push().token("00ff")).await);
    script.set_strict_registry(true);
    assert_rejected(
        &s.send(s.push().token("00ff")).await,
        ApnsReason::DeviceTokenNotForTopic,
    );
}

#[tokio::test]
async fn strict_background_priority_is_a_switch() {
    let s = start(|b| b).await;
    let bg = s.push().set("apns-push-type", "background");
    assert_ok(&s.send(bg.clone()).await);
    s.sim.script().set_strict_background_priority(true);
    assert_rejected(&s.send(bg.clone()).await, ApnsReason::BadPriority);
    assert_rejected(
        &s.send(bg.clone().without("apns-priority")).await,
        ApnsReason::BadPriority,
    );
    assert_ok(&s.send(bg.set("apns-priority", "5")).await);
}

#[tokio::test]
async fn per_token_rate_limit_answers_too_many_requests() {
    let s = start(|b| b).await;
    s.sim
        .script()
        .limit_token_rate(Some((2, Duration::from_secs(3600))));
    assert_ok(&s.send(s.push()).await);
    assert_ok(&s.send(s.push()).await);
    assert_rejected(&s.send(s.push()).await, ApnsReason::TooManyRequests);
    assert_ok(&s.send(s.push().token("00ff")).await);
    s.sim.script().advance_clock(Duration::from_secs(3601));
    let fresh = s.jwt_at(now_s(&s.sim));
    // A new connection, so the new provider token is not a token update.
    let c = h2c_client();
    let a = send_with(&c, &s.sim.base_url(), Push::new(&fresh))
        .await
        .expect("answer");
    assert_ok(&a);
}

#[tokio::test]
async fn recorded_requests_are_exact() {
    let s = start(|b| b).await;
    s.send(s.push().set("apns-collapse-id", "conv-42")).await;
    s.send(s.push().token("abc")).await;
    let r = s.sim.requests();
    assert_eq!(r.len(), 2);
    let first = &r[0];
    assert_eq!(first.request.method, "POST");
    assert_eq!(first.request.path, format!("/3/device/{TOKEN}"));
    assert_eq!(first.request.version, http::Version::HTTP_2);
    assert_eq!(first.request.body, PAYLOAD.as_bytes());
    assert_eq!(first.header("apns-collapse-id"), Some("conv-42"));
    assert_eq!(
        first.header("authorization"),
        Some(format!("bearer {}", s.jwt).as_str())
    );
    assert_eq!(first.header("apns-topic"), Some(TOPIC));
    assert_eq!(first.device_token.as_deref(), Some(TOKEN));
    assert_eq!(first.connection_id, 1);
    assert_eq!(first.stream_id, 1);
    let jwt = first.jwt.as_ref().expect("decoded JWT");
    assert_eq!(jwt.header, serde_json::json!({"alg": "ES256", "kid": KID}));
    assert_eq!(jwt.claims, serde_json::json!({"iss": TEAM, "iat": s.iat}));
    assert_eq!(jwt.signature, Some(SignatureEncoding::Raw));
    let binding = first.binding.as_ref().expect("bound");
    assert_eq!(
        (&*binding.team_id, &*binding.key_id, &*binding.token),
        (TEAM, KID, s.jwt.as_str())
    );
    assert_eq!(
        first.outcome,
        ApnsOutcome::Answered {
            status: 200,
            reason: None,
            apns_id: APNS_ID.into()
        }
    );
    assert_eq!(r[1].stream_id, 3);
    assert_eq!(r[1].reason(), Some(ApnsReason::BadDeviceToken));
    assert_eq!(r[1].status(), Some(400));
    s.sim.clear_requests();
    assert_eq!((s.sim.requests().len(), s.sim.request_count()), (0, 0));
}

#[tokio::test]
async fn recording_is_bounded_and_can_be_switched_off() {
    let s = start(|b| b.recording(Recording::Last(3))).await;
    for i in 0..5 {
        s.send(s.push().set("apns-collapse-id", &format!("c{i}")))
            .await;
    }
    let kept: Vec<String> = s
        .sim
        .requests()
        .iter()
        .map(|r| r.header("apns-collapse-id").expect("set").to_owned())
        .collect();
    assert_eq!(kept, ["c2", "c3", "c4"]);
    assert_eq!(s.sim.request_count(), 5);
    s.sim.set_recording(Recording::Off);
    assert!(s.sim.requests().is_empty());
    s.send(s.push()).await;
    assert_eq!((s.sim.requests().len(), s.sim.request_count()), (0, 6));
}

#[test]
fn fixtures_hold_every_body_the_simulator_emits() {
    for reason in ApnsReason::ALL {
        assert_eq!(
            std::str::from_utf8(&reason.body(1_767_222_000_000)).expect("UTF-8"),
            fixture(*reason),
            "{reason}"
        );
    }
    let dir = format!("{}/fixtures/apns", env!("CARGO_MANIFEST_DIR"));
    let goaway = std::fs::read(format!("{dir}/goaway-Shutdown.json")).expect("fixture");
    assert_eq!(pushway_mock::apns::GoAway::shutdown().debug_data, goaway);
    let text = std::fs::read(format!("{dir}/goaway-max-streams.txt")).expect("fixture");
    assert_eq!(
        pushway_mock::apns::GoAway::max_streams_plain_text().debug_data,
        text
    );
}
