//! Tests of the FCM simulator: the token endpoint, `messages:send` and its error shapes, HTTP/2.

mod auth;
mod binary;
mod body;
mod errors;
mod transport;

use pushway_mock::fcm::{FcmSimulator, FcmSimulatorBuilder, TestServiceAccount};
use serde_json::{Value, json};

pub const PROJECT: &str = "pushway-test";
pub const DEVICE: &str = "fGw0qy4TGgk:APA91bHsimulatedTOKEN-1";

pub fn builder() -> FcmSimulatorBuilder {
    FcmSimulator::builder().service_account(TestServiceAccount::new().key())
}

pub async fn start(builder: FcmSimulatorBuilder) -> (FcmSimulator, reqwest::Client) {
    let sim = builder.start().await.expect("start");
    let client = client(&sim);
    (sim, client)
}

/// A client trusting the simulator's certificate (TLS) or speaking h2c, never retrying.
pub fn client(sim: &FcmSimulator) -> reqwest::Client {
    let builder = reqwest::Client::builder().retry(reqwest::retry::never());
    let builder = match sim.cert_pem() {
        Some(pem) => {
            builder.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM")])
        }
        None => builder.http2_prior_knowledge(),
    };
    builder.build().expect("client")
}

/// One answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }
}

pub async fn read(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        version: response.version(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

/// `POST /token` with a form.
pub async fn token_request(
    client: &reqwest::Client,
    sim: &FcmSimulator,
    form: &[(&str, &str)],
) -> Answer {
    let response = client
        .post(sim.token_url())
        .form(form)
        .send()
        .await
        .expect("token answer");
    read(response).await
}

/// An access token for the test account.
pub async fn access_token(client: &reqwest::Client, sim: &FcmSimulator) -> String {
    let assertion = TestServiceAccount::new().assertion(&sim.token_url());
    let answer = token_request(
        client,
        sim,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// `POST …/messages:send` of `project` with a bearer token.
pub async fn send_to(
    client: &reqwest::Client,
    sim: &FcmSimulator,
    project: &str,
    token: &str,
    body: &Value,
) -> Answer {
    let response = client
        .post(sim.send_url(project))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("send answer");
    read(response).await
}

pub async fn send(
    client: &reqwest::Client,
    sim: &FcmSimulator,
    token: &str,
    body: &Value,
) -> Answer {
    send_to(client, sim, PROJECT, token, body).await
}

/// The message the seed's C2C case sends, in snake_case.
pub fn message() -> Value {
    json!({
        "message": {
            "token": DEVICE,
            "data": {"conv_id": "c2c_alice", "sender": "alice"},
            "android": {
                "priority": "HIGH",
                "ttl": "86400s",
                "notification": {
                    "title": "Alice",
                    "body": "你好 👋",
                    "channel_id": "im_messages",
                    "tag": "c2c_alice",
                    "notification_count": 3
                }
            }
        }
    })
}

/// An FcmError detail.
pub fn fcm_error(code: &str) -> Value {
    json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code})
}

/// Google's error envelope.
pub fn envelope(code: u16, message: &str, status: &str, details: Value) -> Value {
    json!({"error": {"code": code, "message": message, "status": status, "details": details}})
}

pub fn quota_failure() -> Value {
    json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"subject": "messaging", "description": "Exceeded quota for messages sent per minute."}
    ]})
}

pub fn invalid_token() -> Value {
    envelope(
        400,
        "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
        json!([fcm_error("INVALID_ARGUMENT")]),
    )
}
