//! The histograms' samples are folded into their buckets as they are recorded, not held until
//! a scrape: a gateway nobody scrapes kept one entry per delivery (issue 14's RSS growth).

use std::sync::Arc;

use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{ChannelKey, DeviceToken, TokenKind};

use super::*;
use crate::store::{Claimed, DeliveryState, OutcomeRecord};

/// One claim's worth of delivered rows of app `chat` on APNs, accepted at 0.
fn delivered(n: usize) -> (Vec<Claimed>, Vec<OutcomeRecord>) {
    let rows: Vec<Claimed> = (0..n)
        .map(|i| Claimed {
            id: i64::try_from(i).unwrap_or(i64::MAX),
            app: "chat".to_owned(),
            notification_id: 1,
            kind: TokenKind::ApnsSandbox,
            credential: "main".to_owned(),
            token: format!("t{i}"),
            attempts: 1,
            retries: 0,
            expires_at: i64::MAX,
            last_reason: None,
            message_id: "m".to_owned(),
            accepted_at: 0,
        })
        .collect();
    let records = rows
        .iter()
        .map(|row| OutcomeRecord {
            delivery_id: row.id,
            state: DeliveryState::Delivered,
            run_at: 0,
            outcome: "delivered".to_owned(),
            reason: None,
            retried: false,
        })
        .collect();
    (rows, records)
}

#[test]
fn outcome_samples_are_folded_every_drain_every_samples_and_none_is_lost() {
    let metrics = Metrics::new();
    for _ in 0..20 {
        let (rows, records) = delivered(500);
        metrics.attempts(&rows, &records, 1500);
    }
    // 10,000 samples in dispatches of 500: folded at 4,500 and at 9,000, so 1,000 are held.
    assert_eq!(metrics.undrained(), 1000);
    let text = metrics.render();
    assert_eq!(metrics.undrained(), 0);
    let line = "pushway_accept_to_outcome_seconds_count{app=\"chat\",channel=\"apns\"} 10000";
    assert!(text.lines().any(|l| l == line), "{text}");
    let bucket =
        "pushway_accept_to_outcome_seconds_bucket{app=\"chat\",channel=\"apns\",le=\"2.5\"} 10000";
    assert!(text.lines().any(|l| l == bucket), "{text}");
}

#[tokio::test]
async fn vendor_latency_samples_are_folded_every_drain_every_requests() {
    let metrics = Metrics::new();
    let key = ChannelKey::new(TokenKind::Xiaomi, "mi");
    let provider = Timed::wrap(&metrics, "chat", &key, Arc::new(StubProvider::new("stub")));
    let notification = sample_notification();
    let token = [DeviceToken::new(TokenKind::Xiaomi, "mi", "t")];
    let sends = DRAIN_EVERY + 100;
    for _ in 0..sends {
        provider.send(&notification, &token).await;
    }
    assert_eq!(metrics.undrained(), 100);
    let text = metrics.render();
    let line = format!(
        "pushway_vendor_request_duration_seconds_count{{app=\"chat\",channel=\"xiaomi\"}} {sends}"
    );
    assert!(text.lines().any(|l| l == line), "{text}");
}

#[test]
fn a_dispatch_whose_rows_interleave_channels_and_outcomes_is_counted_per_kind() {
    let metrics = Metrics::new();
    let (mut rows, mut records) = delivered(9);
    // Rows alternate APNs and Xiaomi, as a group message's devices do; every third is dead.
    for (i, (row, record)) in rows.iter_mut().zip(&mut records).enumerate() {
        if i % 2 == 1 {
            row.kind = TokenKind::Xiaomi;
            row.credential = "mi".to_owned();
        }
        if i % 3 == 2 {
            record.state = DeliveryState::Dead;
            record.outcome = "invalid_token".to_owned();
            record.reason = Some("Unregistered".to_owned());
        }
    }
    metrics.attempts(&rows, &records, 7_000);
    let text = metrics.render();
    let mut pushes: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("pushway_pushes_total{"))
        .collect();
    pushes.sort_unstable();
    // APNs: rows 0, 2, 4, 6, 8 (2 and 8 dead); Xiaomi: rows 1, 3, 5, 7 (5 dead).
    assert_eq!(
        pushes,
        [
            "pushway_pushes_total{app=\"chat\",channel=\"apns\",outcome=\"delivered\",reason=\"none\"} 3",
            "pushway_pushes_total{app=\"chat\",channel=\"apns\",outcome=\"invalid_token\",reason=\"Unregistered\"} 2",
            "pushway_pushes_total{app=\"chat\",channel=\"xiaomi\",outcome=\"delivered\",reason=\"none\"} 3",
            "pushway_pushes_total{app=\"chat\",channel=\"xiaomi\",outcome=\"invalid_token\",reason=\"Unregistered\"} 1",
        ]
    );
    let timed = |channel: &str| {
        format!("pushway_accept_to_outcome_seconds_count{{app=\"chat\",channel=\"{channel}\"}}")
    };
    assert!(
        text.lines().any(|l| l == format!("{} 5", timed("apns"))),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == format!("{} 4", timed("xiaomi"))),
        "{text}"
    );
    for credential in ["main", "mi"] {
        assert!(
            text.lines().any(|l| l.starts_with(ROUTE_AUTH_OK)
                && l.contains(&format!("credential=\"{credential}\""))
                && l.ends_with(" 7")),
            "{text}"
        );
    }
}
