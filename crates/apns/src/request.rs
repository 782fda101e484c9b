//! The HTTP/2 request for one device token (protocols/apns.md §1). Pure: the caller passes the
//! clock reading, and the transport adds `authorization`.
//!
//! | header | value |
//! |---|---|
//! | `:method` / `:path` | `POST` / `/3/device/<token in lower-case hex>` |
//! | `apns-topic` | the configured topic (bundle id) |
//! | `apns-push-type` | `alert` (an IM message is a user-visible alert) |
//! | `apns-priority` | `10` (deliver now) |
//! | `apns-expiration` | TTL set: now + TTL in UNIX seconds; TTL zero: `0` (one attempt, not stored); no TTL: absent (APNs's default storage) |
//! | `apns-collapse-id` | per [`CollapseId`], when it yields one; at most 64 bytes of visible ASCII, else [`BuildError`] |
//! | `apns-id` | a UUID derived from the message id and the token (see [`apns_id`]) |

use std::time::SystemTime;

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use pushway_core::{Notification, Outcome, PayloadTooLarge, Reason};
use uuid::Uuid;

use crate::hpack;
use crate::payload::build_payload;

/// The longest `apns-collapse-id`, in bytes (longer gets `400 BadCollapseId`).
pub const MAX_COLLAPSE_ID: usize = 64;

/// The seeds of [`apns_id`]'s hash (fixed random numbers, pushway's own).
const APNS_ID_SEEDS: (u64, u64) = (0x6c1f_0b7e_2f4d_4c39, 0x9a57_0e6d_4b1a_93c2);

pub(crate) static APNS_TOPIC: HeaderName = HeaderName::from_static("apns-topic");
pub(crate) static APNS_PUSH_TYPE: HeaderName = HeaderName::from_static("apns-push-type");
pub(crate) static APNS_PRIORITY: HeaderName = HeaderName::from_static("apns-priority");
pub(crate) static APNS_EXPIRATION: HeaderName = HeaderName::from_static("apns-expiration");
pub(crate) static APNS_COLLAPSE_ID: HeaderName = HeaderName::from_static("apns-collapse-id");
pub(crate) static APNS_ID: HeaderName = HeaderName::from_static("apns-id");
static ALERT: HeaderValue = HeaderValue::from_static("alert");
static PRIORITY_NOW: HeaderValue = HeaderValue::from_static("10");

/// Where `apns-collapse-id` comes from. [`Notification`] has no collapse id of its own, so the
/// provider derives one, or sends none (the default).
///
/// APNs shows only the latest of the notifications that share a collapse id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CollapseId {
    /// No `apns-collapse-id`: every message is its own notification (the default).
    #[default]
    None,
    /// The message id: a resend of the same message (after a lost connection, where APNs may or
    /// may not have taken the first copy) replaces the first copy instead of showing twice.
    MessageId,
    /// The conversation id: only a conversation's latest message stays on screen.
    ConversationId,
}

/// A request that cannot be built; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The payload exceeds 4096 bytes even with the body shortened (a huge ext).
    #[error(transparent)]
    PayloadTooLarge(#[from] PayloadTooLarge),
    /// The derived `apns-collapse-id` is longer than 64 bytes or not visible ASCII.
    #[error("apns-collapse-id of {len} bytes is over 64 bytes or not visible ASCII")]
    InvalidCollapseId {
        /// Its length in bytes.
        len: usize,
    },
    /// The device token is not hex of even length (after removing spaces and `<>`).
    #[error("the device token is not hex")]
    MalformedDeviceToken,
}

impl BuildError {
    /// The outcome of a send that failed to build: `Rejected`, or `InvalidToken` for a token
    /// that can never work.
    pub fn outcome(&self) -> Outcome {
        match self {
            BuildError::PayloadTooLarge(e) => {
                Outcome::rejected(Reason::new(Reason::PAYLOAD_TOO_LARGE).with_detail(e.to_string()))
            }
            BuildError::InvalidCollapseId { .. } => {
                Outcome::rejected(Reason::new("collapse_id_invalid").with_detail(self.to_string()))
            }
            BuildError::MalformedDeviceToken => Outcome::InvalidToken {
                reason: Reason::new("malformed_device_token"),
                since: None,
            },
        }
    }
}

/// What every request of one provider shares.
#[derive(Debug, Clone)]
pub struct RequestTarget {
    /// `https`, or `http` for h2c.
    pub scheme: Scheme,
    /// `host[:port]`, sent as `:authority`.
    pub authority: Authority,
    /// The `apns-topic` value.
    pub topic: HeaderValue,
    /// Where `apns-collapse-id` comes from.
    pub collapse_id: CollapseId,
}

/// One request, ready for the transport (which adds `authorization`). Cloneable, so the one
/// allowed resend (after `ExpiredProviderToken`) sends the same bytes.
#[derive(Debug, Clone)]
pub struct ApnsRequest {
    /// The absolute URI (`:scheme`, `:authority`, `:path`).
    pub uri: Uri,
    /// Every `apns-*` header.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Bytes,
    /// Whether the body text was shortened to fit.
    pub shortened: bool,
}

impl ApnsRequest {
    /// The `http::Request` to send (no body: the transport streams [`ApnsRequest::body`]).
    pub fn to_http(&self) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }

    /// Like [`to_http`](Self::to_http), consuming the request (no copy of the headers).
    pub fn into_http(self) -> (Request<()>, Bytes) {
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri;
        *request.headers_mut() = self.headers;
        (request, self.body)
    }

    /// The `apns-id` sent.
    pub fn apns_id(&self) -> Option<&str> {
        self.headers.get(&APNS_ID).and_then(|v| v.to_str().ok())
    }
}

/// Builds the request that sends `notification` to `device_token`, at time `now`.
pub fn build_request(
    notification: &Notification,
    device_token: &str,
    target: &RequestTarget,
    now: SystemTime,
) -> Result<ApnsRequest, BuildError> {
    let parts = build_parts(notification, device_token, target, now)?;
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(target.scheme.clone());
    uri.authority = Some(target.authority.clone());
    uri.path_and_query = Some(
        PathAndQuery::from_maybe_shared(Bytes::from(parts.path))
            .map_err(|_| BuildError::MalformedDeviceToken)?,
    );
    let uri = Uri::from_parts(uri).map_err(|_| BuildError::MalformedDeviceToken)?;

    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(APNS_TOPIC.clone(), target.topic.clone());
    headers.insert(APNS_PUSH_TYPE.clone(), ALERT.clone());
    headers.insert(APNS_PRIORITY.clone(), PRIORITY_NOW.clone());
    if let Some(expiration) = parts.expiration {
        headers.insert(APNS_EXPIRATION.clone(), HeaderValue::from(expiration));
    }
    if let Some(collapse) = parts.collapse {
        headers.insert(APNS_COLLAPSE_ID.clone(), collapse);
    }
    let id =
        HeaderValue::from_bytes(&parts.apns_id).map_err(|_| BuildError::MalformedDeviceToken)?;
    headers.insert(APNS_ID.clone(), id);
    Ok(ApnsRequest {
        uri,
        headers,
        body: Bytes::from(parts.body),
        shortened: parts.shortened,
    })
}

/// What differs from one request to the next, before any HTTP representation: the transport
/// encodes it straight into an HPACK block ([`RequestParts::encode_head`]) and
/// [`build_request`] into an [`ApnsRequest`], so both send the same thing.
#[derive(Debug)]
pub(crate) struct RequestParts {
    /// `/3/device/<token>`.
    pub path: String,
    /// `apns-expiration`, if any.
    pub expiration: Option<u64>,
    /// `apns-collapse-id`, if any.
    pub collapse: Option<HeaderValue>,
    /// `apns-id`, hyphenated lower-case.
    pub apns_id: [u8; uuid::fmt::Hyphenated::LENGTH],
    /// The JSON payload.
    pub body: Vec<u8>,
    /// Whether the body text was shortened to fit.
    pub shortened: bool,
}

pub(crate) fn build_parts(
    notification: &Notification,
    device_token: &str,
    target: &RequestTarget,
    now: SystemTime,
) -> Result<RequestParts, BuildError> {
    // `/3/device/<token>`, the token normalized straight into the path.
    let mut path = String::with_capacity(10 + device_token.len());
    path.push_str("/3/device/");
    normalize_token(device_token, &mut path)?;
    let token = &path[10..];
    let collapse = match target.collapse_id {
        CollapseId::None => None,
        CollapseId::MessageId => Some(notification.message_id.as_str()),
        CollapseId::ConversationId => Some(notification.app_data.conversation_id.as_str()),
    };
    let collapse = collapse.map(collapse_header).transpose()?;
    let payload = build_payload(notification)?;
    let mut apns_id_text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    apns_id(&notification.message_id, token)
        .hyphenated()
        .encode_lower(&mut apns_id_text);
    let expiration = notification.ttl.map(|ttl| {
        if ttl.is_zero() {
            0
        } else {
            let now = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            now.saturating_add(ttl.as_secs())
        }
    });
    Ok(RequestParts {
        path,
        expiration,
        collapse,
        apns_id: apns_id_text,
        body: payload.json,
        shortened: payload.shortened,
    })
}

/// The HPACK encoding of what every request of one provider shares, made once (see
/// [`crate::hpack`]): `:method`, `:scheme`, `:authority`, and `apns-topic`, `apns-push-type`,
/// `apns-priority`.
#[derive(Debug)]
pub(crate) struct FixedHead {
    pseudo: Vec<u8>,
    regular: Vec<u8>,
}

impl FixedHead {
    pub fn new(target: &RequestTarget) -> FixedHead {
        let mut pseudo = Vec::with_capacity(8 + target.authority.as_str().len());
        hpack::indexed(&mut pseudo, hpack::METHOD_POST);
        let scheme = if target.scheme == Scheme::HTTP {
            hpack::SCHEME_HTTP
        } else {
            hpack::SCHEME_HTTPS
        };
        hpack::indexed(&mut pseudo, scheme);
        hpack::literal(
            &mut pseudo,
            hpack::AUTHORITY,
            target.authority.as_str().as_bytes(),
        );
        let mut regular = Vec::with_capacity(64 + target.topic.len());
        hpack::literal_named(
            &mut regular,
            APNS_TOPIC.as_str().as_bytes(),
            target.topic.as_bytes(),
        );
        hpack::literal_named(
            &mut regular,
            APNS_PUSH_TYPE.as_str().as_bytes(),
            ALERT.as_bytes(),
        );
        hpack::literal_named(
            &mut regular,
            APNS_PRIORITY.as_str().as_bytes(),
            PRIORITY_NOW.as_bytes(),
        );
        FixedHead { pseudo, regular }
    }
}

impl RequestParts {
    /// Appends the request's complete HPACK header block to `out`: the fixed fields, the path,
    /// the per-request `apns-*` fields and `authorization` (`token_block`, encoded once per
    /// provider token).
    pub fn encode_head(&self, fixed: &FixedHead, token_block: &[u8], out: &mut Vec<u8>) {
        out.reserve(
            fixed.pseudo.len() + fixed.regular.len() + token_block.len() + self.path.len() + 120,
        );
        out.extend_from_slice(&fixed.pseudo);
        hpack::literal(out, hpack::PATH, self.path.as_bytes());
        out.extend_from_slice(&fixed.regular);
        if let Some(expiration) = self.expiration {
            let digits = crate::payload::Decimal::new(expiration);
            hpack::literal_named(out, APNS_EXPIRATION.as_str().as_bytes(), digits.as_bytes());
        }
        if let Some(collapse) = &self.collapse {
            hpack::literal_named(
                out,
                APNS_COLLAPSE_ID.as_str().as_bytes(),
                collapse.as_bytes(),
            );
        }
        hpack::literal_named(out, APNS_ID.as_str().as_bytes(), &self.apns_id);
        out.extend_from_slice(token_block);
    }
}

/// The `apns-id` of a message to a token: a version-8 (custom) UUID whose bits are a 128-bit
/// hash of the message id and the lower-case token.
///
/// APNs needs a canonical UUID here and a pushway message id may be anything, so it is derived
/// rather than copied. Deriving it (rather than drawing a random one) means a resend of the same
/// message to the same device carries the same `apns-id`, so both attempts are found together in
/// logs and in Apple's delivery log; two devices of one message get different ids. The hash is
/// a fixed, non-cryptographic one (a version-5 SHA-1 UUID cost about a twentieth of a send's
/// CPU); APNs only needs the 8-4-4-4-12 form, and a rare collision would only share a log id.
pub fn apns_id(message_id: &str, token: &str) -> Uuid {
    let (mut a, mut b) = APNS_ID_SEEDS;
    for part in [message_id.as_bytes(), token.as_bytes()] {
        for chunk in part.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            let v = u64::from_le_bytes(word);
            a = mix(a ^ v);
            b = mix(b.rotate_left(23) ^ v ^ 0x5851_f42d_4c95_7f2d);
        }
        // The length ends each part, so ("ab", "c") and ("a", "bc") differ.
        a = mix(a ^ part.len() as u64);
        b = mix(b ^ !(part.len() as u64));
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// SplitMix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lower-case hex with spaces and `<>` removed (tokens are sometimes stored as printed by
/// `NSData`'s description); anything else is refused, which also keeps the path unambiguous.
/// Apple says not to assume a length, so none is checked.
fn normalize_token(token: &str, out: &mut String) -> Result<(), BuildError> {
    let bytes = token.as_bytes();
    // The usual case, already lower-case hex: one check, one copy.
    if !bytes.is_empty()
        && bytes.len().is_multiple_of(2)
        && bytes.iter().fold(true, |ok, b| {
            ok & (b.is_ascii_digit() | (b'a'..=b'f').contains(b))
        })
    {
        out.push_str(token);
        return Ok(());
    }
    let start = out.len();
    for c in token.chars() {
        match c {
            ' ' | '<' | '>' => {}
            c if c.is_ascii_hexdigit() => out.push(c.to_ascii_lowercase()),
            _ => return Err(BuildError::MalformedDeviceToken),
        }
    }
    let len = out.len() - start;
    if len == 0 || !len.is_multiple_of(2) {
        return Err(BuildError::MalformedDeviceToken);
    }
    Ok(())
}

/// A collapse id: at most 64 bytes, visible ASCII only (the `http` crate would accept other
/// bytes, but what APNs does with them is undocumented).
fn collapse_header(value: &str) -> Result<HeaderValue, BuildError> {
    let invalid = || BuildError::InvalidCollapseId { len: value.len() };
    if value.is_empty()
        || value.len() > MAX_COLLAPSE_ID
        || !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(invalid());
    }
    HeaderValue::from_str(value).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::payload::tests_support::notification;

    const TOKEN: &str = "4A1F8C3E9B0D27E65C4F18A2D3B7E90C5F6A1B2C3D4E5F60718293A4B5C6D7E8";

    fn target(collapse_id: CollapseId) -> RequestTarget {
        RequestTarget {
            scheme: Scheme::HTTPS,
            authority: Authority::from_static("api.push.apple.com"),
            topic: HeaderValue::from_static("com.example.chat"),
            collapse_id,
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn path_and_headers() {
        let mut n = notification();
        n.ttl = Some(Duration::from_secs(3600));
        let r = build_request(&n, TOKEN, &target(CollapseId::None), at(1_767_222_000)).unwrap();
        assert_eq!(
            r.uri.to_string(),
            format!(
                "https://api.push.apple.com/3/device/{}",
                TOKEN.to_lowercase()
            )
        );
        let h = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(h("apns-topic").as_deref(), Some("com.example.chat"));
        assert_eq!(h("apns-push-type").as_deref(), Some("alert"));
        assert_eq!(h("apns-priority").as_deref(), Some("10"));
        assert_eq!(h("apns-expiration").as_deref(), Some("1767225600"));
        assert_eq!(h("apns-collapse-id"), None);
        let id = h("apns-id").unwrap();
        assert_eq!(id, apns_id("m-1", &TOKEN.to_lowercase()).to_string());
        assert_eq!(id, id.to_lowercase());
        assert_eq!(r.headers.len(), 5);
        assert_eq!(r.to_http().method(), Method::POST);
    }

    #[test]
    fn expiration_zero_and_absent() {
        let mut n = notification();
        let r = build_request(&n, TOKEN, &target(CollapseId::None), at(5)).unwrap();
        assert!(r.headers.get("apns-expiration").is_none());
        n.ttl = Some(Duration::ZERO);
        let r = build_request(&n, TOKEN, &target(CollapseId::None), at(5)).unwrap();
        assert_eq!(r.headers["apns-expiration"], "0");
    }

    #[test]
    fn apns_id_differs_per_token_and_is_stable() {
        assert_eq!(apns_id("m", "aa"), apns_id("m", "aa"));
        assert_ne!(apns_id("m", "aa"), apns_id("m", "bb"));
        assert_ne!(apns_id("m", "aa"), apns_id("n", "aa"));
        assert_ne!(apns_id("ab", "c"), apns_id("a", "bc"));
        assert_eq!(apns_id("m", "aa").get_version_num(), 8);
        let ids: std::collections::HashSet<Uuid> = (0..10_000)
            .map(|i| apns_id("m", &format!("{i:064x}")))
            .collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn collapse_id_sources() {
        let n = notification();
        let r = build_request(&n, TOKEN, &target(CollapseId::MessageId), at(0)).unwrap();
        assert_eq!(r.headers["apns-collapse-id"], "m-1");
        let r = build_request(&n, TOKEN, &target(CollapseId::ConversationId), at(0)).unwrap();
        assert_eq!(r.headers["apns-collapse-id"], "u-17");
    }

    #[test]
    fn collapse_id_over_64_bytes_is_a_typed_error() {
        let mut n = notification();
        n.message_id = "x".repeat(64);
        assert!(build_request(&n, TOKEN, &target(CollapseId::MessageId), at(0)).is_ok());
        n.message_id = "x".repeat(65);
        let err = build_request(&n, TOKEN, &target(CollapseId::MessageId), at(0)).unwrap_err();
        assert_eq!(err, BuildError::InvalidCollapseId { len: 65 });
        assert_eq!(err.outcome().as_str(), "rejected");
        n.message_id = "消息".into();
        let err = build_request(&n, TOKEN, &target(CollapseId::MessageId), at(0)).unwrap_err();
        assert_eq!(err, BuildError::InvalidCollapseId { len: 6 });
    }

    #[test]
    fn tokens_are_normalized_or_refused() {
        let n = notification();
        let t = target(CollapseId::None);
        let r = build_request(&n, "<4A1F 8C3E>", &t, at(0)).unwrap();
        assert_eq!(r.uri.path(), "/3/device/4a1f8c3e");
        for bad in ["", "abc", "zz", "4a1f/../x", "4a1f?x=1", "ab\r\n"] {
            let err = build_request(&n, bad, &t, at(0)).unwrap_err();
            assert_eq!(err, BuildError::MalformedDeviceToken, "{bad:?}");
            assert_eq!(err.outcome().as_str(), "invalid_token");
        }
    }

    #[test]
    fn oversize_payload_is_a_typed_error() {
        let mut n = notification();
        n.app_data.ext = Some(pushway_core::Ext::from("x".repeat(5000).as_str()));
        let err = build_request(&n, TOKEN, &target(CollapseId::None), at(0)).unwrap_err();
        assert!(matches!(err, BuildError::PayloadTooLarge(_)));
        assert_eq!(
            err.outcome().reason().unwrap().code(),
            Reason::PAYLOAD_TOO_LARGE
        );
    }
}
