//! The five channels of the demo: simulators, providers wrapped in the delivery layers, the
//! daemon hub with one connected device, and the router.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use pushway::apns::ApnsProvider;
use pushway::core::{ApnsEnv, ChannelKey, DispatchReport, PushProvider, Router, TokenKind};
use pushway::daemon::client::DeviceClient;
use pushway::daemon::{DeviceAuth, Hub, Server};
use pushway::delivery::{DeliveryBuilder, DeliveryConfig, RecordingSink};
use pushway::fcm::FcmProvider;
use pushway::huawei::{HuaweiProvider, IntentTarget};
use pushway::xiaomi::XiaomiProvider;
use pushway_mock::Recording;
use pushway_mock::apns::{ApnsSimulator, TestKey};
use pushway_mock::fcm::{FcmSimulator, TestServiceAccount};
use pushway_mock::huawei::HuaweiSimulator;
use pushway_mock::xiaomi::XiaomiSimulator;
use tokio::sync::mpsc;

use crate::received::{self, Row};
use crate::{DAEMON_DEVICE, XIAOMI_REGID};

const PACKAGE: &str = "com.example.chat";
const TOPIC: &str = "com.example.chat";
const TEAM_ID: &str = "T3AM1D9ZQ8";
const KEY_ID: &str = "K7Q2M9X4PL";
const XIAOMI_SECRET: &str = "demo-xiaomi-app-secret";
const HUAWEI_APP_ID: &str = "104437395";
const HUAWEI_SECRET: &str = "demo-huawei-client-secret";

/// Everything the demo sends through, and what lets it see what each vendor received.
pub struct Channels {
    pub router: Router,
    pub sink: Arc<RecordingSink>,
    pub apns_sim: ApnsSimulator,
    xiaomi_sim: XiaomiSimulator,
    huawei_sim: HuaweiSimulator,
    fcm_sim: FcmSimulator,
    daemon: Server,
    device: tokio::task::JoinHandle<()>,
    daemon_received: mpsc::Receiver<pushway::daemon::client::Push>,
}

impl Channels {
    /// Starts the simulators and the hub, connects the daemon device, builds the router.
    pub async fn start() -> Result<Channels, Box<dyn Error>> {
        let key = TestKey::generate();
        let apns_sim = ApnsSimulator::builder()
            .tls(true)
            .key(TEAM_ID, KEY_ID, key.public_key_pem())
            .topic(TOPIC)
            .recording(Recording::Last(100))
            .start()
            .await?;
        let xiaomi_sim = XiaomiSimulator::builder()
            .app_secret(XIAOMI_SECRET)
            .package(PACKAGE)
            .require_channel_id(true)
            .regids([XIAOMI_REGID])
            .recording(Recording::Last(100))
            .start()
            .await?;
        let huawei_sim = HuaweiSimulator::builder()
            .app_id(HUAWEI_APP_ID)
            .client_secret(HUAWEI_SECRET)
            .recording(Recording::Last(100))
            .start()
            .await?;
        // FCM over TLS, trusting pushway-mock's committed TEST-ONLY service account.
        let account = TestServiceAccount::new();
        let fcm_sim = FcmSimulator::builder()
            .service_account(account.key())
            .recording(Recording::Last(100))
            .start()
            .await?;

        let apns = ApnsProvider::builder()
            .key_pem(key.private_key_pem().as_bytes().to_vec())
            .key_id(KEY_ID)
            .team_id(TEAM_ID)
            .topic(TOPIC)
            .environment(ApnsEnv::Sandbox)
            .base_url(apns_sim.base_url())
            .add_root_certificate_pem(apns_sim.ca_cert_pem().unwrap_or_default().into_bytes())
            .build()?;
        let xiaomi = XiaomiProvider::builder()
            .app_secret(XIAOMI_SECRET)
            .package(PACKAGE)
            .channel_id("im_messages")
            .custom_activity(".ui.ChatActivity")
            .base_url(xiaomi_sim.base_url())
            .allow_plain_http(true)
            .build()?;
        let huawei = HuaweiProvider::builder()
            .app_id(HUAWEI_APP_ID)
            .client_secret(HUAWEI_SECRET)
            .intent_target(IntentTarget::new("pushway", "chat").package(PACKAGE))
            .base_url(huawei_sim.base_url())
            .allow_plain_http(true)
            .build()?;
        let fcm = FcmProvider::builder()
            .service_account_json(account.key_file_json())
            .channel_id("im_messages")
            .api_base_url(fcm_sim.base_url())
            .token_url(fcm_sim.token_url())
            .add_root_certificate_pem(fcm_sim.cert_pem().unwrap_or_default().as_bytes().to_vec())
            .build()?;

        let auth = DeviceAuth::hs256(b"demo secret for device tokens, 32+ bytes")?;
        let hub = Hub::builder(auth)
            .ack_timeout(Duration::from_secs(2))
            .build();
        let daemon = hub.bind("127.0.0.1:0").await?;
        let device_token = hub
            .auth()
            .issue("bob", DAEMON_DEVICE, 0, Duration::from_secs(3600))?;
        let mut client = DeviceClient::builder(daemon.url(), device_token).spawn();
        let daemon_provider = hub.provider();
        let (tx, daemon_received) = mpsc::channel(16);
        // The phone's side: take each push as the app would (the client acks and de-duplicates).
        let device = tokio::spawn(async move {
            while let Some(push) = client.next_push().await {
                if tx.send(push).await.is_err() {
                    break;
                }
            }
        });
        wait_connected(&daemon_provider).await?;

        let sink = Arc::new(RecordingSink::new());
        let layered = |provider: Arc<dyn PushProvider>| {
            DeliveryBuilder::new(DeliveryConfig::default(), sink.clone()).build(provider)
        };
        let mut router = Router::new();
        router
            .register(
                ChannelKey::new(TokenKind::ApnsSandbox, "chat"),
                layered(Arc::new(apns))?,
            )
            .register(
                ChannelKey::new(TokenKind::Xiaomi, "chat"),
                layered(Arc::new(xiaomi))?,
            )
            .register(
                ChannelKey::new(TokenKind::Huawei, "chat"),
                layered(Arc::new(huawei))?,
            )
            .register(
                ChannelKey::new(TokenKind::Fcm, "chat"),
                layered(Arc::new(fcm))?,
            )
            .register(
                ChannelKey::new(TokenKind::Daemon, "daemon"),
                layered(Arc::new(daemon_provider))?,
            );

        Ok(Channels {
            router,
            sink,
            apns_sim,
            xiaomi_sim,
            huawei_sim,
            fcm_sim,
            daemon,
            device,
            daemon_received,
        })
    }

    /// Where each simulator and the hub listen.
    pub fn endpoints(&self) -> Vec<(&'static str, String)> {
        vec![
            ("apns", self.apns_sim.base_url()),
            ("xiaomi", self.xiaomi_sim.base_url()),
            ("huawei", self.huawei_sim.base_url()),
            ("fcm", self.fcm_sim.base_url()),
            ("daemon", self.daemon.url()),
        ]
    }

    /// Forgets what the simulators recorded so far.
    pub fn clear(&self) {
        self.apns_sim.clear_requests();
        self.xiaomi_sim.clear_requests();
        self.huawei_sim.clear_requests();
        self.fcm_sim.clear_requests();
    }

    /// What each vendor received for the last dispatch, with each device's outcome.
    pub async fn received(&mut self, report: &DispatchReport) -> Vec<Row> {
        let daemon_push = tokio::time::timeout(Duration::from_secs(5), self.daemon_received.recv())
            .await
            .ok()
            .flatten();
        report
            .results()
            .iter()
            .map(|result| {
                let outcome = result.outcome.to_string();
                match result.device.kind {
                    TokenKind::ApnsSandbox | TokenKind::ApnsProduction => {
                        received::apns(self.apns_sim.requests().last(), outcome)
                    }
                    TokenKind::Xiaomi => {
                        received::xiaomi(self.xiaomi_sim.requests().last(), outcome)
                    }
                    TokenKind::Huawei => received::huawei(
                        self.huawei_sim
                            .requests()
                            .iter()
                            .rev()
                            .find(|r| r.path.ends_with("messages:send")),
                        outcome,
                    ),
                    TokenKind::Fcm => received::fcm(self.fcm_sim.requests().last(), outcome),
                    _ => received::daemon(daemon_push.as_ref(), outcome),
                }
            })
            .collect()
    }

    /// Stops the device and the hub.
    pub async fn shutdown(self) {
        self.device.abort();
        self.daemon.shutdown().await;
    }
}

/// Waits until the daemon device's connection is live, so the demo shows a live delivery.
async fn wait_connected(provider: &pushway::daemon::DaemonProvider) -> Result<(), Box<dyn Error>> {
    use pushway::core::{DeviceToken, Presence};
    let device = DeviceToken::new(TokenKind::Daemon, "daemon", format!("bob/{DAEMON_DEVICE}"));
    for _ in 0..200 {
        if provider.is_connected(&device) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("the daemon device did not connect".into())
}
