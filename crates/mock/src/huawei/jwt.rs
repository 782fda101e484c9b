//! Verification of service-account JWTs (protocols/huawei.md §1b, F13).
//!
//! The JWT goes straight into `Authorization: Bearer <jwt>` of the push request: header
//! `{"kid":<key_id>,"typ":"JWT","alg":"PS256"}`, claims `iss` = `sub_account`, `aud` = the
//! token URI, `iat`, `exp`; RSASSA-PSS SHA-256. The simulator checks all of that against the
//! configured public key, with no clock leeway.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::StartError;

/// The fixed `aud` of a service-account JWT.
pub const JWT_AUDIENCE: &str = "https://oauth-login.cloud.huawei.com/oauth2/v3/token";

/// Longest validity (`exp − iat`) accepted, in seconds (the v3 rule, 80300036; F13's mock check).
const MAX_VALIDITY_SECS: u64 = 86_400;

/// The public half of a service-account key file, which the simulator trusts.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// `project_id` of the key file; v2 URLs must name it.
    pub project_id: String,
    /// `key_id` of the key file; the JWT's `kid`.
    pub key_id: String,
    /// `sub_account` of the key file; the JWT's `iss`.
    pub sub_account: String,
    /// The RSA public key as PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    pub public_key_pem: String,
}

/// The outcome of checking a bearer JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtCheck {
    Valid,
    /// Signed correctly but past `exp` (80200005).
    Expired,
    /// Anything else (80200001).
    Invalid,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
}

/// A verifier for one service account.
pub(crate) struct Verifier {
    account: ServiceAccount,
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("key_id", &self.account.key_id)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(account: ServiceAccount) -> Result<Self, StartError> {
        let key = DecodingKey::from_rsa_pem(account.public_key_pem.as_bytes())
            .map_err(|e| StartError::InvalidKey(format!("service account public key: {e}")))?;
        let mut validation = Validation::new(Algorithm::PS256);
        validation.leeway = 0;
        validation.set_audience(&[JWT_AUDIENCE]);
        validation.set_issuer(&[account.sub_account.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        Ok(Verifier {
            account,
            key,
            validation,
        })
    }

    /// The project the key belongs to.
    pub fn project_id(&self) -> &str {
        &self.account.project_id
    }

    pub fn check(&self, token: &str) -> JwtCheck {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return JwtCheck::Invalid;
        };
        if header.alg != Algorithm::PS256 || header.kid.as_deref() != Some(&self.account.key_id) {
            return JwtCheck::Invalid;
        }
        match jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) if data.claims.exp.saturating_sub(data.claims.iat) <= MAX_VALIDITY_SECS => {
                JwtCheck::Valid
            }
            Ok(_) => JwtCheck::Invalid,
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => JwtCheck::Expired,
            Err(_) => JwtCheck::Invalid,
        }
    }
}

/// Whether a bearer credential looks like a JWT (three dot-separated parts) rather than an
/// OAuth access token (which has no dots).
pub(crate) fn looks_like_jwt(bearer: &str) -> bool {
    bearer.bytes().filter(|&b| b == b'.').count() == 2
}
