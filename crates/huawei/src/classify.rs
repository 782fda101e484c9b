//! The one place where Push Kit answers become pushway [`Outcome`]s. Pure: no I/O, no clock.
//!
//! | answer | outcome for each token |
//! |---|---|
//! | 80000000 | `Delivered` (vendor id = `requestId`) |
//! | 80100000, `msg` lists illegal tokens (`illegal_tokens` or `illegalTokens` shape) | listed: by reason (below); the rest `Delivered` |
//! | 80100000, `msg` not parseable or not matching the batch | `Unknown` for all: never resent, never pruned |
//! | 80300007 with a parseable `msg` | listed: by reason; unlisted: `Unknown` |
//! | 80300007, plain text, fewer than [`MISCONFIGURED_BATCH`] tokens | `InvalidToken` for all (caveat below) |
//! | 80300007, plain text, [`MISCONFIGURED_BATCH`] tokens or more | `Misconfigured` for all |
//! | 80200001, 80200003, 80200005 (after the provider's one refresh) | `Auth` |
//! | 80100001/2/3/4/13/16/18, 80300008, 80300010 | `Rejected` with the code |
//! | 80300002, 80300011 | `Misconfigured` (Push Kit disabled / no permission for importance) |
//! | 80100017, 80600003, 81000001 | `Retry` |
//! | unknown code | by HTTP status: 5xx/429 `Retry`, 401/403 `Auth`, 4xx `Rejected`, else `Unknown`; the code is kept |
//! | no JSON body: 503, 5xx, 429 | `Retry` (`Retry-After` honoured) |
//! | no JSON body: 401/403 | `Auth`; 404/405 `Misconfigured`; other 4xx `Rejected`; 2xx `Unknown` |
//!
//! Per-token reasons (`illegalTokens` keys): `tokenFormatError`, `tokenPlatformNotSupport` →
//! `InvalidToken`; `noRight` → `Stale` (likely a device moved to HarmonyOS NEXT: keep the token,
//! the app must register again), or `Misconfigured` when every token of a batch of
//! [`MISCONFIGURED_BATCH`] or more says so; `noPushTypeRight`, `appinfoError`,
//! `disableSendHuaweiMsgBecauseOfPenalty` → `Misconfigured`; `countryNotSupport` → `Rejected`;
//! other reasons → `Unknown`. The `illegal_tokens` array → `InvalidToken`.
//!
//! **80300007 caveat.** Huawei answers "all tokens invalid" both when the tokens are dead and when
//! they belong to another app or project (wrong app id, wrong credential). A single dead device is
//! common; a batch of ten or more devices all dead at once is not, while a wrong app id makes every
//! batch fail exactly so. Pruning a user base because of a configuration error cannot be undone,
//! keeping a few dead tokens one more time can, so a plain-text 80300007 on a batch of
//! [`MISCONFIGURED_BATCH`] or more tokens is `Misconfigured` (tokens kept, operator alerted) and
//! smaller batches are `InvalidToken`.

use std::collections::HashMap;
use std::time::Duration;

use pushway_core::{Outcome, Reason};
use serde::Deserialize;
use serde_json::Value;

use crate::codes::ResultCode;

/// A plain-text 80300007 (or a `noRight` for every token) on a batch of at least this many
/// tokens is reported as [`Outcome::Misconfigured`] instead of pruning them (see the module docs).
pub const MISCONFIGURED_BATCH: usize = 10;

/// A classified answer: the code it carried (if any), Huawei's request id, and one outcome per
/// token in the order of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The body's result code, or `None` when the body was not a Push Kit answer.
    pub code: Option<ResultCode>,
    /// The body's `requestId` (log it: support tickets need it).
    pub request_id: Option<String>,
    /// Exactly one outcome per token, in order.
    pub outcomes: Vec<Outcome>,
}

impl Classified {
    /// Whether a fresh credential may fix this answer: an auth result code, or HTTP 401 without
    /// a Push Kit body. The provider then refreshes once and resends once.
    pub fn wants_new_credential(&self) -> bool {
        match &self.code {
            Some(code) => code.wants_new_credential(),
            None => self
                .outcomes
                .first()
                .and_then(Outcome::reason)
                .is_some_and(|r| r.code() == "http_401"),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CodeText {
    Text(String),
    Number(u64),
}

#[derive(Deserialize)]
struct Envelope {
    code: Option<CodeText>,
    #[serde(default)]
    msg: Value,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
}

/// The per-token detail carried in `msg`, in either shape (§3.4).
#[derive(Deserialize)]
struct Detail {
    illegal_tokens: Option<Vec<String>>,
    #[serde(rename = "illegalTokens")]
    by_reason: Option<HashMap<String, Vec<String>>>,
}

/// Classifies one answer of `POST …/messages:send` for the batch `tokens`.
///
/// `retry_after` is the `Retry-After` header, if any (seconds). The body is parsed first and its
/// `code` decides; the HTTP status decides only when the body is not a Push Kit answer.
pub fn classify(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    tokens: &[&str],
) -> Classified {
    let after = retry_after.and_then(|v| v.trim().parse::<u64>().ok().map(Duration::from_secs));
    let envelope = serde_json::from_slice::<Envelope>(body).ok();
    let Some((envelope, code)) = envelope.and_then(|e| {
        let code = match &e.code {
            Some(CodeText::Text(t)) => ResultCode::parse(t),
            Some(CodeText::Number(n)) => ResultCode::parse(&n.to_string()),
            None => return None,
        };
        Some((e, code))
    }) else {
        let outcome = by_status(status, after, None);
        return Classified {
            code: None,
            request_id: None,
            outcomes: vec![outcome; tokens.len()],
        };
    };
    let msg = match &envelope.msg {
        Value::String(s) => s.as_str(),
        _ => "",
    };
    let reason = || {
        let reason = Reason::new(code.as_str().to_owned());
        if msg.is_empty() {
            reason
        } else {
            reason.with_detail(msg)
        }
    };
    let all = |outcome: Outcome| vec![outcome; tokens.len()];
    let outcomes = match &code {
        ResultCode::Success => all(Outcome::Delivered {
            vendor_id: envelope.request_id.clone(),
        }),
        ResultCode::PartialSuccess | ResultCode::AllTokensInvalid => {
            per_token(&code, &envelope, tokens)
        }
        ResultCode::ParameterError
        | ResultCode::OneTokenOnly
        | ResultCode::StructureError
        | ResultCode::TtlInPast
        | ResultCode::CollapseKeyIllegal
        | ResultCode::SensitiveContent
        | ResultCode::SignatureFailed
        | ResultCode::MessageTooBig
        | ResultCode::TokenCount => all(Outcome::rejected(reason())),
        ResultCode::AuthError | ResultCode::TokenExpired | ResultCode::JwtExpired => {
            all(Outcome::Auth { reason: reason() })
        }
        ResultCode::NotAllowed | ResultCode::NoHighLevelPermission => {
            all(Outcome::Misconfigured { reason: reason() })
        }
        ResultCode::TooManyTopicTasks
        | ResultCode::OAuthUnreachable
        | ResultCode::InternalError => all(Outcome::Retry {
            after,
            reason: reason(),
        }),
        ResultCode::Unknown(_) => all(by_status(status, after, Some(reason()))),
    };
    Classified {
        code: Some(code),
        request_id: envelope.request_id,
        outcomes,
    }
}

/// The outcome an HTTP status alone gives (no Push Kit body), or an unknown code's outcome.
fn by_status(status: u16, after: Option<Duration>, code: Option<Reason>) -> Outcome {
    let reason = code.unwrap_or_else(|| Reason::new(format!("http_{status}")));
    match status {
        429 | 500..=599 => Outcome::Retry { after, reason },
        401 | 403 => Outcome::Auth { reason },
        404 | 405 => Outcome::Misconfigured { reason },
        400..=499 => Outcome::rejected(reason),
        _ => Outcome::Unknown { reason },
    }
}

/// 80100000 and 80300007: the per-token detail of `msg`, or the rules for its absence.
fn per_token(code: &ResultCode, envelope: &Envelope, tokens: &[&str]) -> Vec<Outcome> {
    let code_text = code.as_str().to_owned();
    let partial = *code == ResultCode::PartialSuccess;
    let detail = parse_detail(&envelope.msg);
    let listed: Option<HashMap<&str, Option<&str>>> = detail.as_ref().map(|d| {
        d.iter()
            .map(|(token, reason)| (token.as_str(), reason.as_deref()))
            .collect()
    });
    let Some(listed) = listed.filter(|l| consistent(l, tokens)) else {
        if partial {
            // Some tokens got the message: resending would duplicate it, pruning would guess.
            let reason =
                Reason::new(code_text).with_detail("per-token detail missing or unparseable");
            return vec![Outcome::Unknown { reason }; tokens.len()];
        }
        let outcome = if tokens.len() >= MISCONFIGURED_BATCH {
            Outcome::Misconfigured {
                reason: Reason::new(code_text).with_detail(
                    "every token of a large batch invalid: wrong app id or credential?",
                ),
            }
        } else {
            Outcome::InvalidToken {
                reason: Reason::new(code_text).with_detail("all tokens invalid"),
                since: None,
            }
        };
        return vec![outcome; tokens.len()];
    };
    let all_no_right = tokens.len() >= MISCONFIGURED_BATCH
        && tokens
            .iter()
            .all(|t| listed.get(t).is_some_and(|r| *r == Some("noRight")));
    tokens
        .iter()
        .map(|token| match listed.get(token) {
            None if partial => Outcome::Delivered {
                vendor_id: envelope.request_id.clone(),
            },
            None => Outcome::Unknown {
                reason: Reason::new(code_text.clone()).with_detail("token not listed"),
            },
            Some(reason) => by_reason(&code_text, *reason, all_no_right),
        })
        .collect()
}

/// The listed tokens with their reason (`None` for the `illegal_tokens` array, which gives none).
fn parse_detail(msg: &Value) -> Option<Vec<(String, Option<String>)>> {
    let detail: Detail = match msg {
        Value::String(s) => serde_json::from_str(s).ok()?,
        Value::Object(_) => Detail::deserialize(msg).ok()?,
        _ => return None,
    };
    let mut listed = Vec::new();
    if let Some(tokens) = detail.illegal_tokens {
        listed.extend(tokens.into_iter().map(|t| (t, None)));
    }
    for (reason, tokens) in detail.by_reason.into_iter().flatten() {
        listed.extend(tokens.into_iter().map(|t| (t, Some(reason.clone()))));
    }
    Some(listed)
}

/// A detail is trusted only when it lists at least one token and every listed token is one of
/// the batch: otherwise it does not describe this request, and acting on it would prune or
/// redeliver the wrong devices.
fn consistent(listed: &HashMap<&str, Option<&str>>, tokens: &[&str]) -> bool {
    if listed.is_empty() {
        return false;
    }
    let batch: std::collections::HashSet<&str> = tokens.iter().copied().collect();
    listed.keys().all(|t| batch.contains(t))
}

/// The outcome of one listed token.
fn by_reason(code: &str, reason: Option<&str>, all_no_right: bool) -> Outcome {
    let why = Reason::new(code.to_owned()).with_detail(reason.unwrap_or("illegal_tokens"));
    match reason {
        None | Some("tokenFormatError" | "tokenPlatformNotSupport") => Outcome::InvalidToken {
            reason: why,
            since: None,
        },
        Some("noRight") if all_no_right => Outcome::Misconfigured { reason: why },
        Some("noRight") => Outcome::Stale { reason: why },
        Some("noPushTypeRight" | "appinfoError" | "disableSendHuaweiMsgBecauseOfPenalty") => {
            Outcome::Misconfigured { reason: why }
        }
        Some("countryNotSupport") => Outcome::rejected(why),
        Some(_) => Outcome::Unknown { reason: why },
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
