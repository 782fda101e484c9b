//! What an answer of `/v3/message/regid` means for each regid: pure, no I/O.
//!
//! [`classify`] reads one answer (status, headers, body) into a [`Verdict`] for the whole batch;
//! [`Verdict::outcomes`] spreads it over the batch's regids, applying the misconfiguration
//! safeguard ([`Safeguard`]). The rules (protocols/xiaomi.md §1, §5, §6):
//!
//! 1. When the body is a JSON object with a numeric `code` (a number, or for robustness a
//!    numeric string), the code decides, whatever the HTTP status.
//! 2. Otherwise the status decides: 401/403 → `Auth`; 429, 408 and 5xx → `Retry` (honouring
//!    `Retry-After` in seconds); other 4xx → `Rejected`; any other status with an empty or
//!    non-JSON body (an HTML error page, a proxy's text) → `Retry`.

use std::collections::HashSet;
use std::time::Duration;

use http::HeaderMap;
use pushway_core::{Outcome, Reason};
use serde_json::Value;

use crate::codes::{CodeClass, XiaomiCode};

/// How long to wait after a rate-limit code when the answer gives no `Retry-After`: the notes
/// ask for at least one second (protocols/xiaomi.md §6.2).
pub const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(1);

/// Reason code of a regid listed in `data.bad_regids` of a successful answer.
pub const BAD_REGID: &str = "bad_regid";

/// What one answer means for the whole batch, before it is spread over the regids.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Code 0: accepted for every regid except those in `bad_regids`.
    Accepted {
        /// `data.id` (the id receipts carry), else the `trace_id`, as the official SDK does.
        message_id: Option<String>,
        /// The regids of `data.bad_regids`: dead, delete them.
        bad_regids: Vec<String>,
    },
    /// 20301 "No valid targets!": no regid of the request is valid. Either they are all dead,
    /// or the request names the wrong package or region (see [`Safeguard`]).
    AllInvalid {
        /// Code 20301 and Xiaomi's text.
        reason: Reason,
    },
    /// The same outcome for every regid (auth, rate limit, server error, bad request…).
    Batch(Outcome),
}

/// The misconfiguration safeguard applied when a whole batch comes back invalid.
///
/// A wrong `restricted_package_name` or a wrong regional host makes Xiaomi answer 20301 "No
/// valid targets!" for every token, valid or not. Deleting tokens on such answers would wipe
/// the app's whole Xiaomi audience. So a whole-batch refusal gives [`Outcome::Misconfigured`]
/// (tokens kept, operator alerted) instead of [`Outcome::InvalidToken`] when either
/// - the batch has at least [`min_batch`](Safeguard::min_batch) regids (independent dead
///   regids rarely all land in one large batch), or
/// - [`config_suspected`](Safeguard::config_suspected) is set: the provider has seen a run of
///   whole-batch refusals with no success in between (small batches, such as one-regid C2C
///   sends, cannot tell a dead token from a wrong package on their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Safeguard {
    /// Smallest batch whose complete refusal is read as a configuration fault.
    pub min_batch: usize,
    /// Whether recent answers already point at a configuration fault.
    pub config_suspected: bool,
}

impl Default for Safeguard {
    fn default() -> Self {
        Safeguard {
            min_batch: crate::DEFAULT_MISCONFIGURED_MIN_BATCH,
            config_suspected: false,
        }
    }
}

/// Reads one answer of `/v3/message/regid`.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let json = serde_json::from_slice::<Value>(body).ok();
    let object = json.as_ref().and_then(Value::as_object);
    let code = object.and_then(|o| o.get("code")).and_then(code_of);
    match (object, code) {
        (Some(object), Some(code)) => by_code(XiaomiCode::from_i64(code), object, headers),
        _ => Verdict::Batch(by_status(status, headers, body.is_empty())),
    }
}

fn code_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

fn by_code(
    code: XiaomiCode,
    object: &serde_json::Map<String, Value>,
    headers: &HeaderMap,
) -> Verdict {
    let reason = || {
        let what = text(object, "reason")
            .or_else(|| text(object, "description"))
            .unwrap_or("");
        let detail = match text(object, "trace_id") {
            Some(trace) => format!("{what} (trace_id {trace})"),
            None => what.to_owned(),
        };
        Reason::new(code.to_string()).with_detail(detail)
    };
    match code.class() {
        CodeClass::Success => accepted(object),
        CodeClass::InvalidTargets => {
            // 20301 means "no valid targets" when its reason says so (or says nothing); with
            // another reason its meaning is not documented: keep the tokens and retry.
            let said = text(object, "reason").unwrap_or("No valid targets!");
            if said.to_ascii_lowercase().contains("no valid targets") {
                Verdict::AllInvalid { reason: reason() }
            } else {
                Verdict::Batch(Outcome::retry(reason()))
            }
        }
        CodeClass::Auth => Verdict::Batch(Outcome::Auth { reason: reason() }),
        CodeClass::RateLimited => Verdict::Batch(Outcome::Retry {
            after: Some(retry_after(headers).unwrap_or(RATE_LIMIT_BACKOFF)),
            reason: reason(),
        }),
        CodeClass::QuotaExhausted | CodeClass::Transient => Verdict::Batch(Outcome::Retry {
            after: retry_after(headers),
            reason: reason(),
        }),
        CodeClass::BadRequest => Verdict::Batch(Outcome::rejected(reason())),
        CodeClass::Unknown => Verdict::Batch(Outcome::Unknown { reason: reason() }),
    }
}

fn accepted(object: &serde_json::Map<String, Value>) -> Verdict {
    let data = object.get("data").and_then(Value::as_object);
    let message_id = data
        .and_then(|d| text(d, "id"))
        .or_else(|| text(object, "trace_id"))
        .map(str::to_owned);
    let bad_regids = match data.and_then(|d| d.get("bad_regids")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(list)) => split_regids(list),
        // Every client reads a comma string; accept an array of strings too.
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => {
            return Verdict::Batch(Outcome::Unknown {
                reason: Reason::new("0").with_detail("unreadable data.bad_regids"),
            });
        }
    };
    Verdict::Accepted {
        message_id,
        bad_regids,
    }
}

fn split_regids(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The outcome of an answer without a JSON `code`.
fn by_status(status: u16, headers: &HeaderMap, empty: bool) -> Outcome {
    let what = if empty { "empty body" } else { "no JSON code" };
    let reason = Reason::new(format!("http_{status}")).with_detail(what);
    match status {
        401 | 403 => Outcome::Auth { reason },
        408 | 429 | 500..=599 => Outcome::Retry {
            after: retry_after(headers),
            reason,
        },
        400..=499 => Outcome::rejected(reason),
        _ => Outcome::retry(reason),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Xiaomi or the usual proxies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl Verdict {
    /// One outcome per regid, in order, with the [`Safeguard`] applied to whole-batch refusals.
    pub fn outcomes<S: AsRef<str>>(&self, regids: &[S], safeguard: Safeguard) -> Vec<Outcome> {
        match self {
            Verdict::Accepted {
                message_id,
                bad_regids,
            } => {
                if bad_regids.is_empty() {
                    let delivered = Outcome::Delivered {
                        vendor_id: message_id.clone(),
                    };
                    return vec![delivered; regids.len()];
                }
                let bad: HashSet<&str> = bad_regids.iter().map(String::as_str).collect();
                if !regids.is_empty() && regids.iter().all(|r| bad.contains(r.as_ref())) {
                    // A success that lists every regid as bad is a whole-batch refusal too.
                    let reason = Reason::new(BAD_REGID)
                        .with_detail("every regid of the batch listed in data.bad_regids");
                    return all_invalid(reason, regids.len(), safeguard);
                }
                regids
                    .iter()
                    .map(|regid| {
                        if bad.contains(regid.as_ref()) {
                            Outcome::InvalidToken {
                                reason: Reason::new(BAD_REGID),
                                since: None,
                            }
                        } else {
                            Outcome::Delivered {
                                vendor_id: message_id.clone(),
                            }
                        }
                    })
                    .collect()
            }
            Verdict::AllInvalid { reason } => all_invalid(reason.clone(), regids.len(), safeguard),
            Verdict::Batch(outcome) => vec![outcome.clone(); regids.len()],
        }
    }
}

fn all_invalid(reason: Reason, n: usize, safeguard: Safeguard) -> Vec<Outcome> {
    if n >= safeguard.min_batch.max(1) || safeguard.config_suspected {
        let detail = format!(
            "{}; all {n} regids of the batch refused: likely a wrong restricted_package_name or \
             region host, tokens kept",
            reason.detail().unwrap_or_default()
        );
        let reason = Reason::new(reason.code().to_owned()).with_detail(detail);
        vec![Outcome::Misconfigured { reason }; n]
    } else {
        vec![
            Outcome::InvalidToken {
                reason,
                since: None
            };
            n
        ]
    }
}
