//! The simulator side: the server run in the child process, and the parent's client of its
//! control endpoint (`pushway_mock::control`, the same endpoint the `pushway-mock` binary
//! serves).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use pushway_mock::Recording;
use pushway_mock::apns::ApnsSimulator;
use pushway_mock::control::{ControlServer, Controller, Simulators};
use pushway_mock::fcm::{FcmSimulator, TestServiceAccount};
use pushway_mock::huawei::HuaweiSimulator;
use pushway_mock::xiaomi::XiaomiSimulator;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::children::{Files, SIMULATORS_LINE, SimulatorUrls};

pub const TEAM_ID: &str = "T3AM1D9ZQ8";
pub const KEY_ID: &str = "K7Q2M9X4PL";
pub const TOPIC: &str = "com.example.chat";
pub const XIAOMI_SECRET: &str = "crash-xiaomi-app-secret";
pub const HUAWEI_APP_ID: &str = "104437395";
pub const HUAWEI_SECRET: &str = "crash-huawei-client-secret";
/// Requests each simulator keeps: far above what the test sends (4,000 APNs requests, 2,000 FCM
/// requests and a few thousand batched Xiaomi and Huawei sends, duplicates included), so nothing
/// is evicted.
const KEPT: usize = 100_000;

/// Starts the four simulators and the control endpoint, announces them on stdout, and serves
/// until stdin closes (the parent dropped its end, or died).
pub async fn serve(dir: &Path) {
    let files = Files::in_dir(dir);
    let public_key =
        std::fs::read_to_string(&files.apns_public_key).expect("the APNs public key file");
    let apns = ApnsSimulator::builder()
        .key(TEAM_ID, KEY_ID, &public_key)
        .topic(TOPIC)
        .recording(Recording::Last(KEPT))
        .start()
        .await
        .expect("APNs simulator");
    let xiaomi = XiaomiSimulator::builder()
        .app_secret(XIAOMI_SECRET)
        .package(TOPIC)
        .recording(Recording::Last(KEPT))
        .start()
        .await
        .expect("Xiaomi simulator");
    let huawei = HuaweiSimulator::builder()
        .app_id(HUAWEI_APP_ID)
        .client_secret(HUAWEI_SECRET)
        .recording(Recording::Last(KEPT))
        .start()
        .await
        .expect("Huawei simulator");
    // The committed test account: the parent puts the same key file in the gateway's config.
    let fcm = FcmSimulator::builder()
        .service_account(TestServiceAccount::new().key())
        .recording(Recording::Last(KEPT))
        .start()
        .await
        .expect("FCM simulator");
    let urls = SimulatorUrls {
        apns: apns.base_url(),
        apns_ca_pem: apns.ca_cert_pem().expect("the APNs simulator serves TLS"),
        xiaomi: xiaomi.base_url(),
        huawei: huawei.base_url(),
        fcm: fcm.base_url(),
        fcm_token_url: fcm.token_url(),
        fcm_ca_pem: fcm
            .cert_pem()
            .expect("the FCM simulator serves TLS")
            .to_owned(),
        control: String::new(),
    };
    let controller = Arc::new(Controller::new(Simulators {
        apns: Some(Arc::new(apns)),
        xiaomi: Some(Arc::new(xiaomi)),
        huawei: Some(Arc::new(huawei)),
        fcm: Some(Arc::new(fcm)),
    }));
    let control = ControlServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), controller)
        .await
        .expect("control endpoint");
    let urls = SimulatorUrls {
        control: format!("http://{}", control.addr()),
        ..urls
    };
    println!(
        "{SIMULATORS_LINE}{}",
        serde_json::to_string(&urls).expect("JSON")
    );
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    drop(control);
}

/// The parent's client of the control endpoint.
pub struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    pub fn new(base: &str) -> Control {
        Control {
            http: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    /// Replaces `simulator`'s fault rules.
    pub async fn set_faults(&self, simulator: &str, rules: &[&str]) {
        let answer = self
            .http
            .post(format!("{}/_control/faults", self.base))
            .json(&json!({"simulator": simulator, "faults": rules}))
            .send()
            .await
            .expect("control answers");
        assert_eq!(answer.status().as_u16(), 200, "set faults of {simulator}");
    }

    /// Clears every fault rule.
    pub async fn clear_faults(&self) {
        let answer = self
            .http
            .delete(format!("{}/_control/faults", self.base))
            .send()
            .await
            .expect("control answers");
        assert_eq!(answer.status().as_u16(), 200);
    }

    /// Requests `simulator` has received so far (every path).
    pub async fn requests(&self, simulator: &str) -> u64 {
        let state: Value = self
            .http
            .get(format!("{}/_control/faults", self.base))
            .send()
            .await
            .expect("control answers")
            .json()
            .await
            .expect("JSON");
        state[simulator]["requests"].as_u64().expect("a count")
    }

    /// Every entry `simulator` received, all pages; asserts none was evicted.
    pub async fn received(&self, simulator: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut offset = 0;
        loop {
            let page: Value = self
                .http
                .get(format!(
                    "{}/_control/received?simulator={simulator}&offset={offset}",
                    self.base
                ))
                .send()
                .await
                .expect("control answers")
                .json()
                .await
                .expect("JSON");
            assert_eq!(page["complete"], true, "{simulator} evicted requests");
            entries.extend(page["received"].as_array().cloned().unwrap_or_default());
            match page["next_offset"].as_u64() {
                Some(next) => offset = next,
                None => return entries,
            }
        }
    }
}
