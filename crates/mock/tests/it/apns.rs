//! Tests of the APNs simulator (protocols/apns.md §8), over reqwest (h2c and TLS), the `h2`
//! client, and a raw frame client where exact frames matter.

mod auth;
mod connection;
mod faults;
pub(crate) mod raw;
mod requests;
mod tls;

use pushway_mock::apns::{ApnsReason, ApnsSimulator, ApnsSimulatorBuilder, TestKey};

pub const TEAM: &str = "TEAM123456";
pub const KID: &str = "KEY1234567";
pub const TOPIC: &str = "com.example.app";
pub const TOKEN: &str = "4a1f8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8";
pub const APNS_ID: &str = "3f2b6c1e-8d4a-4e7b-9c0d-1a2b3c4d5e6f";
pub const PAYLOAD: &str = r#"{"aps":{"alert":{"title":"Alice","body":"Are we still on for 3pm?"},"badge":5,"sound":"default","thread-id":"conv-42","mutable-content":1},"im":{"conv":"conv-42"}}"#;

/// A running h2c simulator with one key, its client and a valid provider token.
pub struct Sim {
    pub sim: ApnsSimulator,
    pub key: TestKey,
    pub client: reqwest::Client,
    pub jwt: String,
    /// The `iat` of `jwt`.
    pub iat: i64,
}

pub async fn start(f: impl FnOnce(ApnsSimulatorBuilder) -> ApnsSimulatorBuilder) -> Sim {
    start_with_key(TestKey::generate(), f).await
}

pub async fn start_with_key(
    key: TestKey,
    f: impl FnOnce(ApnsSimulatorBuilder) -> ApnsSimulatorBuilder,
) -> Sim {
    let builder = ApnsSimulator::builder()
        .tls(false)
        .key(TEAM, KID, key.public_key_pem())
        .topic(TOPIC);
    let sim = f(builder).start().await.expect("simulator starts");
    let iat = now_s(&sim);
    let jwt = key.provider_token(KID, TEAM, iat);
    Sim {
        sim,
        key,
        client: h2c_client(),
        jwt,
        iat,
    }
}

pub fn now_s(sim: &ApnsSimulator) -> i64 {
    sim.script().now_ms() / 1000
}

/// reqwest speaking h2c, with its transport retries off so every answer is the simulator's.
pub fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .retry(reqwest::retry::never())
        .build()
        .expect("client")
}

/// One request, starting from a valid one.
#[derive(Debug, Clone)]
pub struct Push {
    pub method: reqwest::Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Push {
    pub fn new(jwt: &str) -> Push {
        Push {
            method: reqwest::Method::POST,
            path: format!("/3/device/{TOKEN}"),
            headers: vec![
                ("authorization".into(), format!("bearer {jwt}")),
                ("apns-topic".into(), TOPIC.into()),
                ("apns-push-type".into(), "alert".into()),
                ("apns-priority".into(), "10".into()),
                ("apns-id".into(), APNS_ID.into()),
            ],
            body: PAYLOAD.as_bytes().to_vec(),
        }
    }

    pub fn set(mut self, name: &str, value: &str) -> Push {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn add(mut self, name: &str, value: &str) -> Push {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn without(mut self, name: &str) -> Push {
        self.headers.retain(|(n, _)| n != name);
        self
    }

    pub fn path(mut self, path: &str) -> Push {
        self.path = path.into();
        self
    }

    pub fn token(self, token: &str) -> Push {
        self.path(&format!("/3/device/{token}"))
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Push {
        self.body = body.into();
        self
    }

    pub fn method(mut self, method: reqwest::Method) -> Push {
        self.method = method;
        self
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub apns_id: Option<String>,
    pub unique_id: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Sim {
    pub fn push(&self) -> Push {
        Push::new(&self.jwt)
    }

    pub async fn send(&self, push: Push) -> Answer {
        send_with(&self.client, &self.sim.base_url(), push)
            .await
            .expect("an HTTP answer")
    }

    /// A token of our key with the given `iat`.
    pub fn jwt_at(&self, iat: i64) -> String {
        self.key.provider_token(KID, TEAM, iat)
    }
}

pub async fn send_with(
    client: &reqwest::Client,
    base: &str,
    push: Push,
) -> Result<Answer, reqwest::Error> {
    let mut req = client
        .request(push.method, format!("{base}{}", push.path))
        .body(push.body);
    for (n, v) in &push.headers {
        req = req.header(n.as_str(), v.as_str());
    }
    let res = req.send().await?;
    let header = |n: &str| {
        res.headers()
            .get(n)
            .map(|v| v.to_str().expect("ASCII").to_owned())
    };
    let (apns_id, unique_id, content_type) = (
        header("apns-id"),
        header("apns-unique-id"),
        header("content-type"),
    );
    let status = res.status().as_u16();
    let body = res.text().await?;
    Ok(Answer {
        status,
        apns_id,
        unique_id,
        content_type,
        body,
    })
}

/// The fixture file of a reason's body.
pub fn fixture(reason: ApnsReason) -> String {
    let path = format!(
        "{}/fixtures/apns/{}-{}.json",
        env!("CARGO_MANIFEST_DIR"),
        reason.status(),
        reason.as_str()
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An error answer exactly as §8.3 describes it.
#[track_caller]
pub fn assert_rejected(answer: &Answer, reason: ApnsReason) {
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (reason.status(), fixture(reason).as_str()),
        "expected {reason}"
    );
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert!(answer.apns_id.is_some(), "apns-id on errors too");
}

/// A 200 exactly as §8.3 describes it.
#[track_caller]
pub fn assert_ok(answer: &Answer) {
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, ""),
        "{answer:?}"
    );
    assert_eq!(answer.content_type, None);
}

pub fn is_upper_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('A'..='F').contains(&c),
        })
}
