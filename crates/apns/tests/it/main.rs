//! Tests of the APNs provider against pushway-mock's APNs simulator, over h2c and over TLS with
//! the simulator's certificate.
#![allow(clippy::unwrap_used)]
#![allow(missing_docs)]

#[macro_use]
mod conformance;
mod connection;
mod differential;
mod errors;
mod h2script;
mod jwt;
mod legal;
mod limits;
mod oracle;
mod requests;
mod violations;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use pushway_apns::{ApnsProvider, ApnsProviderBuilder, Clock};
use pushway_core::{
    AppData, ConversationType, DeviceToken, IosSound, Notification, NotifyMode, Outcome,
    PushProvider, TokenKind,
};
use pushway_mock::apns::{ApnsRequest, ApnsSimulator, ApnsSimulatorBuilder, TestKey};

pub const TEAM: &str = "TEAM123456";
pub const KID: &str = "KEY1234567";
pub const TOPIC: &str = "com.example.app";
pub const TOKEN: &str = "4a1f8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8";

/// The real time plus an offset the test moves, shared by the provider (and mirrored into the
/// simulator with `advance_clock`) so nobody waits 50 minutes.
#[derive(Debug, Default)]
pub struct TestClock(AtomicU64);

impl TestClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

pub struct Env {
    pub sim: ApnsSimulator,
    pub provider: Arc<ApnsProvider>,
    pub clock: Arc<TestClock>,
}

impl Env {
    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.sim.script().advance_clock(by);
    }

    pub async fn send(&self, n: &Notification) -> Outcome {
        self.send_to(n, TOKEN).await
    }

    pub async fn send_to(&self, n: &Notification, token: &str) -> Outcome {
        let mut out = self.provider.send(n, &[device(token)]).await;
        assert_eq!(out.len(), 1);
        out.pop().unwrap()
    }

    /// Sends `n` to tokens `0..count` concurrently; one outcome per token, in order.
    pub async fn burst(&self, n: &Notification, count: usize) -> Vec<Outcome> {
        let tokens: Vec<DeviceToken> = (0..count).map(|i| device(&token(i))).collect();
        let sends = tokens.iter().map(|t| async move {
            let mut out = self.provider.send(n, std::slice::from_ref(t)).await;
            out.pop().unwrap()
        });
        futures_util::future::join_all(sends).await
    }

    /// The simulator's record of requests with this `apns-id`.
    pub fn by_apns_id(&self, id: &str) -> Vec<ApnsRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.header("apns-id") == Some(id))
            .collect()
    }
}

pub fn device(token: &str) -> DeviceToken {
    DeviceToken::new(TokenKind::ApnsProduction, "chat", token)
}

/// A simulator (h2c or TLS) with one key and the topic, and a provider pointed at it.
pub async fn start(
    tls: bool,
    sim: impl FnOnce(ApnsSimulatorBuilder) -> ApnsSimulatorBuilder,
    provider: impl FnOnce(ApnsProviderBuilder) -> ApnsProviderBuilder,
) -> Env {
    let key = TestKey::generate();
    let builder = ApnsSimulator::builder()
        .tls(tls)
        .key(TEAM, KID, key.public_key_pem())
        .topic(TOPIC);
    let sim = sim(builder).start().await.unwrap();
    let clock = Arc::new(TestClock::default());
    let mut builder = ApnsProvider::builder()
        .key_pem(key.private_key_pem().as_bytes().to_vec())
        .key_id(KID)
        .team_id(TEAM)
        .topic(TOPIC)
        .base_url(sim.base_url())
        .request_timeout(Duration::from_secs(20))
        .clock(clock.clone());
    builder = match sim.ca_cert_pem() {
        Some(pem) => builder.add_root_certificate_pem(pem.into_bytes()),
        None => builder.insecure_h2c(true),
    };
    let provider = Arc::new(provider(builder).build().unwrap());
    Env {
        sim,
        provider,
        clock,
    }
}

pub async fn h2c() -> Env {
    start(false, |b| b, |b| b).await
}

/// A C2C notification from u-17.
pub fn c2c() -> Notification {
    Notification {
        message_id: "m-9001".into(),
        ttl: None,
        title: "u-17".into(),
        android_title: Some("Android title".into()),
        ios_alert: None,
        body: "Are we still on for 3pm?".into(),
        android_sound: None,
        ios_sound: IosSound::Default,
        warnings: Vec::new(),
        badge: Some(5),
        notify_mode: NotifyMode::Normal,
        app_data: AppData {
            conversation_id: "u-17".into(),
            conversation_type: ConversationType::C2c,
            sender_id: "u-17".into(),
            sender_nickname: None,
            group_name: None,
            ext: None,
        },
    }
}

/// A group notification in "Climbers" from Ann.
pub fn group() -> Notification {
    Notification {
        message_id: "m-9002".into(),
        ttl: None,
        title: "Climbers".into(),
        android_title: None,
        ios_alert: None,
        body: "Ann: Look [图片]".into(),
        android_sound: None,
        ios_sound: IosSound::File("message.caf".into()),
        warnings: Vec::new(),
        badge: None,
        notify_mode: NotifyMode::Normal,
        app_data: AppData {
            conversation_id: "g1".into(),
            conversation_type: ConversationType::Group,
            sender_id: "u1".into(),
            sender_nickname: Some("Ann".into()),
            group_name: Some("Climbers".into()),
            ext: Some(pushway_core::Ext::from(r#"{"route":"chat/g1"}"#)),
        },
    }
}

/// The 64-hex token number `i`.
pub fn token(i: usize) -> String {
    format!("{i:064x}")
}
