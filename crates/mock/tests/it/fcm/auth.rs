//! The token endpoint (§8 T1–T6) and the bearer checks of `messages:send` (S2–S4).

use pushway_mock::fcm::{
    GOOGLE_TOKEN_URL, LEGACY_TOKEN_URL, SCOPE_CLOUD_PLATFORM, ServiceAccountKey, TestServiceAccount,
};

use super::*;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn header() -> String {
    format!(
        r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#,
        TestServiceAccount::new().private_key_id()
    )
}

fn claims(aud: &str, scope: &str, iat: i64, exp: i64) -> String {
    json!({
        "iss": TestServiceAccount::new().client_email(),
        "scope": scope,
        "aud": aud,
        "iat": iat,
        "exp": exp,
    })
    .to_string()
}

const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

async fn grant(client: &reqwest::Client, sim: &FcmSimulator, assertion: &str) -> Answer {
    token_request(
        client,
        sim,
        &[("grant_type", GRANT), ("assertion", assertion)],
    )
    .await
}

#[tokio::test]
async fn a_valid_assertion_gets_a_bearer_token_with_google_s_shape() {
    let (sim, client) = start(builder()).await;
    let answer = grant(
        &client,
        &sim,
        &TestServiceAccount::new().assertion(&sim.token_url()),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let body = answer.json();
    let token = body["access_token"].as_str().expect("access_token");
    assert!(token.starts_with("ya29.sim-"), "{token}");
    assert_eq!(
        body,
        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
    );
    assert!(
        answer.body.starts_with("{\n  \"access_token\": "),
        "{}",
        answer.body
    );
    let kept = sim.token_requests();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].form_value("grant_type").as_deref(), Some(GRANT));
    let decoded = sim.token_assertions();
    assert_eq!(decoded.len(), 1);
    let account = TestServiceAccount::new();
    assert_eq!(
        decoded[0].header,
        json!({"alg": "RS256", "typ": "JWT", "kid": account.private_key_id()})
    );
    let iat = decoded[0].claims["iat"].as_i64().expect("iat");
    assert_eq!(
        decoded[0].claims,
        json!({"iss": account.client_email(), "scope": FCM_SCOPE, "aud": sim.token_url(), "iat": iat, "exp": iat + 3600})
    );
    assert!(!decoded[0].padded);
}

#[tokio::test]
async fn assertions_as_independent_clients_build_them_are_accepted() {
    let (sim, client) = start(builder()).await;
    let account = TestServiceAccount::new();
    let t = now();
    let padded = {
        // gcp_auth / yup-oauth2: padded base64url, `"sub":null`, no `kid`, exp = iat + 3595.
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE;
        let claims = json!({
            "iss": account.client_email(), "scope": FCM_SCOPE, "aud": sim.token_url(),
            "iat": t, "exp": t + 3595, "sub": null
        })
        .to_string();
        let input = format!(
            "{}.{}",
            URL_SAFE.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE.encode(claims)
        );
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key_pem().as_bytes())
            .expect("key");
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::RS256)
                .expect("sign");
        let sig = URL_SAFE.encode(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .expect("b64"),
        );
        format!("{input}.{sig}")
    };
    let cases = [
        (
            "google-auth: fixed aud",
            account.sign(&header(), &claims(GOOGLE_TOKEN_URL, FCM_SCOPE, t, t + 3600)),
        ),
        (
            "old key files' aud",
            account.sign(&header(), &claims(LEGACY_TOKEN_URL, FCM_SCOPE, t, t + 3600)),
        ),
        (
            "cloud-platform scope",
            account.sign(
                &header(),
                &claims(&sim.token_url(), SCOPE_CLOUD_PLATFORM, t, t + 3600),
            ),
        ),
        ("padded, sub null, no kid", padded),
    ];
    for (case, assertion) in cases {
        let answer = grant(&client, &sim, &assertion).await;
        assert_eq!(answer.status, 200, "{case}: {}", answer.body);
    }
    assert_eq!(sim.issued_tokens(), 4);
}

/// (case, form, expected body).
type Case = (&'static str, Vec<(&'static str, String)>, Value);

#[tokio::test]
async fn each_bad_grant_gets_its_exact_error_body() {
    let (sim, client) = start(builder()).await;
    let account = TestServiceAccount::new();
    // A key the simulator does not trust, used under the trusted account's name.
    let other = aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .expect("RSA key");
    let t = now();
    let own = sim.token_url();
    let signature =
        json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."});
    let timeframe = json!({"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."});
    let audience = json!({"error": "invalid_grant", "error_description": "Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token"});
    let valid = account.assertion(&own);
    let tampered = {
        let mut parts: Vec<&str> = valid.split('.').collect();
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            claims(&own, FCM_SCOPE, t, t + 60),
        );
        parts[1] = &forged;
        parts.join(".")
    };
    let unknown_iss = account.sign(
        &header(),
        &json!({"iss": "someone@else.iam.gserviceaccount.com", "scope": FCM_SCOPE, "aud": own, "iat": t, "exp": t + 3600}).to_string(),
    );
    let hs256 = account.sign(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims(&own, FCM_SCOPE, t, t + 3600),
    );
    let mut cases: Vec<Case> = vec![
        (
            "T1 grant_type",
            vec![
                ("grant_type", "client_credentials".into()),
                ("assertion", valid.clone()),
            ],
            json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: client_credentials"}),
        ),
        (
            "no assertion",
            vec![("grant_type", GRANT.into())],
            json!({"error": "invalid_request", "error_description": "Missing required parameter: assertion"}),
        ),
        (
            "T2 not a JWT",
            vec![
                ("grant_type", GRANT.into()),
                ("assertion", "abc.def".into()),
            ],
            signature.clone(),
        ),
        (
            "T2 alg HS256",
            vec![("grant_type", GRANT.into()), ("assertion", hs256)],
            signature.clone(),
        ),
        (
            "T3 unknown iss",
            vec![("grant_type", GRANT.into()), ("assertion", unknown_iss)],
            signature.clone(),
        ),
        (
            "T3 tampered claims",
            vec![("grant_type", GRANT.into()), ("assertion", tampered)],
            signature.clone(),
        ),
        (
            "T4 aud",
            vec![
                ("grant_type", GRANT.into()),
                (
                    "assertion",
                    account.sign(
                        &header(),
                        &claims("https://example.com/token", FCM_SCOPE, t, t + 3600),
                    ),
                ),
            ],
            audience,
        ),
        (
            "T5 longer than an hour",
            vec![
                ("grant_type", GRANT.into()),
                (
                    "assertion",
                    account.sign(&header(), &claims(&own, FCM_SCOPE, t, t + 3601)),
                ),
            ],
            timeframe.clone(),
        ),
        (
            "T5 expired",
            vec![
                ("grant_type", GRANT.into()),
                (
                    "assertion",
                    account.sign(&header(), &claims(&own, FCM_SCOPE, t - 3600, t - 1)),
                ),
            ],
            timeframe.clone(),
        ),
        (
            "T5 iat in the future",
            vec![
                ("grant_type", GRANT.into()),
                (
                    "assertion",
                    account.sign(&header(), &claims(&own, FCM_SCOPE, t + 600, t + 1200)),
                ),
            ],
            timeframe.clone(),
        ),
    ];
    let input = valid.rsplit_once('.').expect("jwt").0.to_owned();
    let mut sig = vec![0; other.public_modulus_len()];
    other
        .sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("sign");
    let sig = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig);
    cases.push((
        "T3 signed by another key",
        vec![
            ("grant_type", GRANT.into()),
            ("assertion", format!("{input}.{sig}")),
        ],
        signature.clone(),
    ));
    for (case, form, expected) in cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = token_request(&client, &sim, &form).await;
        assert_eq!(answer.status, 400, "{case}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json; charset=UTF-8"),
            "{case}"
        );
        assert_eq!(answer.json(), expected, "{case}");
    }
    assert_eq!(sim.issued_tokens(), 0);
}

#[tokio::test]
async fn send_refuses_missing_unknown_expired_and_unscoped_tokens() {
    let (sim, client) = start(builder()).await;
    let invalid_credentials = json!({"error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "status": "UNAUTHENTICATED"
    }});

    // S2: no credential.
    let response = client
        .post(sim.send_url(PROJECT))
        .json(&message())
        .send()
        .await
        .expect("answer");
    let answer = read(response).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer realm="https://accounts.google.com/""#)
    );
    assert_eq!(
        answer.json(),
        json!({"error": {
            "code": 401,
            "message": "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "status": "UNAUTHENTICATED"
        }})
    );

    // S3: a token never issued, then an expired one.
    let answer = send(&client, &sim, "ya29.forged", &message()).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#)
    );
    assert_eq!(answer.json(), invalid_credentials);
    let token = access_token(&client, &sim).await;
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    sim.expire_tokens();
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!(
        (answer.status, answer.json()),
        (401, invalid_credentials.clone())
    );

    // A lifetime of 0 (short-expiry tests): the token is dead on arrival.
    sim.set_token_expires_in(0);
    let short = access_token(&client, &sim).await;
    assert_eq!(send(&client, &sim, &short, &message()).await.status, 401);
    sim.set_token_expires_in(3599);

    // S3: a token granted without the FCM scope.
    let t = now();
    let account = TestServiceAccount::new();
    let unscoped = account.sign(
        &header(),
        &claims(
            &sim.token_url(),
            "https://www.googleapis.com/auth/userinfo.email",
            t,
            t + 3600,
        ),
    );
    let granted = grant(&client, &sim, &unscoped).await;
    let token = granted.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let answer = send(&client, &sim, &token, &message()).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.json(),
        json!({"error": {
            "code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED"
        }})
    );

    // S4: another project.
    let token = access_token(&client, &sim).await;
    let answer = send_to(&client, &sim, "other-project", &token, &message()).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.json(),
        json!({"error": {
            "code": 403,
            "message": "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/other-project' (or it may not exist).",
            "status": "PERMISSION_DENIED"
        }})
    );
    assert_eq!(sim.accepted_count(), 1);
}

#[tokio::test]
async fn the_project_number_is_accepted_in_the_url() {
    let key = ServiceAccountKey {
        project_number: Some("123456789012".into()),
        ..TestServiceAccount::new().key()
    };
    let (sim, client) = start(FcmSimulator::builder().service_account(key)).await;
    let token = access_token(&client, &sim).await;
    assert_eq!(
        send_to(&client, &sim, "123456789012", &token, &message())
            .await
            .status,
        200
    );
    assert_eq!(
        send_to(&client, &sim, PROJECT, &token, &message())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_key_file_gives_the_public_half_the_simulator_trusts() {
    let account = TestServiceAccount::new();
    let key = ServiceAccountKey::from_key_file(account.key_file_json()).expect("key file");
    assert_eq!(
        (key.client_email.as_str(), key.project_id.as_str()),
        (account.client_email(), PROJECT)
    );
    assert!(
        key.public_key_pem
            .starts_with("-----BEGIN RSA PUBLIC KEY-----\n")
    );
    let (sim, client) = start(FcmSimulator::builder().service_account(key)).await;
    let token = access_token(&client, &sim).await;
    assert_eq!(send(&client, &sim, &token, &message()).await.status, 200);
    // The key file a client reads, pointed at the simulator.
    let file: Value = serde_json::from_str(&account.key_file_json_with_token_uri(&sim.token_url()))
        .expect("json");
    assert_eq!(file["token_uri"], json!(sim.token_url()));
    assert_eq!(file["type"], "service_account");
    let err = ServiceAccountKey::from_key_file(r#"{"private_key":"x"}"#).expect_err("not a key");
    assert_eq!(err, "private_key is not PEM");
}
