//! Tests of the huawei simulator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pushway_mock::Recording;
use pushway_mock::fault::Trigger;
use pushway_mock::huawei::{
    ErrorStatus, HuaweiFault, HuaweiSimulator, HuaweiSimulatorBuilder, IllegalTokensShape,
    JWT_AUDIENCE, ServiceAccount,
};
use serde_json::{Value, json};

const APP_ID: &str = "104567890";
const SECRET: &str = "3f9a0c1d2e4b5a6c7d8e9f00112233445566778899aabbccddeeff0011223344";
const TOKEN_A: &str = "IQAAAACy0aaaTOKEN-A";
const TOKEN_B: &str = "IQAAAACy0bbbTOKEN-B";
const TOKEN_C: &str = "IQAAAACy0cccTOKEN-C";

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/huawei/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .expect("fixture")
        .trim_end()
        .to_owned()
}

fn builder() -> HuaweiSimulatorBuilder {
    HuaweiSimulator::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
}

async fn start() -> HuaweiSimulator {
    builder().start().await.expect("start")
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("json body")
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_owned());
    Answer {
        status,
        content_type,
        body: response.text().await.expect("body"),
    }
}

async fn token_request(sim: &HuaweiSimulator, path: &str, form: &[(&str, &str)]) -> Answer {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        body.append_pair(k, v);
    }
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .expect("response");
    answer(response).await
}

async fn access_token(sim: &HuaweiSimulator) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", APP_ID),
        ("client_secret", SECRET),
    ];
    let answer = token_request(sim, "/oauth2/v3/token", &form).await;
    assert_eq!(answer.status, 200);
    answer.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

async fn send_raw(sim: &HuaweiSimulator, path: &str, bearer: Option<&str>, body: String) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .header("content-type", "application/json;charset=utf-8")
        .body(body);
    if let Some(bearer) = bearer {
        request = request.header("authorization", format!("Bearer {bearer}"));
    }
    answer(request.send().await.expect("response")).await
}

fn v1() -> String {
    format!("/v1/{APP_ID}/messages:send")
}

/// A notification to `tokens`, shaped like F3.
fn message(tokens: &[&str]) -> Value {
    json!({"validate_only": false, "message": {
        "data": "{\"conv\":\"42\",\"msg_id\":\"m-1001\"}",
        "android": {"collapse_key": -1, "urgency": "HIGH", "category": "IM", "ttl": "86400s",
            "notification": {"title": "Alice", "body": "See you at 7?", "default_sound": true,
                "click_action": {"type": 3}}},
        "token": tokens}})
}

async fn send(sim: &HuaweiSimulator, bearer: &str, body: &Value) -> Answer {
    send_raw(sim, &v1(), Some(bearer), body.to_string()).await
}

#[tokio::test]
async fn token_endpoint_issues_the_documented_answer() {
    let sim = start().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", APP_ID),
        ("client_secret", SECRET),
    ];
    let answer = token_request(&sim, "/oauth2/v3/token", &form).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(answer.body, fixture("token.json"));
    let recorded = &sim.requests()[0];
    assert_eq!(recorded.path, "/oauth2/v3/token");
    assert_eq!(
        recorded.form_value("client_secret").as_deref(),
        Some(SECRET)
    );
    // The legacy v2 path (hpa's default) answers the same way.
    let answer = token_request(&sim, "/oauth2/v2/token", &form).await;
    assert_eq!(answer.json()["token_type"], "Bearer");
    assert_eq!(sim.issued_tokens(), 2);
}

#[tokio::test]
async fn token_endpoint_errors_are_http_400_with_sub_errors() {
    let sim = start().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP_ID),
                ("client_secret", "wrong"),
            ],
            "token_wrong_secret.json",
        ),
        (
            &[("grant_type", "client_credentials"), ("client_id", APP_ID)],
            "token_missing_secret.json",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "app-1"),
                ("client_secret", SECRET),
            ],
            "token_bad_client_id.json",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "999"),
                ("client_secret", SECRET),
            ],
            "token_unknown_client_id.json",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", APP_ID),
                ("client_secret", SECRET),
            ],
            "token_bad_grant_type.json",
        ),
    ];
    for (form, expected) in cases {
        let answer = token_request(&sim, "/oauth2/v3/token", form).await;
        assert_eq!(
            (answer.status, answer.body),
            (400, fixture(expected)),
            "{expected}"
        );
    }
    assert_eq!(sim.issued_tokens(), 0);
}

#[tokio::test]
async fn send_success_matches_fixture_and_is_recorded() {
    let sim = start().await;
    let token = access_token(&sim).await;
    let body = message(&[TOKEN_A, TOKEN_B]);
    let answer = send(&sim, &token, &body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.body, fixture("success.json"));
    assert_eq!(sim.delivered(), 2);
    let recorded = sim.requests().pop().expect("recorded");
    assert_eq!(recorded.path, v1());
    assert_eq!(
        recorded.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(recorded.json(), body);
}

#[tokio::test]
async fn connection_count_counts_token_and_send_connections() {
    let sim = start().await;
    assert_eq!(sim.connection_count(), 0);
    // `access_token` and `send` each use a client of their own.
    let token = access_token(&sim).await;
    assert_eq!(sim.connection_count(), 1);
    assert_eq!(send(&sim, &token, &message(&[TOKEN_A])).await.status, 200);
    assert_eq!((sim.connection_count(), sim.request_count()), (2, 2));
}

#[tokio::test]
async fn validate_only_is_answered_but_not_delivered() {
    let sim = start().await;
    let token = access_token(&sim).await;
    let mut body = message(&[TOKEN_A]);
    body["validate_only"] = json!(true);
    assert_eq!(
        send(&sim, &token, &body).await.body,
        fixture("success.json")
    );
    assert_eq!(sim.delivered(), 0);
}

#[tokio::test]
async fn some_unknown_tokens_give_80100000_in_both_shapes() {
    let sim = builder()
        .accept_any_token(false)
        .tokens([TOKEN_A])
        .start()
        .await
        .expect("start");
    let token = access_token(&sim).await;
    let answer = send(&sim, &token, &message(&[TOKEN_A, TOKEN_B])).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, fixture("partial_snake.json").as_str())
    );
    let msg: Value =
        serde_json::from_str(answer.json()["msg"].as_str().expect("msg")).expect("json");
    assert_eq!(
        msg,
        json!({"success": 1, "failure": 1, "illegal_tokens": [TOKEN_B]})
    );

    let sim = builder()
        .accept_any_token(false)
        .tokens([TOKEN_A])
        .illegal_tokens_shape(IllegalTokensShape::CamelCase {
            reason: "tokenFormatError".into(),
        })
        .start()
        .await
        .expect("start");
    let token = access_token(&sim).await;
    let answer = send(&sim, &token, &message(&[TOKEN_A, TOKEN_B])).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, fixture("partial_camel.json"))
    );
    assert_eq!(sim.delivered(), 1);
}

#[tokio::test]
async fn all_unknown_tokens_give_80300007_in_both_shapes() {
    let sim = start().await;
    sim.unregister([TOKEN_C]);
    let token = access_token(&sim).await;
    let answer = send(&sim, &token, &message(&[TOKEN_C])).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, fixture("all_invalid_snake.json"))
    );
    sim.set_illegal_tokens_shape(IllegalTokensShape::CamelCase {
        reason: "noRight".into(),
    });
    let answer = send(&sim, &token, &message(&[TOKEN_C])).await.json();
    assert_eq!(answer["code"], "80300007");
    assert_eq!(
        answer["msg"],
        r#"{"failure":1,"illegalTokens":{"noRight":["IQAAAACy0cccTOKEN-C"]}}"#
    );
    sim.register([TOKEN_C]);
    assert_eq!(
        send(&sim, &token, &message(&[TOKEN_C])).await.json()["code"],
        "80000000"
    );
}

#[tokio::test]
async fn camel_all_invalid_matches_fixture() {
    let sim = builder()
        .illegal_tokens_shape(IllegalTokensShape::CamelCase {
            reason: "noRight".into(),
        })
        .start()
        .await
        .expect("start");
    sim.unregister([TOKEN_C]);
    let token = access_token(&sim).await;
    assert_eq!(
        send(&sim, &token, &message(&[TOKEN_C])).await.body,
        fixture("all_invalid_camel.json")
    );
}

#[tokio::test]
async fn a_token_with_a_stray_space_is_invalid() {
    let sim = start().await;
    let token = access_token(&sim).await;
    let answer = send(&sim, &token, &message(&[TOKEN_A, "IQAAAACy0 dddTOKEN-D"]))
        .await
        .json();
    assert_eq!(answer["code"], "80100000");
    let msg: Value = serde_json::from_str(answer["msg"].as_str().expect("msg")).expect("json");
    assert_eq!(msg["illegal_tokens"], json!(["IQAAAACy0 dddTOKEN-D"]));
}

#[tokio::test]
async fn token_count_outside_1_to_1000_is_80300010() {
    let sim = start().await;
    let token = access_token(&sim).await;
    let many: Vec<String> = (0..1001).map(|i| format!("IQAAAACy{i:06}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let answer = send(&sim, &token, &message(&refs)).await;
    assert_eq!(
        (answer.status, answer.body),
        (400, fixture("token_count.json"))
    );
    assert_eq!(
        send(&sim, &token, &message(&refs[..1000])).await.json()["code"],
        "80000000"
    );
    assert_eq!(sim.delivered(), 1000);
    assert_eq!(
        send(&sim, &token, &message(&[])).await.json()["code"],
        "80300010"
    );
    // A misspelt `message` key leaves no target (Huawei FAQ).
    let misspelt = json!({"validate_only": false, "messager": {"token": [TOKEN_A]}});
    assert_eq!(
        send(&sim, &token, &misspelt).await.json()["code"],
        "80300010"
    );
}

#[tokio::test]
async fn message_over_4096_bytes_without_tokens_is_80300008() {
    let sim = start().await;
    let token = access_token(&sim).await;
    let mut big = message(&[TOKEN_A]);
    big["message"]["data"] = json!("x".repeat(4096));
    let answer = send(&sim, &token, &big).await;
    assert_eq!(
        (answer.status, answer.body),
        (400, fixture("message_too_big.json"))
    );
    // The tokens do not count: 1000 long tokens with a small message are fine.
    let many: Vec<String> = (0..1000).map(|i| format!("{i:0130}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let body = message(&refs);
    assert!(body.to_string().len() > 100_000);
    assert_eq!(send(&sim, &token, &body).await.json()["code"], "80000000");
}

#[tokio::test]
async fn malformed_bodies_are_80100003_and_two_targets_80100001() {
    let sim = start().await;
    let token = access_token(&sim).await;
    let answer = send_raw(&sim, &v1(), Some(&token), "{\"message\":".into()).await;
    assert_eq!(
        (answer.status, answer.body),
        (400, fixture("structure_error.json"))
    );
    let not_a_list = json!({"message": {"token": TOKEN_A}});
    assert_eq!(
        send(&sim, &token, &not_a_list).await.json()["code"],
        "80100003"
    );
    let both = json!({"message": {"token": [TOKEN_A], "topic": "news"}});
    let answer = send(&sim, &token, &both).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body.replace("0000000003", "0000000001"),
        fixture("parameter_error.json")
    );
    let topic = json!({"message": {"topic": "news", "notification": {"title": "t", "body": "b"}}});
    assert_eq!(send(&sim, &token, &topic).await.json()["code"], "80000000");
}

#[tokio::test]
async fn missing_or_unknown_bearer_is_80200001_with_401_or_200() {
    let sim = start().await;
    let answer = send_raw(&sim, &v1(), None, message(&[TOKEN_A]).to_string()).await;
    assert_eq!(
        (answer.status, answer.body),
        (401, fixture("auth_error.json"))
    );
    let answer = send(&sim, "DAEBAGnot/issued+here==", &message(&[TOKEN_A])).await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (401, json!("80200001"))
    );
    sim.set_error_status(ErrorStatus::AlwaysOk);
    let answer = send(&sim, "DAEBAGnot/issued+here==", &message(&[TOKEN_A])).await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (200, json!("80200001"))
    );
}

#[tokio::test]
async fn always_ok_mode_serves_auth_errors_with_200_from_the_start() {
    let sim = builder()
        .error_status(ErrorStatus::AlwaysOk)
        .start()
        .await
        .expect("start");
    let answer = send_raw(&sim, &v1(), None, message(&[TOKEN_A]).to_string()).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, fixture("auth_error.json"))
    );
}

#[tokio::test]
async fn a_token_of_another_app_is_80200001() {
    let sim = HuaweiSimulator::builder().start().await.expect("start"); // any app
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "111"),
        ("client_secret", "s"),
    ];
    let token = token_request(&sim, "/oauth2/v3/token", &form).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let answer = send_raw(
        &sim,
        "/v1/222/messages:send",
        Some(&token),
        message(&[TOKEN_A]).to_string(),
    )
    .await;
    assert_eq!(answer.json()["code"], "80200001");
    let answer = send_raw(
        &sim,
        "/v1/111/messages:send",
        Some(&token),
        message(&[TOKEN_A]).to_string(),
    )
    .await;
    assert_eq!(answer.json()["code"], "80000000");
}

#[tokio::test]
async fn expired_access_token_is_80200003_with_401_or_200() {
    let sim = start().await;
    let token = access_token(&sim).await;
    assert_eq!(
        send(&sim, &token, &message(&[TOKEN_A])).await.json()["code"],
        "80000000"
    );
    sim.expire_tokens();
    let answer = send(&sim, &token, &message(&[TOKEN_A])).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.body.replace("0000000002", "0000000001"),
        fixture("token_expired.json")
    );
    sim.set_error_status(ErrorStatus::AlwaysOk);
    let answer = send(&sim, &token, &message(&[TOKEN_A])).await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (200, json!("80200003"))
    );
    // A fresh token works again.
    let fresh = access_token(&sim).await;
    assert_eq!(
        send(&sim, &fresh, &message(&[TOKEN_A])).await.json()["code"],
        "80000000"
    );
}

#[tokio::test]
async fn token_lifetime_is_configurable() {
    let sim = builder().token_expires_in(0).start().await.expect("start");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", APP_ID),
        ("client_secret", SECRET),
    ];
    let answer = token_request(&sim, "/oauth2/v3/token", &form).await.json();
    assert_eq!(answer["expires_in"], 0);
    let token = answer["access_token"].as_str().expect("token");
    assert_eq!(
        send(&sim, token, &message(&[TOKEN_A])).await.body,
        fixture("token_expired.json")
    );
    sim.set_token_expires_in(120);
    let answer = token_request(&sim, "/oauth2/v3/token", &form).await.json();
    assert_eq!(answer["expires_in"], 120);
    let token = answer["access_token"].as_str().expect("token");
    assert_eq!(
        send(&sim, token, &message(&[TOKEN_A])).await.json()["code"],
        "80000000"
    );
}

#[tokio::test]
async fn v2_with_oauth_needs_the_configured_project() {
    let sim = builder()
        .project_id("9990001")
        .start()
        .await
        .expect("start");
    let token = access_token(&sim).await;
    let body = message(&[TOKEN_A]).to_string();
    let ok = send_raw(
        &sim,
        "/v2/9990001/messages:send",
        Some(&token),
        body.clone(),
    )
    .await;
    assert_eq!(ok.json()["code"], "80000000");
    let wrong = send_raw(&sim, "/v2/9990002/messages:send", Some(&token), body).await;
    assert_eq!(wrong.json()["code"], "80200001");
}

// --- service-account JWT -------------------------------------------------------------------

fn key_file() -> Value {
    serde_json::from_str(&fixture("test-service-account.json")).expect("key file")
}

fn service_account() -> ServiceAccount {
    let key = key_file();
    ServiceAccount {
        project_id: key["project_id"].as_str().expect("project_id").to_owned(),
        key_id: key["key_id"].as_str().expect("key_id").to_owned(),
        sub_account: key["sub_account"].as_str().expect("sub_account").to_owned(),
        public_key_pem: fixture("test-service-account.pub.pem"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A JWT as F13 describes it, with overridable parts.
fn jwt(alg: Algorithm, kid: &str, claims: Value) -> String {
    let key = key_file();
    let pem = key["private_key"].as_str().expect("private_key");
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = Some("JWT".to_owned());
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("rsa key");
    jsonwebtoken::encode(&header, &claims, &encoding).expect("sign")
}

fn claims(iat: u64, exp: u64) -> Value {
    json!({"aud": JWT_AUDIENCE, "iss": "1234567890", "iat": iat, "exp": exp})
}

async fn jwt_start() -> HuaweiSimulator {
    builder()
        .service_account(service_account())
        .start()
        .await
        .expect("start")
}

fn v2_project() -> String {
    format!(
        "/v2/{}/messages:send",
        key_file()["project_id"].as_str().expect("project")
    )
}

#[tokio::test]
async fn valid_service_account_jwt_is_accepted_on_v2_and_v1() {
    let sim = jwt_start().await;
    let t = now();
    let token = jwt(Algorithm::PS256, "k-1", claims(t, t + 3600));
    let body = message(&[TOKEN_A]).to_string();
    let answer = send_raw(&sim, &v2_project(), Some(&token), body.clone()).await;
    assert_eq!((answer.status, answer.body), (200, fixture("success.json")));
    assert_eq!(
        send_raw(&sim, &v1(), Some(&token), body.clone())
            .await
            .json()["code"],
        "80000000"
    );
    let other_project = send_raw(&sim, "/v2/5550001/messages:send", Some(&token), body).await;
    assert_eq!(other_project.json()["code"], "80200001");
}

#[tokio::test]
async fn expired_jwt_is_80200005() {
    let sim = jwt_start().await;
    let t = now();
    let token = jwt(Algorithm::PS256, "k-1", claims(t - 7200, t - 3600));
    let answer = send_raw(
        &sim,
        &v2_project(),
        Some(&token),
        message(&[TOKEN_A]).to_string(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body),
        (401, fixture("jwt_expired.json"))
    );
}

#[tokio::test]
async fn wrong_jwts_are_80200001() {
    let sim = jwt_start().await;
    let t = now();
    let good = jwt(Algorithm::PS256, "k-1", claims(t, t + 3600));
    let (head, signature) = good.rsplit_once('.').expect("three parts");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{flipped}{}", &signature[1..]);
    let cases = [
        ("tampered signature", tampered),
        ("RS256", jwt(Algorithm::RS256, "k-1", claims(t, t + 3600))),
        (
            "wrong kid",
            jwt(Algorithm::PS256, "k-2", claims(t, t + 3600)),
        ),
        (
            "wrong iss",
            jwt(
                Algorithm::PS256,
                "k-1",
                json!({"aud": JWT_AUDIENCE, "iss": "999", "iat": t, "exp": t + 3600}),
            ),
        ),
        (
            "wrong aud",
            jwt(
                Algorithm::PS256,
                "k-1",
                json!({"aud": "https://example.com", "iss": "1234567890", "iat": t, "exp": t + 3600}),
            ),
        ),
        (
            "validity over a day",
            jwt(Algorithm::PS256, "k-1", claims(t, t + 90_000)),
        ),
    ];
    for (name, token) in cases {
        let answer = send_raw(
            &sim,
            &v2_project(),
            Some(&token),
            message(&[TOKEN_A]).to_string(),
        )
        .await;
        assert_eq!(
            (answer.status, answer.json()["code"].clone()),
            (401, json!("80200001")),
            "{name}"
        );
    }
    // Without a configured service account no JWT is accepted.
    let sim = start().await;
    let answer = send_raw(&sim, &v1(), Some(&good), message(&[TOKEN_A]).to_string()).await;
    assert_eq!(answer.json()["code"], "80200001");
}

// --- faults --------------------------------------------------------------------------------

#[tokio::test]
async fn flow_control_is_503_with_an_empty_body() {
    let sim = start().await;
    let token = access_token(&sim).await;
    sim.inject(Trigger::Times(1), HuaweiFault::FlowControl);
    let answer = send(&sim, &token, &message(&[TOKEN_A])).await;
    assert_eq!(
        (answer.status, answer.content_type, answer.body.as_str()),
        (503, None, "")
    );
    assert_eq!(send(&sim, &token, &message(&[TOKEN_A])).await.status, 200);
}

#[tokio::test]
async fn internal_error_is_81000001_with_500_or_200() {
    let sim = start().await;
    let token = access_token(&sim).await;
    sim.inject(Trigger::Always, HuaweiFault::InternalError);
    let answer = send(&sim, &token, &message(&[TOKEN_A])).await;
    assert_eq!(
        (answer.status, answer.body),
        (500, fixture("internal_error.json"))
    );
    sim.set_error_status(ErrorStatus::AlwaysOk);
    let answer = send(&sim, &token, &message(&[TOKEN_A])).await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (200, json!("81000001"))
    );
    assert_eq!(sim.delivered(), 0);
}

#[tokio::test]
async fn status_and_raw_faults_answer_exactly_that() {
    let sim = start().await;
    let token = access_token(&sim).await;
    sim.inject(Trigger::Times(1), HuaweiFault::Status(502));
    sim.inject(
        Trigger::Times(1),
        HuaweiFault::Raw {
            status: 503,
            content_type: "text/plain".into(),
            body: "busy".into(),
        },
    );
    let a = send(&sim, &token, &message(&[TOKEN_A])).await;
    assert_eq!((a.status, a.body.as_str()), (502, ""));
    let a = send(&sim, &token, &message(&[TOKEN_A])).await;
    assert_eq!(
        (a.status, a.content_type.as_deref(), a.body.as_str()),
        (503, Some("text/plain"), "busy")
    );
    assert_eq!(send(&sim, &token, &message(&[TOKEN_A])).await.status, 200);
}

#[tokio::test]
async fn token_and_ratio_triggers_are_deterministic() {
    let sim = start().await;
    let token = access_token(&sim).await;
    sim.inject(Trigger::token(TOKEN_C), HuaweiFault::FlowControl);
    assert_eq!(
        send(&sim, &token, &message(&[TOKEN_A, TOKEN_B]))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&sim, &token, &message(&[TOKEN_B, TOKEN_C]))
            .await
            .status,
        503
    );
    sim.clear_faults();
    sim.inject(Trigger::ratio(2, 5), HuaweiFault::Status(500));
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(send(&sim, &token, &message(&[TOKEN_A])).await.status);
    }
    assert_eq!(statuses, [200, 200, 500, 200, 500, 200, 200, 500, 200, 500]);
}

#[tokio::test]
async fn oauth_faults_hit_the_token_endpoint_only() {
    let sim = start().await;
    sim.inject_oauth(Trigger::Times(1), HuaweiFault::FlowControl);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", APP_ID),
        ("client_secret", SECRET),
    ];
    let answer = token_request(&sim, "/oauth2/v3/token", &form).await;
    assert_eq!((answer.status, answer.body.as_str()), (503, ""));
    let token = access_token(&sim).await;
    sim.inject_oauth(Trigger::Always, HuaweiFault::InternalError);
    assert_eq!(send(&sim, &token, &message(&[TOKEN_A])).await.status, 200);
    assert_eq!(
        token_request(&sim, "/oauth2/v3/token", &form).await.status,
        500
    );
}

#[tokio::test]
async fn dropped_connection_gives_no_response() {
    let sim = start().await;
    let token = access_token(&sim).await;
    sim.inject(Trigger::Times(1), HuaweiFault::DropConnection);
    let result = reqwest::Client::new()
        .post(format!("{}{}", sim.base_url(), v1()))
        .header("authorization", format!("Bearer {token}"))
        .body(message(&[TOKEN_A]).to_string())
        .send()
        .await;
    let error = result.expect_err("connection must be dropped");
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    assert_eq!(send(&sim, &token, &message(&[TOKEN_A])).await.status, 200);
}

#[tokio::test]
async fn latency_fault_delays_the_answer() {
    let sim = start().await;
    let token = access_token(&sim).await;
    sim.inject(
        Trigger::token(TOKEN_B),
        HuaweiFault::Latency(Duration::from_secs(30)),
    );
    let result = reqwest::Client::new()
        .post(format!("{}{}", sim.base_url(), v1()))
        .header("authorization", format!("Bearer {token}"))
        .timeout(Duration::from_millis(300))
        .body(message(&[TOKEN_B]).to_string())
        .send()
        .await;
    assert!(result.expect_err("must time out").is_timeout());
    assert_eq!(send(&sim, &token, &message(&[TOKEN_A])).await.status, 200);
}

#[tokio::test]
async fn unknown_paths_are_404_and_get_is_405() {
    let sim = start().await;
    let answer = send_raw(&sim, "/v3/1/messages:send", Some("x"), "{}".into()).await;
    assert_eq!((answer.status, answer.body.as_str()), (404, ""));
    let answer = send_raw(&sim, "/v1/1/topic:subscribe", Some("x"), "{}".into()).await;
    assert_eq!(answer.status, 404);
    let response = reqwest::get(format!("{}/oauth2/v3/token", sim.base_url()))
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn recording_off_keeps_only_the_count() {
    let sim = builder()
        .recording(Recording::Off)
        .start()
        .await
        .expect("start");
    let token = access_token(&sim).await;
    send(&sim, &token, &message(&[TOKEN_A])).await;
    assert!(sim.requests().is_empty());
    assert_eq!(sim.request_count(), 2);
}
