//! One outcome taxonomy for every channel, so retry logic, token clean-up and metrics never parse
//! vendor strings.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

/// What happened to one device token in one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The vendor accepted the push.
    Delivered {
        /// The vendor's id for it (APNs `apns-id`, Xiaomi `data.id`, Huawei `requestId`).
        #[serde(skip_serializing_if = "Option::is_none")]
        vendor_id: Option<String>,
    },
    /// The daemon channel stored the push for a device that is not connected now; it is
    /// delivered when the device reconnects.
    Queued,
    /// The token is dead: delete it (APNs 410, Xiaomi `bad_regids`, Huawei `illegal_tokens`…).
    InvalidToken {
        /// The vendor's reason.
        reason: Reason,
        /// Since when the vendor knows it is dead, if it says (APNs 410 `timestamp`).
        #[serde(serialize_with = "millis", skip_serializing_if = "Option::is_none")]
        since: Option<SystemTime>,
    },
    /// The token no longer reaches the device through this channel, but the device may still be
    /// there (for example a Huawei `noRight` token of a device moved to HarmonyOS NEXT): keep the
    /// token, ask the app to register again.
    Stale {
        /// The vendor's reason.
        reason: Reason,
    },
    /// Not delivered, and worth trying again later: 429, 5xx, timeouts, lost connections.
    Retry {
        /// When the vendor said to come back, if it did.
        #[serde(
            serialize_with = "duration_secs",
            skip_serializing_if = "Option::is_none"
        )]
        after: Option<Duration>,
        /// Why.
        reason: Reason,
    },
    /// The credential was refused (after the provider's own refresh-and-retry for expired tokens).
    Auth {
        /// The vendor's reason.
        reason: Reason,
    },
    /// Permanently refused: payload too large, bad request. Our bug or bad input; do not retry.
    Rejected {
        /// The vendor's or pushway's reason.
        reason: Reason,
    },
    /// The vendor's answer points at our configuration (a wrong package name, region, app id or
    /// APNs environment) rather than at the token: for example every token of a large batch
    /// refused at once, or a streak of whole-batch refusals with no success in between. The
    /// tokens are kept and an operator should look.
    Misconfigured {
        /// The vendor's reason.
        reason: Reason,
    },
    /// The vendor answered, but what happened to this token cannot be told (for example a
    /// partial-success answer that could not be parsed): not retried (it may have been delivered)
    /// and the token is kept.
    Unknown {
        /// What was not understood.
        reason: Reason,
    },
    /// No provider is registered for the device's channel.
    Unroutable,
    /// Not sent, on purpose: the dispatch's [`ChannelStrategy`](crate::ChannelStrategy) chose
    /// other devices of the same recipient (for example a live daemon connection). Not an error:
    /// not retried, the token is kept.
    Skipped {
        /// Why: [`Reason::DAEMON_LIVE`] or [`Reason::VENDOR_PREFERRED`].
        reason: Reason,
    },
}

impl Outcome {
    /// `Delivered` without a vendor id.
    pub const DELIVERED: Outcome = Outcome::Delivered { vendor_id: None };

    /// A `Retry` with no hint of when.
    pub fn retry(reason: impl Into<Reason>) -> Outcome {
        Outcome::Retry {
            after: None,
            reason: reason.into(),
        }
    }

    /// A `Rejected` outcome.
    pub fn rejected(reason: impl Into<Reason>) -> Outcome {
        Outcome::Rejected {
            reason: reason.into(),
        }
    }

    /// A `Skipped` outcome.
    pub fn skipped(reason: impl Into<Reason>) -> Outcome {
        Outcome::Skipped {
            reason: reason.into(),
        }
    }

    /// Whether the vendor (or the daemon queue) took the push.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered { .. } | Outcome::Queued)
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Outcome::Retry { .. })
    }

    /// Whether the token is dead and should be deleted.
    pub fn should_drop_token(&self) -> bool {
        matches!(self, Outcome::InvalidToken { .. })
    }

    /// When to retry, if the vendor said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Outcome::Retry { after, .. } => *after,
            _ => None,
        }
    }

    /// The reason, for outcomes that carry one.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Outcome::InvalidToken { reason, .. }
            | Outcome::Stale { reason }
            | Outcome::Retry { reason, .. }
            | Outcome::Auth { reason }
            | Outcome::Rejected { reason }
            | Outcome::Misconfigured { reason }
            | Outcome::Unknown { reason }
            | Outcome::Skipped { reason } => Some(reason),
            Outcome::Delivered { .. } | Outcome::Queued | Outcome::Unroutable => None,
        }
    }

    /// A stable label for metrics: the JSON tag.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Queued => "queued",
            Outcome::InvalidToken { .. } => "invalid_token",
            Outcome::Stale { .. } => "stale",
            Outcome::Retry { .. } => "retry",
            Outcome::Auth { .. } => "auth",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Misconfigured { .. } => "misconfigured",
            Outcome::Unknown { .. } => "unknown",
            Outcome::Unroutable => "unroutable",
            Outcome::Skipped { .. } => "skipped",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if let Some(reason) = self.reason() {
            write!(f, " ({reason})")?;
        }
        Ok(())
    }
}

/// Why an outcome happened: a stable code (a vendor's reason such as `"Unregistered"`,
/// `"20301"`, `"80300007"`, or one of pushway's own below) and an optional detail for humans.
/// Codes are for matching; details are not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Reason {
    code: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl Reason {
    /// pushway shortened nothing more: the payload is over the channel's limit.
    pub const PAYLOAD_TOO_LARGE: &'static str = "payload_too_large";
    /// The attempt timed out.
    pub const TIMEOUT: &'static str = "timeout";
    /// The connection failed or was lost before an answer.
    pub const CONNECTION: &'static str = "connection";
    /// The server closed the connection (GOAWAY) before processing the request.
    pub const NOT_PROCESSED: &'static str = "not_processed";
    /// A provider broke its contract (for example returned the wrong number of outcomes).
    pub const PROVIDER_CONTRACT: &'static str = "provider_contract";
    /// A layer refused to wait any longer for capacity (rate limit, retry budget).
    pub const THROTTLED: &'static str = "throttled";
    /// Skipped by [`ChannelStrategy::DaemonFirst`](crate::ChannelStrategy::DaemonFirst): the
    /// recipient has a live daemon connection, which got the push instead.
    pub const DAEMON_LIVE: &'static str = "daemon_live";
    /// Skipped by [`ChannelStrategy::DaemonFirst`](crate::ChannelStrategy::DaemonFirst): no
    /// daemon connection is live, so the recipient's vendor devices got the push instead.
    pub const VENDOR_PREFERRED: &'static str = "vendor_preferred";

    /// A reason with a code and no detail.
    pub fn new(code: impl Into<Cow<'static, str>>) -> Self {
        Reason {
            code: code.into(),
            detail: None,
        }
    }

    /// Adds a human-readable detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The detail, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl From<&'static str> for Reason {
    fn from(code: &'static str) -> Self {
        Reason::new(code)
    }
}

impl From<String> for Reason {
    fn from(code: String) -> Self {
        Reason::new(code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

fn millis<S: Serializer>(value: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    let ms = value
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64);
    s.serialize_some(&ms)
}

fn duration_secs<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&value.map(|d| d.as_secs_f64()))
}
