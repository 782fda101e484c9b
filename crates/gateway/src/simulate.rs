//! `pushway serve --simulate`: the bundled vendor simulators (pushway-mock: APNs, Xiaomi, Huawei
//! and FCM), started in this process as every vendor's endpoint, and a demo app whose credentials point at them, so a
//! newcomer can try the gateway with no vendor account. The demo app has a daemon channel too
//! (no simulator needed: the gateway is its server), signing device tokens with a secret
//! generated at start and never shown (`POST …/daemon-token` issues the tokens).

use pushway_mock::apns::{ApnsSimulator, TestKey};
use pushway_mock::fcm::{FcmSimulator, TestServiceAccount};
use pushway_mock::huawei::HuaweiSimulator;
use pushway_mock::xiaomi::XiaomiSimulator;

use crate::auth::generate_key;
use crate::config::{
    ApiKeyConfig, ApnsConfig, AppConfig, DaemonConfig, FcmConfig, HuaweiConfig, Secret,
    XiaomiConfig,
};

/// The demo app's id.
pub const DEMO_APP: &str = "demo";
/// The credential name of every demo credential.
pub const DEMO_CREDENTIAL: &str = "demo";
/// The demo app's Android package and iOS bundle id.
pub const DEMO_PACKAGE: &str = "com.example.chat";
const TEAM_ID: &str = "T3AM1D9ZQ8";
const KEY_ID: &str = "K7Q2M9X4PL";
const XIAOMI_SECRET: &str = "simulated-xiaomi-app-secret";
const HUAWEI_APP_ID: &str = "104437395";
const HUAWEI_SECRET: &str = "simulated-huawei-client-secret";
/// The Android notification channel of the demo app's Xiaomi and FCM credentials.
pub const DEMO_CHANNEL_ID: &str = "im_messages";
/// The intent-filter action a custom-mode tap opens on the demo app's FCM devices.
pub const DEMO_CLICK_ACTION: &str = "com.example.chat.OPEN_CHAT";

/// The running simulators; they stop when dropped.
#[derive(Debug)]
pub struct Simulators {
    /// APNs over TLS (self-signed, trusted by the demo app's credential).
    pub apns: ApnsSimulator,
    /// Xiaomi MiPush.
    pub xiaomi: XiaomiSimulator,
    /// Huawei Push Kit (OAuth and push).
    pub huawei: HuaweiSimulator,
    /// Firebase Cloud Messaging and Google's OAuth token endpoint, over TLS (self-signed,
    /// trusted by the demo app's credential), trusting pushway-mock's committed test service
    /// account ([`TestServiceAccount`], project `pushway-test`).
    pub fcm: FcmSimulator,
}

/// Starts the simulators and returns them with a demo app reached by `api_key`: one credential
/// per vendor pointing at its simulator ([`Simulators::app`]) and a daemon channel
/// ([`demo_daemon`]).
pub async fn demo(api_key: &str) -> Result<(Simulators, AppConfig), SimulateError> {
    let key = TestKey::generate();
    let sims = Simulators::start(&key).await?;
    let mut app = sims.app(&key, api_key);
    app.daemon = Some(demo_daemon());
    Ok((sims, app))
}

/// The demo app's daemon channel: its tokens signed with a new random secret (32 random bytes,
/// as [`generate_key`] makes an API key), every other setting at its default (queues in
/// `daemon-demo.sqlite3` beside the gateway's database).
pub fn demo_daemon() -> DaemonConfig {
    DaemonConfig::with_secret(generate_key())
}

/// Why the simulators did not start.
#[derive(Debug, thiserror::Error)]
#[error("simulator: {0}")]
pub struct SimulateError(String);

impl Simulators {
    /// Starts the four simulators on `127.0.0.1:0`, with the APNs key `key`.
    pub async fn start(key: &TestKey) -> Result<Simulators, SimulateError> {
        let err = |e: &dyn std::fmt::Display| SimulateError(e.to_string());
        let apns = ApnsSimulator::builder()
            .key(TEAM_ID, KEY_ID, key.public_key_pem())
            .topic(DEMO_PACKAGE)
            .start()
            .await
            .map_err(|e| err(&e))?;
        let xiaomi = XiaomiSimulator::builder()
            .app_secret(XIAOMI_SECRET)
            .package(DEMO_PACKAGE)
            .start()
            .await
            .map_err(|e| err(&e))?;
        let huawei = HuaweiSimulator::builder()
            .app_id(HUAWEI_APP_ID)
            .client_secret(HUAWEI_SECRET)
            .start()
            .await
            .map_err(|e| err(&e))?;
        let fcm = FcmSimulator::builder()
            .service_account(TestServiceAccount::new().key())
            .start()
            .await
            .map_err(|e| err(&e))?;
        Ok(Simulators {
            apns,
            xiaomi,
            huawei,
            fcm,
        })
    }

    /// An app with one credential per vendor, each pointing at its simulator, reached by
    /// `api_key`.
    pub fn app(&self, key: &TestKey, api_key: &str) -> AppConfig {
        let mut app = AppConfig {
            api_keys: vec![ApiKeyConfig::inline("demo", api_key)],
            ..AppConfig::default()
        };
        let apns_url = self.apns.base_url();
        app.apns.insert(
            DEMO_CREDENTIAL.to_owned(),
            ApnsConfig {
                team_id: TEAM_ID.to_owned(),
                key_id: KEY_ID.to_owned(),
                topic: DEMO_PACKAGE.to_owned(),
                key_pem: Some(Secret::new(key.private_key_pem())),
                key_file: None,
                production_url: Some(apns_url.clone()),
                sandbox_url: Some(apns_url),
                ca_cert_pem: self.apns.ca_cert_pem(),
                rate_limit: None,
            },
        );
        app.xiaomi.insert(
            DEMO_CREDENTIAL.to_owned(),
            XiaomiConfig {
                package: DEMO_PACKAGE.to_owned(),
                channel_id: DEMO_CHANNEL_ID.to_owned(),
                custom_activity: Some(".ui.ChatActivity".to_owned()),
                app_secret: Some(Secret::new(XIAOMI_SECRET)),
                app_secret_file: None,
                base_url: Some(self.xiaomi.base_url()),
                danger_allow_plain_http: true,
                rate_limit: None,
            },
        );
        app.huawei.insert(
            DEMO_CREDENTIAL.to_owned(),
            HuaweiConfig {
                app_id: HUAWEI_APP_ID.to_owned(),
                client_secret: Some(Secret::new(HUAWEI_SECRET)),
                client_secret_file: None,
                service_account_file: None,
                base_url: Some(self.huawei.base_url()),
                danger_allow_plain_http: true,
                rate_limit: None,
            },
        );
        // The committed test key, inline; its `token_uri` is Google's, so the token URL is
        // set as well.
        let fcm = FcmConfig {
            service_account: Some(Secret::new(TestServiceAccount::new().key_file_json())),
            channel_id: DEMO_CHANNEL_ID.to_owned(),
            click_action: Some(DEMO_CLICK_ACTION.to_owned()),
            api_base_url: Some(self.fcm.base_url()),
            token_url: Some(self.fcm.token_url()),
            ca_cert_pem: self.fcm.cert_pem().map(str::to_owned),
            ..FcmConfig::default()
        };
        app.fcm.insert(DEMO_CREDENTIAL.to_owned(), fcm);
        app
    }
}
