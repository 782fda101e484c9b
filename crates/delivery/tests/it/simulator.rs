//! The layers against the Xiaomi simulator's fault injection, over real loopback HTTP.
//!
//! `pushway-xiaomi` is not written yet, so [`WireXiaomi`] below is a deliberately small sender:
//! the form fields the simulator checks and a coarse classification (protocols/xiaomi.md §6.2).
//! These tests run on the real clock (paused time would fire timeouts while a socket waits), with
//! millisecond backoffs, and assert request counts only.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pushway_core::testing::sample_notification;
use pushway_core::{DeviceToken, Notification, Outcome, PushProvider, Reason, async_trait};
use pushway_delivery::{AlarmKind, DeliveryBuilder, DeliveryConfig, RecordingSink, RetryConfig};
use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::{XiaomiFault, XiaomiSimulator};

use crate::support::xiaomis;

const SECRET: &str = "TESTSECRET0123456789==";
const PACKAGE: &str = "com.example.chat";

/// One attempt per `send`: a POST of the batch to `/v3/message/regid`.
struct WireXiaomi {
    client: reqwest::Client,
    url: String,
    package: &'static str,
}

impl WireXiaomi {
    fn new(sim: &XiaomiSimulator, package: &'static str) -> Arc<Self> {
        Arc::new(WireXiaomi {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            url: format!("{}/v3/message/regid", sim.base_url()),
            package,
        })
    }
}

#[async_trait]
impl PushProvider for WireXiaomi {
    fn name(&self) -> &str {
        "wire-xiaomi"
    }

    fn max_batch_size(&self) -> usize {
        1000
    }

    async fn send(&self, n: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        let regids: Vec<&str> = tokens.iter().map(|t| t.token.as_str()).collect();
        let form = [
            ("restricted_package_name", self.package),
            ("registration_id", &regids.join(",")),
            ("pass_through", "0"),
            ("title", &n.title),
            ("description", &n.body),
            ("extra.notify_effect", "1"),
        ];
        let answer = self
            .client
            .post(&self.url)
            .header("Authorization", format!("key={SECRET}"))
            .form(&form)
            .send()
            .await;
        let all = |o: Outcome| vec![o; tokens.len()];
        let Ok(answer) = answer else {
            return all(Outcome::retry(Reason::CONNECTION));
        };
        if answer.status().is_server_error() {
            return all(Outcome::retry(answer.status().as_u16().to_string()));
        }
        let Ok(body) = answer.json::<serde_json::Value>().await else {
            return all(Outcome::retry("not_json"));
        };
        let code = body["code"].as_i64().unwrap_or(-1);
        match code {
            0 => {
                let bad = body["data"]["bad_regids"].as_str().unwrap_or("");
                let bad: Vec<&str> = bad.split(',').filter(|s| !s.is_empty()).collect();
                tokens
                    .iter()
                    .map(|t| match bad.contains(&t.token.as_str()) {
                        true => Outcome::InvalidToken {
                            reason: Reason::new("bad_regids"),
                            since: None,
                        },
                        false => Outcome::DELIVERED,
                    })
                    .collect()
            }
            10027 => all(Outcome::retry("10027")),
            20301 => all(Outcome::InvalidToken {
                reason: Reason::new("20301"),
                since: None,
            }),
            other => all(Outcome::rejected(other.to_string())),
        }
    }
}

fn fast_config() -> DeliveryConfig {
    let mut retry = RetryConfig::default();
    retry.max_attempts = 5;
    retry.base_delay = Duration::from_millis(1);
    retry.max_delay = Duration::from_millis(20);
    let mut config = DeliveryConfig::default();
    config.retry = Some(retry);
    config
}

#[tokio::test]
async fn twenty_percent_injected_faults_all_end_delivered_within_the_budget() {
    const N: usize = 200;
    let sim = XiaomiSimulator::builder()
        .app_secret(SECRET)
        .start()
        .await
        .unwrap();
    // 20% of requests fail: half rate-limited (10027), half 503.
    sim.inject(Trigger::ratio(1, 10), XiaomiFault::RateLimited);
    sim.inject(Trigger::ratio(1, 9), XiaomiFault::Status(503));
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(WireXiaomi::new(&sim, PACKAGE))
        .unwrap();

    let tokens = xiaomis(N);
    let n = sample_notification();
    let outcomes = join_all(
        tokens
            .iter()
            .map(|t| provider.send(&n, std::slice::from_ref(t))),
    )
    .await;

    assert!(
        outcomes.iter().flatten().all(Outcome::is_delivered),
        "{outcomes:?}"
    );
    let requests = sim.request_count() as usize;
    // The budget's reserve is 100 retries over 10 s.
    assert!(requests <= N + N / 5 + 100, "{requests} requests");
    assert!(
        requests > N + N / 10,
        "{requests} requests: the faults were injected"
    );
    assert!(sink.dead().is_empty());
}

#[tokio::test]
async fn a_wrong_package_name_holds_the_deletions_and_raises_an_alarm() {
    let sim = XiaomiSimulator::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
        .start()
        .await
        .unwrap();
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(WireXiaomi::new(&sim, "com.example.wrong"))
        .unwrap();

    let outcomes = provider.send(&sample_notification(), &xiaomis(50)).await;

    assert!(
        sink.dead().is_empty(),
        "a wrong setting must not wipe the registry"
    );
    assert!(outcomes.iter().all(|o| o.as_str() == "misconfigured"));
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].kind, AlarmKind::MassInvalid);
    assert_eq!(alarms[0].reason.code(), "20301");
    assert_eq!(alarms[0].held.len(), 50);
    assert_eq!(sim.request_count(), 1, "not retried");
}

#[tokio::test]
async fn unregistered_regids_reach_the_sink_once() {
    let sim = XiaomiSimulator::builder()
        .app_secret(SECRET)
        .start()
        .await
        .unwrap();
    sim.unregister(["regid-3", "regid-7"]);
    // The first request is rate-limited: the batch is retried, and still each dead regid is
    // reported once.
    sim.inject(Trigger::Times(1), XiaomiFault::RateLimited);
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(WireXiaomi::new(&sim, PACKAGE))
        .unwrap();

    let outcomes = provider.send(&sample_notification(), &xiaomis(10)).await;

    assert_eq!(sim.request_count(), 2);
    let mut dead: Vec<String> = sink.dead().into_iter().map(|d| d.device.token).collect();
    dead.sort();
    assert_eq!(dead, ["regid-3", "regid-7"]);
    assert_eq!(outcomes.iter().filter(|o| o.is_delivered()).count(), 8);
}
