//! Provider-token (ES256 JWT) keys, parsing and verification (protocols/apns.md §2.1, §8.2 rows 7–8).
//!
//! The verifier is aws-lc-rs used directly rather than `jsonwebtoken`: it checks both signature
//! encodings real clients send — the JWS form (64-byte r‖s: apns2, our sender) and DER (Pushy, a2
//! with OpenSSL) — and its parsed keys make a verification a single call.

use std::sync::Arc;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
    KeyPair, ParsedPublicKey,
};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::ApnsEnvironment;
use super::error::ApnsError;

/// base64url, padding tolerated (§8.2 row 7).
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// Standard base64 (a2 encodes JWTs so), only with the compatibility switch.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A provider-token signing key the simulator accepts, with its team and scope.
#[derive(Clone)]
pub struct ApnsKey {
    pub(crate) team_id: String,
    pub(crate) key_id: String,
    pub(crate) environment: Option<ApnsEnvironment>,
    pub(crate) topics: Option<Vec<String>>,
    pub(crate) related_key_id: Option<String>,
    verifier: Arc<Verifier>,
}

struct Verifier {
    fixed: ParsedPublicKey,
    der: ParsedPublicKey,
}

impl std::fmt::Debug for ApnsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsKey")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("environment", &self.environment)
            .field("topics", &self.topics)
            .field("related_key_id", &self.related_key_id)
            .finish_non_exhaustive()
    }
}

impl ApnsKey {
    /// A key of `team_id` with id `key_id`, from a PEM that is either the P-256 public key
    /// (`BEGIN PUBLIC KEY`, SubjectPublicKeyInfo) or the PKCS#8 private key Apple issues as
    /// `AuthKey_<KeyID>.p8` (`BEGIN PRIVATE KEY`; only its public half is kept). The key is valid
    /// for both environments and every topic until narrowed.
    pub fn from_pem(
        team_id: impl Into<String>,
        key_id: impl Into<String>,
        pem: &str,
    ) -> Result<ApnsKey, ApnsError> {
        let key_id = key_id.into();
        let bad = |why: &str| ApnsError::InvalidKey {
            key_id: key_id.clone(),
            reason: why.into(),
        };
        let (label, der) = pem_decode(pem).ok_or_else(|| bad("not a PEM document"))?;
        let public: Vec<u8> = match label.as_str() {
            "PUBLIC KEY" => der,
            "PRIVATE KEY" => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                .map_err(|e| bad(&format!("not a P-256 PKCS#8 key: {e}")))?
                .public_key()
                .as_ref()
                .to_vec(),
            other => return Err(bad(&format!("unsupported PEM label {other:?}"))),
        };
        let fixed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .map_err(|e| bad(&format!("not a P-256 public key: {e}")))?;
        let der = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public)
            .map_err(|e| bad(&format!("not a P-256 public key: {e}")))?;
        Ok(ApnsKey {
            team_id: team_id.into(),
            key_id,
            environment: None,
            topics: None,
            related_key_id: None,
            verifier: Arc::new(Verifier { fixed, der }),
        })
    }

    /// Restricts the key to one environment (a "Sandbox-only" or "Production-only" key); a token
    /// signed by it on a simulator of the other environment gets `BadEnvironmentKeyInToken`.
    #[must_use]
    pub fn only_for(mut self, environment: ApnsEnvironment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// Makes this a topic-specific key: only these topics (bundle IDs, with or without a push-type
    /// suffix) may be pushed with it; others get `403 InvalidProviderToken` (§8.2 row 15, model).
    #[must_use]
    pub fn topics<S: Into<String>>(mut self, topics: impl IntoIterator<Item = S>) -> Self {
        self.topics = Some(topics.into_iter().map(Into::into).collect());
        self
    }

    /// Declares `key_id` this key's related key: tokens of either may share a connection.
    #[must_use]
    pub fn related_to(mut self, key_id: impl Into<String>) -> Self {
        self.related_key_id = Some(key_id.into());
        self
    }

    /// The team (the `iss` a token of this key must carry).
    pub fn team_id(&self) -> &str {
        &self.team_id
    }

    /// The key id (the `kid` of the token header).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Verifies `signature` over `input`: 64 bytes are read as r‖s first, anything else as DER.
    pub(crate) fn verify(&self, input: &[u8], signature: &[u8]) -> Option<SignatureEncoding> {
        if signature.len() == 64 && self.verifier.fixed.verify_sig(input, signature).is_ok() {
            return Some(SignatureEncoding::Raw);
        }
        self.verifier
            .der
            .verify_sig(input, signature)
            .is_ok()
            .then_some(SignatureEncoding::Der)
    }
}

/// How an ES256 signature was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// 64 bytes, r‖s: the JWS form (RFC 7518 §3.4).
    Raw,
    /// ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }`, what Java's and OpenSSL's ECDSA produce.
    Der,
}

/// A provider token as decoded by the simulator (recorded with each request).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedJwt {
    /// The JOSE header, e.g. `{"alg":"ES256","kid":"K7Q2M9X4PL"}`.
    pub header: serde_json::Value,
    /// The claims, e.g. `{"iss":"T3AM1D9ZQ8","iat":1767222000}`.
    pub claims: serde_json::Value,
    /// The signature encoding, when the signature verified.
    pub signature: Option<SignatureEncoding>,
}

/// A token that is well-formed (§8.2 row 7 passed).
#[derive(Debug)]
pub(crate) struct ParsedJwt {
    pub header: serde_json::Value,
    pub claims: serde_json::Value,
    pub kid: String,
    pub iss: String,
    pub iat: i64,
    /// `header.claims` as sent: the signing input.
    pub input_len: usize,
    pub signature: Vec<u8>,
}

fn b64(part: &str, standard_too: bool) -> Option<Vec<u8>> {
    URL_SAFE_LENIENT.decode(part).ok().or_else(|| {
        standard_too
            .then(|| STANDARD_LENIENT.decode(part).ok())
            .flatten()
    })
}

/// Parses a compact JWS; `None` when §8.2 row 7 fails.
pub(crate) fn parse(token: &str, standard_base64: bool) -> Option<ParsedJwt> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&b64(h, standard_base64)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&b64(c, standard_base64)?).ok()?;
    if header.get("alg")?.as_str()? != "ES256" {
        return None;
    }
    let kid = header.get("kid")?.as_str()?.to_owned();
    let iss = claims.get("iss")?.as_str()?.to_owned();
    let iat = numeric_date(claims.get("iat")?)?;
    let signature = b64(s, standard_base64)?;
    Some(ParsedJwt {
        header,
        claims,
        kid,
        iss,
        iat,
        input_len: h.len() + 1 + c.len(),
        signature,
    })
}

/// An RFC 7519 NumericDate in whole seconds: any JSON number, fractions allowed (PyAPNs2 sends
/// `time.time()`), rounded down so the age checks see a fractional token as old as its second.
/// `None` for strings, booleans and numbers outside `i64` (serde_json has no NaN or infinity).
fn numeric_date(value: &serde_json::Value) -> Option<i64> {
    let number = value.as_number()?;
    if let Some(whole) = number.as_i64() {
        return Some(whole);
    }
    let seconds = number.as_f64()?.floor();
    // `i64::MAX as f64` rounds up to 2^63, itself out of range: compare strictly below it.
    (seconds.is_finite() && seconds >= i64::MIN as f64 && seconds < i64::MAX as f64)
        .then_some(seconds as i64)
}

/// Splits a PEM document into its label and DER bytes.
pub(crate) fn pem_decode(pem: &str) -> Option<(String, Vec<u8>)> {
    let begin = pem.find("-----BEGIN ")?;
    let rest = &pem[begin + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body_start = &rest[label_end + 5..];
    let end = body_start.find("-----END ")?;
    let body: String = body_start[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label, der))
}

/// Wraps DER bytes in a PEM document with 64-column lines.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
