//! Shared helpers: a simulator, a provider aimed at it, notifications.

use std::time::Duration;

use pushway_core::{
    AndroidSound, AppData, ConversationType, DeviceToken, Ext, Notification, NotifyMode, TokenKind,
};
use pushway_mock::RecordedRequest;
use pushway_mock::xiaomi::{XiaomiSimulator, XiaomiSimulatorBuilder};
use pushway_xiaomi::{XiaomiProvider, XiaomiProviderBuilder};

pub const SECRET: &str = "TESTSECRET0123456789==";
pub const PACKAGE: &str = "com.example.chat";
pub const CHANNEL: &str = "108790";

pub fn sim_builder() -> XiaomiSimulatorBuilder {
    XiaomiSimulator::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
        .require_channel_id(true)
}

pub async fn sim() -> XiaomiSimulator {
    sim_builder().start().await.unwrap()
}

/// A provider builder aimed at `sim`, with the simulator's credentials.
pub fn provider_builder(sim: &XiaomiSimulator) -> XiaomiProviderBuilder {
    XiaomiProvider::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
        .channel_id(CHANNEL)
        .base_url(sim.base_url())
        .allow_plain_http(true)
        .timeout(Duration::from_secs(5))
}

pub fn provider(sim: &XiaomiSimulator) -> XiaomiProvider {
    provider_builder(sim).build().unwrap()
}

pub fn tokens<S: AsRef<str>>(regids: &[S]) -> Vec<DeviceToken> {
    regids
        .iter()
        .map(|r| DeviceToken::new(TokenKind::Xiaomi, "chat", r.as_ref()))
        .collect()
}

/// `n` distinct regids shaped like real ones (base64 with `+`, `/`, `=`).
pub fn regids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("r{i:05}+Ab/Cd=")).collect()
}

/// A C2C notification from alice, as the renderer makes it.
pub fn c2c() -> Notification {
    Notification {
        message_id: "m_9001".into(),
        ttl: Some(Duration::from_secs(86_400)),
        title: "alice".into(),
        android_title: None,
        ios_alert: None,
        body: "Are we still meeting at 8?".into(),
        android_sound: None,
        ios_sound: pushway_core::IosSound::Default,
        warnings: Vec::new(),
        badge: None,
        notify_mode: NotifyMode::Normal,
        app_data: AppData {
            conversation_id: "alice".into(),
            conversation_type: ConversationType::C2c,
            sender_id: "alice".into(),
            sender_nickname: None,
            group_name: None,
            ext: None,
        },
    }
}

/// A group notification in "Climbers" from Ann, with an ext.
pub fn group() -> Notification {
    Notification {
        message_id: "m_42".into(),
        ttl: None,
        title: "Climbers".into(),
        android_title: None,
        ios_alert: None,
        body: "Ann: Look [图片]".into(),
        android_sound: None,
        ios_sound: pushway_core::IosSound::Default,
        warnings: Vec::new(),
        badge: None,
        notify_mode: NotifyMode::Normal,
        app_data: AppData {
            conversation_id: "g1".into(),
            conversation_type: ConversationType::Group,
            sender_id: "u1".into(),
            sender_nickname: Some("Ann".into()),
            group_name: Some("Climbers".into()),
            ext: Some(Ext::from(r#"{"k":"v & w=1+2%"}"#)),
        },
    }
}

pub fn sound(name: &str) -> AndroidSound {
    AndroidSound::parse(&format!("android.resource://{PACKAGE}/raw/{name}")).unwrap()
}

/// The only request the simulator received.
pub fn only_request(sim: &XiaomiSimulator) -> RecordedRequest {
    let requests = sim.requests();
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.into_iter().next().unwrap()
}

/// The decoded form as (key, value) pairs of &str for comparison.
pub fn form(request: &RecordedRequest) -> Vec<(String, String)> {
    request.form()
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
