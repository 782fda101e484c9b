//! Shared setup: a simulator, a provider pointed at it, tokens and notifications.

use std::time::Duration;

use pushway_core::testing::sample_notification;
use pushway_core::{ConversationType, DeviceToken, Notification, TokenKind};
use pushway_huawei::{HuaweiProvider, HuaweiProviderBuilder};
use pushway_mock::RecordedRequest;
use pushway_mock::huawei::{HuaweiSimulator, HuaweiSimulatorBuilder};

pub const APP_ID: &str = "104567890";
pub const SECRET: &str = "3f9a0c1d2e4b5a6c7d8e9f00112233445566778899aabbccddeeff0011223344";
pub const TOKEN_A: &str = "IQAAAACy0aaaTOKEN-A";
pub const TOKEN_B: &str = "IQAAAACy0bbbTOKEN-B";
pub const TOKEN_C: &str = "IQAAAACy0cccTOKEN-C";

pub fn sim_builder() -> HuaweiSimulatorBuilder {
    HuaweiSimulator::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
}

pub async fn sim() -> HuaweiSimulator {
    sim_builder().start().await.unwrap()
}

pub fn builder(sim: &HuaweiSimulator) -> HuaweiProviderBuilder {
    HuaweiProvider::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
        .base_url(sim.base_url())
        .allow_plain_http(true)
        .timeout(Duration::from_secs(5))
}

pub fn provider(sim: &HuaweiSimulator) -> HuaweiProvider {
    builder(sim).build().unwrap()
}

pub fn devices(tokens: &[&str]) -> Vec<DeviceToken> {
    tokens
        .iter()
        .map(|t| DeviceToken::new(TokenKind::Huawei, "app", *t))
        .collect()
}

pub fn many(n: usize) -> Vec<DeviceToken> {
    (0..n)
        .map(|i| {
            DeviceToken::new(
                TokenKind::Huawei,
                "app",
                format!("IQAAAACy0kYkAABwsc{i:08}"),
            )
        })
        .collect()
}

pub fn c2c() -> Notification {
    sample_notification()
}

pub fn group() -> Notification {
    let mut n = sample_notification();
    n.title = "Climbers".to_owned();
    n.body = "Ann: Look [图片]".to_owned();
    n.app_data.conversation_id = "g1".to_owned();
    n.app_data.conversation_type = ConversationType::Group;
    n.app_data.sender_id = "u1".to_owned();
    n.app_data.sender_nickname = Some("Ann".to_owned());
    n.app_data.group_name = Some("Climbers".to_owned());
    n
}

/// The `messages:send` requests the simulator kept, oldest first.
pub fn sends(sim: &HuaweiSimulator) -> Vec<RecordedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/messages:send"))
        .collect()
}

/// The token-endpoint requests the simulator kept.
pub fn token_requests(sim: &HuaweiSimulator) -> Vec<RecordedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/oauth2/"))
        .collect()
}

pub fn labels(outcomes: &[pushway_core::Outcome]) -> Vec<&'static str> {
    outcomes.iter().map(pushway_core::Outcome::as_str).collect()
}
