//! Provider-token checks (§2.1, §8.2 rows 6–13).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use pushway_mock::apns::{
    ApnsEnvironment, ApnsError, ApnsKey, ApnsReason, ApnsSimulator, SignatureEncoding,
};

use super::*;

#[tokio::test]
async fn raw_and_der_signatures_both_verify() {
    let s = start(|b| b).await;
    let (h, c) = (
        format!(r#"{{"alg":"ES256","kid":"{KID}"}}"#),
        format!(r#"{{"iss":"{TEAM}","iat":{}}}"#, s.iat),
    );
    let der = s.key.sign_parts(&h, &c, SignatureEncoding::Der);
    let sig = URL_SAFE_NO_PAD
        .decode(der.rsplit('.').next().expect("sig"))
        .expect("b64");
    assert_eq!(sig[0], 0x30, "a DER SEQUENCE");
    assert_ne!(sig.len(), 64);
    // Fresh connections, so that each token is the connection's first.
    for (jwt, encoding) in [
        (s.jwt.clone(), SignatureEncoding::Raw),
        (der, SignatureEncoding::Der),
    ] {
        let a = send_with(&h2c_client(), &s.sim.base_url(), Push::new(&jwt))
            .await
            .expect("answer");
        assert_ok(&a);
        let last = s.sim.requests().pop().expect("recorded");
        assert_eq!(last.jwt.expect("decoded").signature, Some(encoding));
    }
}

/// A token whose three parts are encoded by `encode` (the signature covers the encoded text).
fn token_encoded(key: &TestKey, iat: i64, encode: impl Fn(&[u8]) -> String) -> String {
    let h = encode(format!(r#"{{"alg":"ES256","kid":"{KID}"}}"#).as_bytes());
    let c = encode(format!(r#"{{"iss":"{TEAM}","iat":{iat}}}"#).as_bytes());
    let input = format!("{h}.{c}");
    let sig = key.sign(input.as_bytes(), SignatureEncoding::Raw);
    format!("{input}.{}", encode(&sig))
}

#[tokio::test]
async fn padding_is_tolerated_and_standard_base64_needs_the_switch() {
    let s = start(|b| b).await;
    let url = &s.sim.base_url();
    let padded = token_encoded(&s.key, s.iat, |b| {
        base64::engine::general_purpose::URL_SAFE.encode(b)
    });
    assert!(padded.contains('='));
    assert_ok(
        &send_with(&h2c_client(), url, Push::new(&padded))
            .await
            .expect("a"),
    );
    // Standard base64 (a2): find a signature that needs `+` or `/`.
    let standard = loop {
        let t = token_encoded(&s.key, s.iat, |b| STANDARD.encode(b));
        if t.rsplit('.')
            .next()
            .is_some_and(|sig| sig.contains(['+', '/']))
        {
            break t;
        }
    };
    let strict = send_with(&h2c_client(), url, Push::new(&standard))
        .await
        .expect("a");
    assert_rejected(&strict, ApnsReason::InvalidProviderToken);
    let lenient = start_with_key(TestKey::generate(), |b| b.accept_standard_base64(true)).await;
    let standard = loop {
        let t = token_encoded(&lenient.key, lenient.iat, |b| STANDARD.encode(b));
        if t.rsplit('.')
            .next()
            .is_some_and(|sig| sig.contains(['+', '/']))
        {
            break t;
        }
    };
    assert_ok(&lenient.send(Push::new(&standard)).await);
}

#[tokio::test]
async fn a_private_pkcs8_key_can_configure_the_simulator() {
    let key = TestKey::generate();
    let sim = ApnsSimulator::builder()
        .tls(false)
        .key(TEAM, KID, key.private_key_pem())
        .start()
        .await
        .expect("start");
    let jwt = key.provider_token(KID, TEAM, now_s(&sim));
    let a = send_with(&h2c_client(), &sim.base_url(), Push::new(&jwt))
        .await
        .expect("answer");
    assert_ok(&a);
}

#[tokio::test]
async fn a_bad_key_pem_fails_start_with_a_typed_error() {
    let err = ApnsSimulator::builder()
        .key(TEAM, KID, "not a key")
        .start()
        .await;
    assert!(
        matches!(err, Err(ApnsError::InvalidKey { ref key_id, .. }) if key_id == KID),
        "{err:?}"
    );
    assert!(
        ApnsKey::from_pem(
            TEAM,
            KID,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        )
        .is_err()
    );
}

#[tokio::test]
async fn expiry_follows_the_simulator_clock_and_the_configured_age() {
    let s = start(|b| b).await;
    assert_ok(&s.send(s.push()).await);
    let nearly = s.jwt_at(s.iat - 3590);
    let a = send_with(&h2c_client(), &s.sim.base_url(), Push::new(&nearly))
        .await
        .expect("a");
    assert_ok(&a);
    s.sim.script().advance_clock(Duration::from_secs(3601));
    assert_rejected(&s.send(s.push()).await, ApnsReason::ExpiredProviderToken);

    let short = start(|b| b.max_token_age(Duration::from_secs(60))).await;
    let old = short.jwt_at(short.iat - 61);
    let a = send_with(&h2c_client(), &short.sim.base_url(), Push::new(&old))
        .await
        .expect("a");
    assert_rejected(&a, ApnsReason::ExpiredProviderToken);
}

#[tokio::test]
async fn a_second_team_on_one_connection_is_refused() {
    let other = TestKey::generate();
    let s = start(|b| b.apns_key(other.apns_key("TEAM999999", "KEY9999999"))).await;
    assert_ok(&s.send(s.push()).await);
    let jwt = other.provider_token("KEY9999999", "TEAM999999", s.iat);
    assert_rejected(
        &s.send(Push::new(&jwt)).await,
        ApnsReason::InvalidProviderToken,
    );
    let r = s.sim.requests();
    assert_eq!(r[0].connection_id, r[1].connection_id, "one connection");
    // On its own connection the other team is fine.
    let a = send_with(&h2c_client(), &s.sim.base_url(), Push::new(&jwt))
        .await
        .expect("a");
    assert_ok(&a);
}

#[tokio::test]
async fn an_unrelated_key_on_one_connection_is_refused_and_a_related_one_accepted() {
    let (k2, k3) = (TestKey::generate(), TestKey::generate());
    let s = start(|b| {
        b.apns_key(k2.apns_key(TEAM, "KEY2222222"))
            .apns_key(k3.apns_key(TEAM, "KEY3333333").related_to(KID))
    })
    .await;
    assert_ok(&s.send(s.push()).await);
    let unrelated = k2.provider_token("KEY2222222", TEAM, s.iat);
    assert_rejected(
        &s.send(Push::new(&unrelated)).await,
        ApnsReason::UnrelatedKeyIdInToken,
    );
    let related = k3.provider_token("KEY3333333", TEAM, s.iat);
    assert_ok(&s.send(Push::new(&related)).await);
}

#[tokio::test]
async fn a_key_of_the_other_environment_is_refused_in_both_spellings() {
    let key = TestKey::generate();
    let scoped = key
        .apns_key(TEAM, KID)
        .only_for(ApnsEnvironment::Production);
    let sim = ApnsSimulator::builder()
        .tls(false)
        .apns_key(scoped)
        .start()
        .await
        .expect("start");
    let jwt = key.provider_token(KID, TEAM, now_s(&sim));
    let c = h2c_client();
    let a = send_with(&c, &sim.base_url(), Push::new(&jwt))
        .await
        .expect("a");
    assert_rejected(&a, ApnsReason::BadEnvironmentKeyInToken);
    sim.script()
        .set_bad_environment_reason(ApnsReason::BadEnvironmentKeyIdInToken);
    let a = send_with(&c, &sim.base_url(), Push::new(&jwt))
        .await
        .expect("a");
    assert_rejected(&a, ApnsReason::BadEnvironmentKeyIdInToken);
}

#[tokio::test]
async fn token_updates_within_the_window_are_refused_and_not_adopted() {
    let s = start(|b| b).await;
    let (a, b, c) = (s.jwt.clone(), s.jwt_at(s.iat - 1), s.jwt_at(s.iat - 2));
    assert_ok(&s.send(Push::new(&a)).await);
    // Reading (a): the first change on a connection is fine.
    assert_ok(&s.send(Push::new(&b)).await);
    assert_rejected(
        &s.send(Push::new(&c)).await,
        ApnsReason::TooManyProviderTokenUpdates,
    );
    // Not adopted: the current token still works, the old one would be a change.
    assert_ok(&s.send(Push::new(&b)).await);
    s.sim.script().advance_clock(Duration::from_secs(20 * 60));
    assert_ok(&s.send(Push::new(&c)).await);
    let binding = s.sim.requests().pop().expect("r").binding.expect("bound");
    assert_eq!(&*binding.token, c.as_str());
}

#[tokio::test]
async fn the_strict_clock_refuses_even_the_first_change_and_the_window_is_configurable() {
    let s = start(|b| {
        b.strict_token_update_clock(true)
            .token_update_window(Duration::from_secs(600))
    })
    .await;
    assert_ok(&s.send(s.push()).await);
    let b = s.jwt_at(s.iat - 1);
    assert_rejected(
        &s.send(Push::new(&b)).await,
        ApnsReason::TooManyProviderTokenUpdates,
    );
    s.sim.script().advance_clock(Duration::from_secs(600));
    assert_ok(&s.send(Push::new(&b)).await);
}

#[tokio::test]
async fn keys_can_be_added_and_revoked_while_running() {
    let s = start(|b| b).await;
    assert_ok(&s.send(s.push()).await);
    s.sim.script().remove_key(KID);
    assert_rejected(&s.send(s.push()).await, ApnsReason::InvalidProviderToken);
    s.sim.script().add_key(s.key.apns_key(TEAM, KID));
    assert_ok(&s.send(s.push()).await);
}

#[tokio::test]
async fn topic_specific_keys_allow_only_their_topics() {
    let key = TestKey::generate();
    let scoped = key.apns_key(TEAM, KID).topics(["com.example.app"]);
    let s = start_with_key(key, |b| b.topic("com.example.other").apns_key(scoped)).await;
    assert_ok(&s.send(s.push()).await);
    assert_rejected(
        &s.send(s.push().set("apns-topic", "com.example.other"))
            .await,
        ApnsReason::InvalidProviderToken,
    );
}

#[tokio::test]
async fn without_token_auth_a_single_topic_may_be_omitted_and_others_are_bad_topics() {
    let s = start(|b| b.require_provider_token(false)).await;
    assert_ok(
        &s.send(s.push().without("authorization").without("apns-topic"))
            .await,
    );
    assert_rejected(
        &s.send(
            s.push()
                .without("authorization")
                .set("apns-topic", "com.other"),
        )
        .await,
        ApnsReason::BadTopic,
    );
    assert!(s.sim.requests()[0].jwt.is_none());
}

/// A token whose claims are `claims` as written (the signature covers them).
fn token_with_claims(key: &TestKey, claims: &str) -> String {
    key.sign_parts(
        &format!(r#"{{"alg":"ES256","kid":"{KID}"}}"#),
        claims,
        SignatureEncoding::Raw,
    )
}

#[tokio::test]
async fn a_fractional_iat_is_a_valid_numeric_date_and_still_ages() {
    // PyAPNs2 writes `time.time()`: RFC 7519 NumericDate allows fractions.
    let s = start(|b| b).await;
    let url = &s.sim.base_url();
    let fractional = token_with_claims(
        &s.key,
        &format!(r#"{{"iss":"{TEAM}","iat":{}.731904}}"#, s.iat),
    );
    let a = send_with(&h2c_client(), url, Push::new(&fractional))
        .await
        .expect("a");
    assert_ok(&a);
    let exponent = token_with_claims(&s.key, &format!(r#"{{"iss":"{TEAM}","iat":{}e0}}"#, s.iat));
    let a = send_with(&h2c_client(), url, Push::new(&exponent))
        .await
        .expect("a");
    assert_ok(&a);

    // The age check still applies, on the second the fraction falls in.
    let old = token_with_claims(
        &s.key,
        &format!(r#"{{"iss":"{TEAM}","iat":{}.5}}"#, s.iat - 3601),
    );
    let a = send_with(&h2c_client(), url, Push::new(&old))
        .await
        .expect("a");
    assert_rejected(&a, ApnsReason::ExpiredProviderToken);

    // Not numbers, or numbers no clock can hold, stay invalid.
    for iat in [
        format!(r#""{}""#, s.iat),
        "true".to_owned(),
        "null".to_owned(),
        "1e300".to_owned(),
    ] {
        let bad = token_with_claims(&s.key, &format!(r#"{{"iss":"{TEAM}","iat":{iat}}}"#));
        let a = send_with(&h2c_client(), url, Push::new(&bad))
            .await
            .expect("a");
        assert_rejected(&a, ApnsReason::InvalidProviderToken);
    }
}
