//! Shared setup: a TLS simulator trusting the test service account, a provider pointed at it,
//! tokens and notifications.

use std::time::Duration;

use pushway_core::testing::sample_notification;
use pushway_core::{ConversationType, DeviceToken, Notification, Outcome, TokenKind};
use pushway_fcm::{FcmProvider, FcmProviderBuilder};
use pushway_mock::fcm::{FcmRequest, FcmSimulator, FcmSimulatorBuilder, TestServiceAccount};

pub const TOKEN_A: &str = "fGw0qy4TGgk:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx-TOKEN-A";
pub const TOKEN_B: &str = "cR1s3v9eQ0e:APA91bE2n0Zk8xWq7yTt6LbN1fPq0-TOKEN-B";

pub fn sim_builder() -> FcmSimulatorBuilder {
    FcmSimulator::builder().service_account(TestServiceAccount::new().key())
}

pub async fn sim() -> FcmSimulator {
    sim_builder().start().await.unwrap()
}

/// A provider for `sim`: the test key file with its `token_uri` pointing at the simulator, the
/// simulator's certificate trusted, nothing plain-text.
pub fn builder(sim: &FcmSimulator) -> FcmProviderBuilder {
    let key = TestServiceAccount::new().key_file_json_with_token_uri(&sim.token_url());
    FcmProvider::builder()
        .service_account_json(key)
        .api_base_url(sim.base_url())
        .add_root_certificate_pem(sim.cert_pem().unwrap().as_bytes().to_vec())
        .channel_id("im_messages")
        .timeout(Duration::from_secs(5))
}

pub fn provider(sim: &FcmSimulator) -> FcmProvider {
    builder(sim).build().unwrap()
}

pub fn devices(tokens: &[&str]) -> Vec<DeviceToken> {
    tokens
        .iter()
        .map(|t| DeviceToken::new(TokenKind::Fcm, "app", *t))
        .collect()
}

pub fn many(n: usize) -> Vec<DeviceToken> {
    (0..n)
        .map(|i| DeviceToken::new(TokenKind::Fcm, "app", format!("dev{i:04}:APA91bTOKEN")))
        .collect()
}

pub fn c2c() -> Notification {
    sample_notification()
}

pub fn group() -> Notification {
    let mut n = sample_notification();
    n.title = "Climbers".to_owned();
    n.body = "Ann: Look [图片]".to_owned();
    n.badge = Some(7);
    n.app_data.conversation_id = "g1".to_owned();
    n.app_data.conversation_type = ConversationType::Group;
    n.app_data.sender_id = "u1".to_owned();
    n.app_data.sender_nickname = Some("Ann".to_owned());
    n.app_data.group_name = Some("Climbers".to_owned());
    n
}

/// The `messages:send` requests the simulator kept, oldest first.
pub fn sends(sim: &FcmSimulator) -> Vec<FcmRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.request.path.ends_with("/messages:send"))
        .collect()
}

/// (outcome label, reason code) of each outcome.
pub fn labels(outcomes: &[Outcome]) -> Vec<(&'static str, String)> {
    outcomes
        .iter()
        .map(|o| {
            (
                o.as_str(),
                o.reason().map_or_else(String::new, |r| r.code().to_owned()),
            )
        })
        .collect()
}
