//! What an outcome does to its delivery row: pure, so every rule has a unit test.

use pushway_core::Outcome;

use crate::config::WorkerConfig;
use crate::store::{Claimed, DeliveryState, OutcomeRecord, RoutePause};

/// The backoff after the `retries`-th retryable failure: the base doubled per failure, capped.
pub fn backoff_ms(retries: u32, config: &WorkerConfig) -> i64 {
    let doublings = retries.saturating_sub(1).min(30);
    let ms = config
        .backoff_base_ms
        .saturating_mul(1u64 << doublings)
        .min(config.backoff_max_ms);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The row's new state after `outcome`, and the route pause it calls for, if any.
///
/// | outcome | row |
/// |---|---|
/// | delivered / queued | delivered / queued |
/// | retry | retrying at `Retry-After` or the backoff; dead at the `max_attempts`-th retryable failure |
/// | invalid token, rejected | dead |
/// | auth, misconfigured, unroutable | held (retrying after the route pause), route paused |
/// | stale, unknown, skipped | failed (not retried; the token is kept) |
pub fn decide(
    outcome: &Outcome,
    row: &Claimed,
    now: i64,
    config: &WorkerConfig,
) -> (OutcomeRecord, Option<RoutePause>) {
    let pause_until = now.saturating_add(i64::try_from(config.route_pause_ms).unwrap_or(i64::MAX));
    let mut pause = None;
    let (state, run_at) = match outcome {
        Outcome::Delivered { .. } => (DeliveryState::Delivered, now),
        Outcome::Queued => (DeliveryState::Queued, now),
        Outcome::Retry { after, .. } => {
            // Only retryable failures count: sends held by a paused route do not use up a
            // delivery's attempts while an operator fixes the credential.
            let retries = row.retries.saturating_add(1);
            if retries >= config.max_attempts {
                (DeliveryState::Dead, now)
            } else {
                let wait = match after {
                    Some(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
                    None => backoff_ms(retries, config),
                };
                (DeliveryState::Retrying, now.saturating_add(wait))
            }
        }
        Outcome::InvalidToken { .. } | Outcome::Rejected { .. } => (DeliveryState::Dead, now),
        Outcome::Auth { .. } | Outcome::Misconfigured { .. } | Outcome::Unroutable => {
            pause = Some(RoutePause {
                app: row.app.clone(),
                kind: row.kind,
                credential: row.credential.clone(),
                until: pause_until,
                reason: reason_of(outcome),
            });
            (DeliveryState::Retrying, pause_until)
        }
        _ => (DeliveryState::Failed, now),
    };
    let record = OutcomeRecord {
        delivery_id: row.id,
        state,
        run_at,
        outcome: outcome.as_str().to_owned(),
        retried: outcome.is_retryable(),
        // The stable code only: details are for logs, codes are for matching.
        reason: outcome.reason().map(|r| r.code().to_owned()),
    };
    (record, pause)
}

fn reason_of(outcome: &Outcome) -> String {
    match outcome.reason() {
        Some(reason) => format!("{}: {reason}", outcome.as_str()),
        None => outcome.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pushway_core::{Reason, TokenKind};

    use super::*;

    fn row(attempts: u32) -> Claimed {
        Claimed {
            id: 7,
            app: "chat".to_owned(),
            notification_id: 1,
            kind: TokenKind::Xiaomi,
            credential: "mi".to_owned(),
            token: "t".to_owned(),
            attempts,
            retries: attempts.saturating_sub(1),
            expires_at: i64::MAX,
            last_reason: None,
            message_id: "m".to_owned(),
            accepted_at: 0,
        }
    }

    #[test]
    fn retry_waits_for_retry_after_then_the_backoff_then_dies() {
        let config = WorkerConfig::default();
        let after = Outcome::Retry {
            after: Some(Duration::from_secs(7)),
            reason: Reason::new("429"),
        };
        let (r, p) = decide(&after, &row(1), 1000, &config);
        assert_eq!(
            (r.state, r.run_at, p),
            (DeliveryState::Retrying, 8000, None)
        );
        let (r, _) = decide(&Outcome::retry("503"), &row(3), 1000, &config);
        assert_eq!((r.state, r.run_at), (DeliveryState::Retrying, 1000 + 4000));
        assert_eq!(r.reason.as_deref(), Some("503"));
        let (r, _) = decide(
            &Outcome::retry("503"),
            &row(config.max_attempts),
            1000,
            &config,
        );
        assert_eq!(r.state, DeliveryState::Dead);
    }

    #[test]
    fn misconfigured_holds_the_row_and_pauses_its_route() {
        let config = WorkerConfig::default();
        let auth = Outcome::Auth {
            reason: Reason::new("21301"),
        };
        let (r, p) = decide(&auth, &row(1), 1000, &config);
        assert_eq!(r.state, DeliveryState::Retrying);
        assert_eq!(r.run_at, 1000 + 60_000);
        let p = p.expect("pause");
        assert_eq!(
            (p.kind, p.credential.as_str(), p.until),
            (TokenKind::Xiaomi, "mi", 61_000)
        );
    }

    #[test]
    fn terminal_outcomes() {
        let config = WorkerConfig::default();
        let dead = Outcome::InvalidToken {
            reason: Reason::new("20301"),
            since: None,
        };
        assert_eq!(
            decide(&dead, &row(1), 0, &config).0.state,
            DeliveryState::Dead
        );
        assert_eq!(
            decide(&Outcome::rejected("big"), &row(1), 0, &config)
                .0
                .state,
            DeliveryState::Dead
        );
        assert_eq!(
            decide(&Outcome::DELIVERED, &row(1), 0, &config).0.state,
            DeliveryState::Delivered
        );
        assert_eq!(
            decide(&Outcome::Queued, &row(1), 0, &config).0.state,
            DeliveryState::Queued
        );
        let unknown = Outcome::Unknown {
            reason: Reason::new("?"),
        };
        assert_eq!(
            decide(&unknown, &row(1), 0, &config).0.state,
            DeliveryState::Failed
        );
    }

    #[test]
    fn sends_held_by_a_paused_route_do_not_use_up_the_attempts() {
        let config = WorkerConfig::default();
        let mut held_long = row(50);
        held_long.retries = 0;
        let (r, _) = decide(&Outcome::retry("503"), &held_long, 1000, &config);
        assert_eq!(
            (r.state, r.run_at, r.retried),
            (DeliveryState::Retrying, 2000, true)
        );
        let auth = Outcome::Auth {
            reason: Reason::new("21301"),
        };
        assert!(!decide(&auth, &held_long, 1000, &config).0.retried);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let config = WorkerConfig::default();
        assert_eq!(backoff_ms(1, &config), 1000);
        assert_eq!(backoff_ms(2, &config), 2000);
        assert_eq!(backoff_ms(40, &config), 300_000);
    }
}
