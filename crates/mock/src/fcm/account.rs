//! Service accounts: the public half the simulator trusts ([`ServiceAccountKey`]) and the check
//! of a JWT-bearer assertion at the token endpoint (protocols/fcm.md §2, §8 rows T2–T6).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

use super::StartError;
use super::test_account::TestServiceAccount;

/// The scope that grants FCM sends.
pub const SCOPE_FIREBASE_MESSAGING: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The broad Cloud scope, also accepted for FCM (\[F1\]).
pub const SCOPE_CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token URL: the `aud` google-auth sends whatever the key file says.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The token URL of old key files, still accepted as `aud`.
pub const LEGACY_TOKEN_URL: &str = "https://accounts.google.com/o/oauth2/token";
/// Longest assertion validity (`exp − iat`) accepted, in seconds (§2).
pub const MAX_ASSERTION_SECS: i64 = 3600;
/// Clock skew tolerated on `iat` (an `iat` this far in the future still passes) [model].
const IAT_SKEW_SECS: i64 = 60;

/// A service account the simulator trusts: the public half of a key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    /// `client_email` of the key file: the assertion's `iss`.
    pub client_email: String,
    /// `project_id` of the key file: send URLs must name it (or `project_number`).
    pub project_id: String,
    /// The project number, also accepted in send URLs (§1), if known.
    pub project_number: Option<String>,
    /// The RSA public key, PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    pub public_key_pem: String,
}

impl ServiceAccountKey {
    /// The public half of the committed test key ([`TestServiceAccount`]).
    pub fn test() -> ServiceAccountKey {
        TestServiceAccount::new().key()
    }

    /// The public half of a key file (Google's JSON format): `client_email`, `project_id`, and
    /// the public key derived from `private_key` (RSA PKCS#8 PEM).
    pub fn from_key_file(json: &str) -> Result<ServiceAccountKey, String> {
        let file: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        let field = |name: &str| {
            file[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no string field {name:?}"))
        };
        let private = field("private_key")?;
        let (label, der) =
            pem_decode(&private).ok_or_else(|| "private_key is not PEM".to_owned())?;
        if label != "PRIVATE KEY" {
            return Err(format!("private_key: expected PRIVATE KEY, got {label}"));
        }
        let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("private_key: not an RSA PKCS#8 key: {e}"))?;
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair);
        Ok(ServiceAccountKey {
            client_email: field("client_email")?,
            project_id: field("project_id")?,
            project_number: None,
            // PKCS#1 RSAPublicKey DER, as aws-lc-rs gives it.
            public_key_pem: pem_encode("RSA PUBLIC KEY", public.as_ref()),
        })
    }
}

/// The label and DER of the first PEM block.
fn pem_decode(pem: &str) -> Option<(String, Vec<u8>)> {
    let rest = &pem[pem.find("-----BEGIN ")? + 11..];
    let label_end = rest.find("-----")?;
    let body = &rest[label_end + 5..];
    let body: String = body[..body.find("-----END ")?]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((rest[..label_end].to_owned(), der))
}

/// DER in a PEM block with 64-column lines.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A JWT-bearer assertion as a token request carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAssertion {
    /// The JOSE header (`alg`, `typ`, `kid`), `Null` if it does not decode.
    pub header: Value,
    /// The claims (`iss`, `scope`, `aud`, `iat`, `exp`, …), `Null` if they do not decode.
    pub claims: Value,
    /// Whether the parts were base64url with `=` padding.
    pub padded: bool,
}

pub(crate) fn decode_assertion(jwt: &str) -> DecodedAssertion {
    let mut parts = jwt.split('.');
    let mut part = || {
        parts
            .next()
            .and_then(|p| LENIENT.decode(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null)
    };
    DecodedAssertion {
        header: part(),
        claims: part(),
        padded: jwt.contains('='),
    }
}

/// Why an assertion was refused; each has its own `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssertionError {
    /// Not three parts, bad base64/JSON, not RS256, unknown `iss`, or a bad signature (T2, T3).
    Signature,
    /// `aud` is not a token URL this server answers for (T4).
    Audience,
    /// `iat`/`exp` missing or out of range (T5).
    Timeframe,
}

/// A verified assertion.
#[derive(Debug, Clone)]
pub(crate) struct Granted {
    /// Index of the trusted account that signed it.
    pub account: usize,
    /// Whether `scope` covers FCM (T6; a token without it is issued but refused at send).
    pub fcm_scope: bool,
}

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<String>,
    scope: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
}

/// Verifies assertions against the trusted accounts.
pub(crate) struct Verifier {
    accounts: Vec<(ServiceAccountKey, DecodingKey)>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("accounts", &self.accounts.len())
            .finish()
    }
}

/// base64url that accepts padded and unpadded input (§8 T2: "padding tolerated").
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Verifier {
    pub fn new(accounts: Vec<ServiceAccountKey>) -> Result<Verifier, StartError> {
        let accounts = accounts
            .into_iter()
            .map(|account| {
                let key =
                    DecodingKey::from_rsa_pem(account.public_key_pem.as_bytes()).map_err(|e| {
                        StartError::InvalidKey(format!("{}: {e}", account.client_email))
                    })?;
                Ok((account, key))
            })
            .collect::<Result<_, StartError>>()?;
        Ok(Verifier { accounts })
    }

    pub fn account(&self, index: usize) -> Option<&ServiceAccountKey> {
        self.accounts.get(index).map(|(a, _)| a)
    }

    /// Checks T2–T6; `own_url` is this server's token URL (an accepted `aud`).
    pub fn check(
        &self,
        assertion: &str,
        own_url: &str,
        now: i64,
    ) -> Result<Granted, AssertionError> {
        let mut parts = assertion.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AssertionError::Signature);
        };
        let decode = |part: &str| LENIENT.decode(part).map_err(|_| AssertionError::Signature);
        let header: JwtHeader =
            serde_json::from_slice(&decode(header)?).map_err(|_| AssertionError::Signature)?;
        if header.alg != "RS256" {
            return Err(AssertionError::Signature);
        }
        let claims: Claims =
            serde_json::from_slice(&decode(claims)?).map_err(|_| AssertionError::Signature)?;
        let iss = claims.iss.as_deref().ok_or(AssertionError::Signature)?;
        let index = self
            .accounts
            .iter()
            .position(|(a, _)| a.client_email == iss)
            .ok_or(AssertionError::Signature)?;
        // The signature covers the first two parts as sent (padded or not); jsonwebtoken wants
        // the signature itself unpadded.
        let signing_input = &assertion[..assertion.len() - signature.len() - 1];
        let signature = URL_SAFE_NO_PAD.encode(decode(signature)?);
        let key = &self.accounts[index].1;
        let verified = jsonwebtoken::crypto::verify(
            &signature,
            signing_input.as_bytes(),
            key,
            Algorithm::RS256,
        )
        .unwrap_or(false);
        if !verified {
            return Err(AssertionError::Signature);
        }
        let aud = claims.aud.as_deref().unwrap_or_default();
        if ![own_url, GOOGLE_TOKEN_URL, LEGACY_TOKEN_URL].contains(&aud) {
            return Err(AssertionError::Audience);
        }
        let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
            return Err(AssertionError::Timeframe);
        };
        if iat > now + IAT_SKEW_SECS || exp <= now || exp - iat > MAX_ASSERTION_SECS {
            return Err(AssertionError::Timeframe);
        }
        let fcm_scope = claims.scope.as_deref().is_some_and(|scope| {
            scope
                .split(' ')
                .any(|s| s == SCOPE_FIREBASE_MESSAGING || s == SCOPE_CLOUD_PLATFORM)
        });
        Ok(Granted {
            account: index,
            fcm_scope,
        })
    }
}
