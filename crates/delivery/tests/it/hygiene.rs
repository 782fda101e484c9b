//! Token hygiene: each dead token reaches the sink once; the APNs environment rule; mass-invalid
//! batches are held and raise an alarm.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{ApnsEnv, DeviceToken, Outcome, PushProvider, Reason, TokenKind};
use pushway_delivery::{
    APNS_BAD_DEVICE_TOKEN, AlarmKind, ApnsEnvEvidence, DeliveryBuilder, DeliveryConfig, Hygiene,
    HygieneConfig, RecordingSink,
};

use crate::support::{xiaomi, xiaomis};

fn invalid(code: &'static str) -> Outcome {
    Outcome::InvalidToken {
        reason: Reason::new(code),
        since: None,
    }
}

fn hygiene(inner: Arc<dyn PushProvider>, config: HygieneConfig) -> (Hygiene, Arc<RecordingSink>) {
    let sink = Arc::new(RecordingSink::new());
    let layer = Hygiene::new(inner, config, sink.clone(), ApnsEnvEvidence::new()).unwrap();
    (layer, sink)
}

fn dead_tokens(sink: &RecordingSink) -> Vec<String> {
    sink.dead().into_iter().map(|d| d.device.token).collect()
}

#[tokio::test(start_paused = true)]
async fn the_sink_gets_each_invalid_token_exactly_once_through_retries() {
    let stub = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_222_000);
    stub.script("a", [invalid("20301")]);
    stub.script("b", [Outcome::retry("10027"), invalid("20301")]);
    stub.script(
        "c",
        [
            Outcome::retry("10027"),
            Outcome::retry("10027"),
            Outcome::DELIVERED,
        ],
    );
    stub.script(
        "e",
        [Outcome::InvalidToken {
            reason: Reason::new("Unregistered"),
            since: Some(since),
        }],
    );
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(DeliveryConfig::default(), sink.clone())
        .build(stub.clone())
        .unwrap();

    let tokens: Vec<_> = ["a", "b", "c", "d", "e"].map(xiaomi).into();
    let outcomes = provider.send(&sample_notification(), &tokens).await;

    assert_eq!(stub.call_count(), 3);
    let mut dead = dead_tokens(&sink);
    dead.sort();
    assert_eq!(dead, ["a", "b", "e"]);
    let e = sink
        .dead()
        .into_iter()
        .find(|d| d.device.token == "e")
        .unwrap();
    assert_eq!(e.since, Some(since));
    assert_eq!(e.reason.code(), "Unregistered");
    // The caller sees the same verdicts.
    let dropped: Vec<bool> = outcomes.iter().map(Outcome::should_drop_token).collect();
    assert_eq!(dropped, [true, true, false, false, true]);
    assert!(sink.alarms().is_empty());

    // Exactly once per `InvalidToken` outcome: if the embedder sends to the token again before
    // deleting it and the vendor says so again, the sink hears it again, once.
    stub.script("a", [invalid("20301")]);
    provider.send(&sample_notification(), &tokens[..1]).await;
    assert_eq!(dead_tokens(&sink).iter().filter(|t| *t == "a").count(), 2);
}

fn apns(kind: TokenKind, credential: &str, token: &str) -> DeviceToken {
    DeviceToken::new(kind, credential, token)
}

fn unverified(credential: &str) -> HygieneConfig {
    let mut config = HygieneConfig::default();
    config.apns_unverified_env.insert(credential.to_owned());
    config
}

#[tokio::test]
async fn apns_bad_device_token_in_a_verified_environment_is_dead() {
    let stub = Arc::new(StubProvider::new("apns").default_outcome(invalid(APNS_BAD_DEVICE_TOKEN)));
    let (layer, sink) = hygiene(stub, HygieneConfig::default());
    let token = apns(TokenKind::ApnsProduction, "team", "tok");
    let outcomes = layer.send(&sample_notification(), &[token]).await;
    assert!(outcomes[0].should_drop_token());
    assert_eq!(dead_tokens(&sink), ["tok"]);
}

#[tokio::test]
async fn apns_bad_device_token_for_a_sandbox_token_from_production_is_a_routing_alarm() {
    let stub = Arc::new(StubProvider::new("apns").default_outcome(invalid(APNS_BAD_DEVICE_TOKEN)));
    let mut config = HygieneConfig::default();
    config.apns_endpoint = Some(ApnsEnv::Production);
    let (layer, sink) = hygiene(stub, config);
    let token = apns(TokenKind::ApnsSandbox, "team", "tok");
    let outcomes = layer.send(&sample_notification(), &[token]).await;

    assert!(
        matches!(&outcomes[0], Outcome::Misconfigured { reason } if reason.code() == APNS_BAD_DEVICE_TOKEN)
    );
    assert!(sink.dead().is_empty(), "not reported dead");
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].kind, AlarmKind::ApnsEnvironmentMismatch);
    assert_eq!(alarms[0].held[0].token, "tok");
}

#[tokio::test]
async fn apns_bad_device_token_for_an_unverified_environment_is_kept_as_stale() {
    let stub = Arc::new(StubProvider::new("apns").default_outcome(invalid(APNS_BAD_DEVICE_TOKEN)));
    let (layer, sink) = hygiene(stub, unverified("team"));
    let token = apns(TokenKind::ApnsProduction, "team", "tok");
    let outcomes = layer.send(&sample_notification(), &[token]).await;

    assert!(
        matches!(&outcomes[0], Outcome::Stale { reason } if reason.code() == APNS_BAD_DEVICE_TOKEN)
    );
    assert!(!outcomes[0].should_drop_token());
    assert!(sink.dead().is_empty());
    assert!(sink.alarms().is_empty());
}

#[tokio::test]
async fn an_unverified_token_refused_by_both_environments_is_dead() {
    let evidence = ApnsEnvEvidence::new();
    let sink = Arc::new(RecordingSink::new());
    let layer = |env| {
        let stub = StubProvider::new("apns").default_outcome(invalid(APNS_BAD_DEVICE_TOKEN));
        let mut config = unverified("team");
        config.apns_endpoint = Some(env);
        Hygiene::new(Arc::new(stub), config, sink.clone(), evidence.clone()).unwrap()
    };
    let production = layer(ApnsEnv::Production);
    let sandbox = layer(ApnsEnv::Sandbox);
    let n = sample_notification();

    let first = production
        .send(&n, &[apns(TokenKind::ApnsProduction, "team", "tok")])
        .await;
    assert!(matches!(first[0], Outcome::Stale { .. }));
    // The same refusal again from production is no new evidence.
    let again = production
        .send(&n, &[apns(TokenKind::ApnsProduction, "team", "tok")])
        .await;
    assert!(matches!(again[0], Outcome::Stale { .. }));
    assert!(sink.dead().is_empty());

    // The embedder tries the other environment; it refuses too: now the token is dead.
    let second = sandbox
        .send(&n, &[apns(TokenKind::ApnsSandbox, "team", "tok")])
        .await;
    assert!(second[0].should_drop_token());
    assert_eq!(dead_tokens(&sink), ["tok"]);
}

#[tokio::test]
async fn apns_unregistered_is_dead_whatever_the_environment() {
    let stub = Arc::new(StubProvider::new("apns").default_outcome(invalid("Unregistered")));
    let (layer, sink) = hygiene(stub, unverified("team"));
    let token = apns(TokenKind::ApnsProduction, "team", "tok");
    let outcomes = layer.send(&sample_notification(), &[token]).await;
    assert!(outcomes[0].should_drop_token());
    assert_eq!(dead_tokens(&sink), ["tok"]);
}

#[tokio::test]
async fn a_batch_marked_all_invalid_is_held_with_an_alarm_not_deleted() {
    // Xiaomi 20301 "No valid targets" for every regid of a request: a wrong package name.
    let stub = Arc::new(
        StubProvider::new("xiaomi")
            .max_batch_size(1000)
            .default_outcome(invalid("20301")),
    );
    let (layer, sink) = hygiene(stub, HygieneConfig::default());
    let tokens = xiaomis(200);
    let outcomes = layer.send(&sample_notification(), &tokens).await;

    assert!(sink.dead().is_empty(), "nothing deleted");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Misconfigured { reason } if reason.code() == "20301"))
    );
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].kind, AlarmKind::MassInvalid);
    assert_eq!(alarms[0].batch_size, 200);
    assert_eq!(alarms[0].held, tokens);
}

#[tokio::test]
async fn a_batch_marked_nearly_all_invalid_is_held_too() {
    // Huawei 80300007 for tokens of another app; one token happens to be accepted.
    let stub = Arc::new(
        StubProvider::new("huawei")
            .max_batch_size(1000)
            .default_outcome(invalid("80300007")),
    );
    stub.outcome_for("regid-0", Outcome::DELIVERED);
    let (layer, sink) = hygiene(stub, HygieneConfig::default());
    let outcomes = layer.send(&sample_notification(), &xiaomis(20)).await;
    assert!(sink.dead().is_empty());
    assert_eq!(sink.alarms()[0].held.len(), 19);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| o.as_str() == "misconfigured")
            .count(),
        19
    );
}

#[tokio::test]
async fn ordinary_dead_tokens_and_small_batches_are_deleted() {
    let stub = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    for i in 0..5 {
        stub.outcome_for(format!("regid-{i}"), invalid("20301"));
    }
    let (layer, sink) = hygiene(stub, HygieneConfig::default());
    let n = sample_notification();
    // 5 of 20: an ordinary share of uninstalls.
    layer.send(&n, &xiaomis(20)).await;
    assert_eq!(sink.dead().len(), 5);
    // 3 of 3: all, but not a large batch.
    layer.send(&n, &xiaomis(3)).await;
    assert_eq!(sink.dead().len(), 8);
    assert!(sink.alarms().is_empty());
}

#[tokio::test]
async fn a_provider_classified_misconfiguration_raises_one_alarm() {
    let stub = Arc::new(
        StubProvider::new("huawei")
            .max_batch_size(1000)
            .default_outcome(Outcome::Misconfigured {
                reason: Reason::new("80300002"),
            }),
    );
    let (layer, sink) = hygiene(stub, HygieneConfig::default());
    layer.send(&sample_notification(), &xiaomis(3)).await;
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].kind, AlarmKind::VendorMisconfigured);
    assert_eq!(alarms[0].held.len(), 3);
}

#[test]
fn nonsense_thresholds_are_refused() {
    let mut config = HygieneConfig::default();
    config.mass_invalid_ratio = 0.0;
    let err = Hygiene::new(
        Arc::new(StubProvider::new("x")),
        config,
        Arc::new(RecordingSink::new()),
        ApnsEnvEvidence::new(),
    )
    .unwrap_err();
    assert_eq!(err.field(), "hygiene.mass_invalid_ratio");
}
