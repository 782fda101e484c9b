//! The mass-invalid rule across requests (per credential), what happens to held deletions
//! after recovery, and alarm deduplication. All on tokio's paused clock, asserting counts.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{ApnsEnv, ChannelKey, DeviceToken, Outcome, PushProvider, Reason, TokenKind};
use pushway_delivery::{
    APNS_BAD_DEVICE_TOKEN, AlarmKind, ApnsEnvEvidence, DeliveryBuilder, DeliveryConfig, Hygiene,
    HygieneConfig, Quarantine, RecordingSink,
};

use crate::support::xiaomi;

/// The default `mass_invalid_min_verdicts`.
const N: usize = 50;

fn invalid(code: &'static str) -> Outcome {
    Outcome::InvalidToken {
        reason: Reason::new(code),
        since: None,
    }
}

fn apns(credential: &str, i: usize) -> DeviceToken {
    DeviceToken::new(TokenKind::ApnsProduction, credential, format!("tok-{i}"))
}

fn stack(
    provider: Arc<dyn PushProvider>,
) -> (Arc<dyn PushProvider>, Arc<RecordingSink>, Quarantine) {
    let sink = Arc::new(RecordingSink::new());
    let quarantine = Quarantine::new();
    let stack = DeliveryBuilder::new(DeliveryConfig::default(), sink.clone())
        .quarantine(quarantine.clone())
        .build(provider)
        .unwrap();
    (stack, sink, quarantine)
}

fn dead_tokens(sink: &RecordingSink) -> Vec<String> {
    sink.dead().into_iter().map(|d| d.device.token).collect()
}

fn assert_no_duplicates(sink: &RecordingSink) {
    let dead = dead_tokens(sink);
    let unique: HashSet<&String> = dead.iter().collect();
    assert_eq!(unique.len(), dead.len(), "a token reached the sink twice");
}

#[tokio::test(start_paused = true)]
async fn a_wrong_topic_apns_fleet_deletes_only_the_prefix_and_alarms_once_per_window() {
    // A wrong topic: APNs refuses every token, one token per request, with either reason.
    let stub = Arc::new(
        StubProvider::new("apns")
            .delay(Duration::from_millis(10))
            .default_outcome(invalid(APNS_BAD_DEVICE_TOKEN)),
    );
    for i in (1..600).step_by(2) {
        stub.outcome_for(format!("tok-{i}"), invalid("DeviceTokenNotForTopic"));
    }
    let (provider, sink, quarantine) = stack(stub.clone());
    let n = sample_notification();
    let key = ChannelKey::new(TokenKind::ApnsProduction, "team");

    // 500 concurrent single-token sends (the bulkhead lets 64 at a time through).
    let tokens: Vec<_> = (0..500).map(|i| apns("team", i)).collect();
    let outcomes = join_all(
        tokens
            .iter()
            .map(|t| provider.send(&n, std::slice::from_ref(t))),
    )
    .await;

    assert_eq!(stub.call_count(), 500, "nothing retried");
    // The documented prefix: fewer than N deletions go through, then the rule holds the rest.
    assert_eq!(sink.dead().len(), N - 1);
    assert_no_duplicates(&sink);
    let held = outcomes
        .iter()
        .flatten()
        .filter(|o| o.as_str() == "misconfigured")
        .count();
    assert_eq!(held, 500 - (N - 1));
    assert_eq!(quarantine.held_count(&key), 500 - (N - 1));
    assert!(quarantine.is_suspect(&key));
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].kind, AlarmKind::MassInvalid);
    assert_eq!(alarms[0].channel, key);
    assert_eq!(alarms[0].held.len(), 1);
    assert_eq!(alarms[0].suppressed, 0);

    // A minute later the same fleet is still refused: nothing more deleted (a quiet spell that
    // empties the window does not reopen deletions), and one reminder counting the suppressed.
    tokio::time::advance(Duration::from_secs(61)).await;
    for i in 500..520 {
        provider.send(&n, &[apns("team", i)]).await;
    }
    assert_eq!(sink.dead().len(), N - 1);
    assert_eq!(quarantine.held_count(&key), 520 - (N - 1));
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 2);
    assert_eq!(alarms[1].suppressed, (500 - N) as u64);
}

#[tokio::test(start_paused = true)]
async fn a_healthy_mix_reports_every_invalid_token_exactly_once() {
    // APNs: 3% of single-token requests refused; Xiaomi: 5% of tokens in batches of 20.
    let stub = Arc::new(StubProvider::new("mixed").max_batch_size(20));
    let mut expected = Vec::new();
    for i in (0..3000).filter(|i| i % 33 == 7) {
        stub.outcome_for(format!("tok-{i}"), invalid("Unregistered"));
        expected.push(format!("tok-{i}"));
    }
    for i in (0..2000).filter(|i| i % 20 == 3) {
        stub.outcome_for(format!("regid-{i}"), invalid("bad_regid"));
        expected.push(format!("regid-{i}"));
    }
    let (provider, sink, quarantine) = stack(stub.clone());
    let n = sample_notification();

    for i in 0..3000 {
        provider.send(&n, &[apns("team", i)]).await;
    }
    let regids: Vec<_> = (0..2000).map(|i| xiaomi(&format!("regid-{i}"))).collect();
    for batch in regids.chunks(20) {
        provider.send(&n, batch).await;
    }

    let mut dead = dead_tokens(&sink);
    dead.sort();
    expected.sort();
    assert_eq!(dead.len(), 91 + 100);
    assert_eq!(dead, expected, "each invalid token once, none held");
    assert!(sink.alarms().is_empty());
    assert_eq!(
        quarantine.held_count(&ChannelKey::new(TokenKind::ApnsProduction, "team")),
        0
    );
    assert_eq!(
        quarantine.held_count(&ChannelKey::new(TokenKind::Xiaomi, "app")),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn after_the_fix_held_deletions_stay_held_and_really_dead_tokens_are_reported_once() {
    // Xiaomi with a wrong region: small batches (below the one-request rule's 10) all 20301.
    let stub = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    stub.sequence(std::iter::repeat_n(invalid("20301"), 120));
    let (provider, sink, quarantine) = stack(stub.clone());
    let n = sample_notification();
    let key = ChannelKey::new(TokenKind::Xiaomi, "app");
    let wrong: Vec<_> = (0..120).map(|i| xiaomi(&format!("w-{i}"))).collect();
    for pair in wrong.chunks(2) {
        provider.send(&n, pair).await;
    }
    // The 25th request brings the 50th verdict: the 24 before it went through.
    assert_eq!(sink.dead().len(), 48);
    assert_eq!(quarantine.held_count(&key), 72);
    assert_eq!(sink.alarms().len(), 1);

    // The region is fixed: everything is delivered again. Three requests in, fewer than 90% of
    // the last 50 verdicts are refusals and the credential is no longer suspect; nothing held
    // was released.
    let fresh: Vec<_> = (0..20).map(|i| xiaomi(&format!("f-{i}"))).collect();
    for (i, pair) in fresh.chunks(2).enumerate() {
        provider.send(&n, pair).await;
        assert_eq!(quarantine.is_suspect(&key), i < 2, "after request {i}");
    }
    assert_eq!(sink.dead().len(), 48);
    assert_eq!(quarantine.held_count(&key), 72);

    // Two held tokens really are dead, and so is a new one: each reaches the sink once, and the
    // held ones leave the quarantine.
    for token in ["w-100", "w-101", "f-new"] {
        stub.outcome_for(token, invalid("20301"));
    }
    provider
        .send(&n, &[xiaomi("w-100"), xiaomi("w-101"), xiaomi("f-new")])
        .await;
    assert_eq!(sink.dead().len(), 51);
    assert_no_duplicates(&sink);
    assert_eq!(quarantine.held_count(&key), 70);

    // The operator takes the rest (to delete them if the configuration was right after all):
    // once, without the two already reported.
    let taken = quarantine.take_held(&key);
    assert_eq!(taken.len(), 70);
    assert!(taken.iter().all(|d| d.device.token != "w-100"));
    assert!(quarantine.take_held(&key).is_empty());
    assert_eq!(sink.alarms().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_one_request_hold_lands_in_the_quarantine_too() {
    let stub = Arc::new(
        StubProvider::new("huawei")
            .max_batch_size(1000)
            .default_outcome(invalid("80300007")),
    );
    let (provider, sink, quarantine) = stack(stub);
    let tokens: Vec<_> = (0..30).map(|i| xiaomi(&format!("r-{i}"))).collect();
    provider.send(&sample_notification(), &tokens).await;
    assert!(sink.dead().is_empty());
    let held = quarantine.held(&ChannelKey::new(TokenKind::Xiaomi, "app"));
    assert_eq!(held.len(), 30);
    assert_eq!(held[0].reason.code(), "80300007");
}

#[tokio::test(start_paused = true)]
async fn a_fleet_sent_to_the_wrong_apns_environment_alarms_once_per_credential_and_window() {
    let stub = Arc::new(StubProvider::new("apns").default_outcome(invalid(APNS_BAD_DEVICE_TOKEN)));
    let mut config = HygieneConfig::default();
    config.apns_endpoint = Some(ApnsEnv::Production);
    let sink = Arc::new(RecordingSink::new());
    let layer = Hygiene::new(stub.clone(), config, sink.clone(), ApnsEnvEvidence::new()).unwrap();
    let n = sample_notification();
    let sandbox = |credential: &str, i: usize| {
        DeviceToken::new(TokenKind::ApnsSandbox, credential, format!("tok-{i}"))
    };

    for i in 0..100 {
        layer.send(&n, &[sandbox("team", i)]).await;
        layer.send(&n, &[sandbox("other-team", i)]).await;
    }
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 2, "one per credential: {alarms:?}");
    assert!(
        alarms
            .iter()
            .all(|a| a.kind == AlarmKind::ApnsEnvironmentMismatch)
    );
    assert_eq!(alarms[0].channel.credential, "team");
    assert_eq!(alarms[1].channel.credential, "other-team");
    assert!(sink.dead().is_empty());

    // Still within the interval: suppressed. After it: one more, counting the suppressed.
    tokio::time::advance(Duration::from_secs(59)).await;
    layer.send(&n, &[sandbox("team", 100)]).await;
    assert_eq!(sink.alarms().len(), 2);
    tokio::time::advance(Duration::from_secs(1)).await;
    layer.send(&n, &[sandbox("team", 101)]).await;
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 3);
    assert_eq!(alarms[2].channel.credential, "team");
    assert_eq!(alarms[2].suppressed, 100);
    assert_eq!(stub.call_count(), 202);
}

#[test]
fn nonsense_window_settings_are_refused() {
    let build = |config: HygieneConfig| {
        Hygiene::new(
            Arc::new(StubProvider::new("x")),
            config,
            Arc::new(RecordingSink::new()),
            ApnsEnvEvidence::new(),
        )
        .unwrap_err()
    };
    let mut config = HygieneConfig::default();
    config.mass_invalid_min_verdicts = 1;
    assert_eq!(build(config).field(), "hygiene.mass_invalid_min_verdicts");
    let mut config = HygieneConfig::default();
    config.mass_invalid_window = Duration::ZERO;
    assert_eq!(build(config).field(), "hygiene.mass_invalid_window");
}
