//! The ordered request checks of protocols/apns.md §8.2: the first failing row answers.
//!
//! Real APNs's precedence between faults is undocumented; this order is our model (Pushy's, with
//! authentication ahead of anything that reveals token state).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, request};

use super::jwt::{self, DecodedJwt};
use super::log::ConnectionBinding;
use super::reason::ApnsReason;
use super::script::{Shared, State};

/// Largest body APNs accepts, inclusive (§1, Apple's *Generating a remote notification*).
pub const MAX_PAYLOAD: usize = 4096;
/// Largest VoIP body APNs accepts, inclusive.
pub const MAX_VOIP_PAYLOAD: usize = 5120;
/// Longest `apns-collapse-id`, in bytes.
pub const MAX_COLLAPSE_ID: usize = 64;
/// The 11 `apns-push-type` values of §1.
pub const PUSH_TYPES: [&str; 11] = [
    "alert",
    "background",
    "voip",
    "location",
    "complication",
    "fileprovider",
    "liveactivity",
    "pushtotalk",
    "widgets",
    "controls",
    "mdm",
];
/// Topic suffixes of §1's push-type table (appended to the bundle ID).
const TOPIC_SUFFIXES: [&str; 8] = [
    ".voip",
    ".location-query",
    ".complication",
    ".pushkit.fileprovider",
    ".push-type.liveactivity",
    ".voip-ptt",
    ".push-type.widgets",
    ".push-type.controls",
];
const DEVICE_PREFIX: &str = "/3/device/";
/// Distinct provider tokens remembered per connection (each verified once).
const TOKEN_CACHE: usize = 4;

/// Per-connection authentication state: the token cache and what the connection is bound to.
#[derive(Default)]
pub(crate) struct ConnAuth {
    cache: Vec<(Bytes, TokenCheck)>,
    cache_version: u64,
    team: Option<Arc<str>>,
    first_kid: Option<Arc<str>>,
    current: Option<Bytes>,
    current_text: Option<Arc<str>>,
    last_change_ms: Option<i64>,
}

impl ConnAuth {
    /// The binding, once a valid token was seen.
    pub fn binding(&self) -> Option<ConnectionBinding> {
        Some(ConnectionBinding {
            team_id: self.team.clone()?,
            key_id: self.first_kid.clone()?,
            token: self.current_text.clone()?,
        })
    }
}

#[derive(Clone)]
enum TokenCheck {
    /// Rows 7–8 failed.
    Invalid(Option<Arc<DecodedJwt>>),
    Valid {
        kid: Arc<str>,
        team: Arc<str>,
        iat: i64,
        decoded: Arc<DecodedJwt>,
    },
}

/// The result of the checks.
pub(crate) struct Verdict {
    /// `None` = 200.
    pub reason: Option<ApnsReason>,
    /// The 410 `timestamp`.
    pub timestamp_ms: u64,
    pub jwt: Option<Arc<DecodedJwt>>,
}

impl Verdict {
    fn reject(reason: ApnsReason, jwt: Option<Arc<DecodedJwt>>) -> Verdict {
        Verdict {
            reason: Some(reason),
            timestamp_ms: 0,
            jwt,
        }
    }
}

/// The device token in the path, if the path is `/3/device/<something>`.
pub(crate) fn device_token(path: &str) -> Option<&str> {
    path.strip_prefix(DEVICE_PREFIX).filter(|t| !t.is_empty())
}

/// Runs §8.2 rows 1–27 on one request.
pub(crate) fn check(
    parts: &request::Parts,
    body_len: usize,
    auth: &mut ConnAuth,
    state: &State,
    shared: &Shared,
    version: u64,
    now_ms: i64,
) -> Verdict {
    let h = &parts.headers;
    // Rows 1–3.
    if parts.method != Method::POST {
        return Verdict::reject(ApnsReason::MethodNotAllowed, None);
    }
    let path = parts.uri.path();
    let Some(token_part) = path.strip_prefix(DEVICE_PREFIX) else {
        return Verdict::reject(ApnsReason::BadPath, None);
    };
    if token_part.is_empty() {
        return Verdict::reject(ApnsReason::MissingDeviceToken, None);
    }
    // Row 4: HeaderMap counts values in `len` and names in `keys_len`.
    if h.len() != h.keys_len() {
        return Verdict::reject(ApnsReason::DuplicateHeaders, None);
    }
    // Row 5.
    if let Some(id) = h.get("apns-id")
        && !is_uuid(id.as_bytes())
    {
        return Verdict::reject(ApnsReason::BadMessageId, None);
    }
    // Rows 6–13.
    let mut jwt = None;
    let mut key_topics: Option<&[String]> = None;
    if state.opts.require_provider_token {
        match check_token(h, auth, state, version, now_ms) {
            Ok((decoded, kid)) => {
                jwt = Some(decoded);
                key_topics = state.keys.get(&*kid).and_then(|k| k.topics.as_deref());
            }
            Err(v) => return v,
        }
    }
    // Rows 14–15.
    let topic = match h.get("apns-topic").and_then(|v| v.to_str().ok()) {
        Some(t) => t,
        None if !state.opts.require_provider_token && state.opts.topics.len() == 1 => {
            &state.opts.topics[0]
        }
        None => return Verdict::reject(ApnsReason::MissingTopic, jwt),
    };
    let allowed = key_topics.unwrap_or(&state.opts.topics);
    if !allowed.is_empty() && !allowed.iter().any(|base| topic_matches(topic, base)) {
        let reason = if state.opts.require_provider_token {
            ApnsReason::InvalidProviderToken
        } else {
            ApnsReason::BadTopic
        };
        return Verdict::reject(reason, jwt);
    }
    // Rows 16–20.
    let push_type = h.get("apns-push-type").map(HeaderValue::as_bytes);
    if let Some(t) = push_type
        && !PUSH_TYPES.iter().any(|p| p.as_bytes() == t)
    {
        return Verdict::reject(ApnsReason::InvalidPushType, jwt);
    }
    let priority = h.get("apns-priority").map(HeaderValue::as_bytes);
    if let Some(p) = priority
        && !matches!(p, b"10" | b"5" | b"1")
    {
        return Verdict::reject(ApnsReason::BadPriority, jwt);
    }
    if state.opts.strict_background_priority
        && push_type == Some(b"background")
        && priority.unwrap_or(b"10") != b"5"
    {
        return Verdict::reject(ApnsReason::BadPriority, jwt);
    }
    if let Some(e) = h.get("apns-expiration") {
        let ok = std::str::from_utf8(e.as_bytes()).is_ok_and(|s| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u64>().is_ok()
        });
        if !ok {
            return Verdict::reject(ApnsReason::BadExpirationDate, jwt);
        }
    }
    if h.get("apns-collapse-id")
        .is_some_and(|c| c.len() > MAX_COLLAPSE_ID)
    {
        return Verdict::reject(ApnsReason::BadCollapseId, jwt);
    }
    // Rows 21–23.
    if token_part.len() % 2 != 0 || !token_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Verdict::reject(ApnsReason::BadDeviceToken, jwt);
    }
    let entry = if state.tokens.is_empty() {
        None
    } else {
        state.tokens.get(&token_part.to_ascii_lowercase())
    };
    if let Some(env) = entry.and_then(|e| e.environment)
        && env != state.opts.environment
    {
        return Verdict::reject(ApnsReason::BadDeviceToken, jwt);
    }
    let not_for_topic = match entry.and_then(|e| e.topic.as_deref()) {
        Some(registered) => !topic_matches(topic, registered),
        None => state.opts.strict_registry && entry.is_none(),
    };
    if not_for_topic {
        return Verdict::reject(ApnsReason::DeviceTokenNotForTopic, jwt);
    }
    // Rows 24–25.
    if body_len == 0 {
        return Verdict::reject(ApnsReason::PayloadEmpty, jwt);
    }
    let limit = if push_type == Some(b"voip") {
        MAX_VOIP_PAYLOAD
    } else {
        MAX_PAYLOAD
    };
    if body_len > limit {
        return Verdict::reject(ApnsReason::PayloadTooLarge, jwt);
    }
    // Row 26.
    if let Some((reason, timestamp_ms)) = entry.and_then(|e| e.gone) {
        return Verdict {
            reason: Some(reason),
            timestamp_ms,
            jwt,
        };
    }
    // Row 27.
    if let Some((max, per)) = state.token_rate
        && shared.over_token_rate(token_part, max, per, now_ms)
    {
        return Verdict::reject(ApnsReason::TooManyRequests, jwt);
    }
    Verdict {
        reason: None,
        timestamp_ms: 0,
        jwt,
    }
}

/// Rows 6–13. On success: the decoded token and its key id.
fn check_token(
    h: &HeaderMap,
    auth: &mut ConnAuth,
    state: &State,
    version: u64,
    now_ms: i64,
) -> Result<(Arc<DecodedJwt>, Arc<str>), Verdict> {
    // Row 6: `bearer <jwt>`, scheme case-insensitive (a2 sends `Bearer`).
    let missing = || Verdict::reject(ApnsReason::MissingProviderToken, None);
    let value = h.get(http::header::AUTHORIZATION).ok_or_else(missing)?;
    let bytes = value.as_bytes();
    if bytes.len() < 7 || !bytes[..7].eq_ignore_ascii_case(b"bearer ") {
        return Err(missing());
    }
    let raw = &bytes[7..];
    let start = raw.iter().position(|b| *b != b' ').ok_or_else(missing)?;
    let raw = &raw[start..];
    // Rows 7–8, once per distinct token per connection.
    if auth.cache_version != version {
        auth.cache.clear();
        auth.cache_version = version;
    }
    let check = match auth.cache.iter().find(|(t, _)| t.as_ref() == raw) {
        Some((_, c)) => c.clone(),
        None => {
            let c = verify(raw, state);
            if auth.cache.len() == TOKEN_CACHE {
                auth.cache.remove(0);
            }
            auth.cache.push((Bytes::copy_from_slice(raw), c.clone()));
            c
        }
    };
    let (kid, team, iat, decoded) = match check {
        TokenCheck::Invalid(decoded) => {
            return Err(Verdict::reject(ApnsReason::InvalidProviderToken, decoded));
        }
        TokenCheck::Valid {
            kid,
            team,
            iat,
            decoded,
        } => (kid, team, iat, decoded),
    };
    let reject = |reason| Err(Verdict::reject(reason, Some(decoded.clone())));
    // Row 9.
    if now_ms / 1000 - iat > state.opts.max_token_age {
        return reject(ApnsReason::ExpiredProviderToken);
    }
    // Row 10 (model, as Pushy).
    if auth.team.as_ref().is_some_and(|t| *t != team) {
        return reject(ApnsReason::InvalidProviderToken);
    }
    // Row 11.
    if let Some(first) = &auth.first_kid
        && *first != kid
    {
        let related = |a: &str, b: &str| {
            state.keys.get(a).and_then(|k| k.related_key_id.as_deref()) == Some(b)
        };
        if !related(first, &kid) && !related(&kid, first) {
            return reject(ApnsReason::UnrelatedKeyIdInToken);
        }
    }
    // Row 12.
    let key = state.keys.get(&*kid);
    if let Some(env) = key.and_then(|k| k.environment)
        && env != state.opts.environment
    {
        return reject(state.opts.bad_environment_reason);
    }
    // Row 13.
    let changed = auth.current.as_ref().is_some_and(|c| c.as_ref() != raw);
    if changed {
        if let Some(last) = auth.last_change_ms
            && now_ms - last < state.opts.token_update_window * 1000
        {
            return reject(ApnsReason::TooManyProviderTokenUpdates);
        }
        auth.last_change_ms = Some(now_ms);
    }
    if auth.current.is_none() {
        auth.team = Some(team);
        auth.first_kid = Some(kid.clone());
        if state.opts.strict_token_update_clock {
            auth.last_change_ms = Some(now_ms);
        }
    }
    if auth.current.is_none() || changed {
        auth.current = Some(Bytes::copy_from_slice(raw));
        auth.current_text = Some(Arc::from(String::from_utf8_lossy(raw).as_ref()));
    }
    Ok((decoded, kid))
}

/// Rows 7–8 for a token not seen before on this connection.
fn verify(raw: &[u8], state: &State) -> TokenCheck {
    let Some(parsed) = std::str::from_utf8(raw)
        .ok()
        .and_then(|t| jwt::parse(t, state.opts.standard_base64))
    else {
        return TokenCheck::Invalid(None);
    };
    let mut decoded = DecodedJwt {
        header: parsed.header,
        claims: parsed.claims,
        signature: None,
    };
    let Some(key) = state.keys.get(&parsed.kid) else {
        return TokenCheck::Invalid(Some(Arc::new(decoded)));
    };
    if key.team_id != parsed.iss {
        return TokenCheck::Invalid(Some(Arc::new(decoded)));
    }
    decoded.signature = key.verify(&raw[..parsed.input_len], &parsed.signature);
    if decoded.signature.is_none() {
        return TokenCheck::Invalid(Some(Arc::new(decoded)));
    }
    TokenCheck::Valid {
        kid: Arc::from(parsed.kid),
        team: Arc::from(parsed.iss),
        iat: parsed.iat,
        decoded: Arc::new(decoded),
    }
}

/// Whether `topic` is `base` or `base` plus one of §1's push-type suffixes.
fn topic_matches(topic: &str, base: &str) -> bool {
    match topic.strip_prefix(base) {
        Some("") => true,
        Some(suffix) => TOPIC_SUFFIXES.contains(&suffix),
        None => false,
    }
}

/// 8-4-4-4-12 hex digits, either case.
pub(crate) fn is_uuid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}
