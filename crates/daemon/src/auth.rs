//! Device authentication: the JWT the server issues to a device and checks on `hello`.
//!
//! Tokens are **HS256** JWTs: the server both issues and verifies them, so one shared secret
//! (at least [`MIN_SECRET_BYTES`] bytes, kept server-side) is enough and verification costs a
//! single HMAC per connection. Claims: `sub` = the user id, `dev` = the device id, `aud` =
//! [`AUDIENCE`], `iat` and `exp` (seconds since the Unix epoch). All are required.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::protocol::CloseReason;

/// The `aud` claim of every device token, so a JWT minted for another purpose with the same
/// secret is not accepted as a device token.
pub const AUDIENCE: &str = "pushway-daemon";

/// The shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash output size).
pub const MIN_SECRET_BYTES: usize = 32;

/// The default clock-skew allowance when checking `exp`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The claims of a device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaims {
    /// The user id.
    pub sub: String,
    /// The device id: the only device whose pushes the connection receives.
    pub dev: String,
    /// The audience, always [`AUDIENCE`].
    pub aud: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
}

/// Why a device's token was refused; each maps to a documented close reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was presented.
    #[error("no token")]
    Missing,
    /// Bad signature, malformed token, wrong algorithm or audience, missing claims.
    #[error("invalid token")]
    Invalid,
    /// The token has expired.
    #[error("expired token")]
    Expired,
}

impl AuthError {
    /// The close reason the server uses for this error.
    pub const fn close_reason(self) -> CloseReason {
        match self {
            AuthError::Missing => CloseReason::AuthMissing,
            AuthError::Invalid => CloseReason::AuthInvalid,
            AuthError::Expired => CloseReason::AuthExpired,
        }
    }
}

/// A secret that is too short, or a token that could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Issues and verifies device tokens with one HS256 secret.
#[derive(Clone)]
pub struct DeviceAuth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl DeviceAuth {
    /// A signer and verifier for `secret`, which must be at least [`MIN_SECRET_BYTES`] long.
    pub fn hs256(secret: &[u8]) -> Result<DeviceAuth, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError(format!(
                "the HS256 secret must be at least {MIN_SECRET_BYTES} bytes, got {}",
                secret.len()
            )));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.leeway = DEFAULT_LEEWAY.as_secs();
        Ok(DeviceAuth {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// The clock-skew allowance when checking `exp` (default [`DEFAULT_LEEWAY`]).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway.as_secs();
        self
    }

    /// Issues a token for `device_id` of `user_id`, valid for `ttl` from now.
    pub fn issue(&self, user_id: &str, device_id: &str, ttl: Duration) -> Result<String, KeyError> {
        self.issue_until(user_id, device_id, SystemTime::now() + ttl)
    }

    /// Issues a token that expires at `expires` (which may be in the past, for tests).
    pub fn issue_until(
        &self,
        user_id: &str,
        device_id: &str,
        expires: SystemTime,
    ) -> Result<String, KeyError> {
        if device_id.is_empty() {
            return Err(KeyError("the device id is empty".to_owned()));
        }
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = DeviceClaims {
            sub: user_id.to_owned(),
            dev: device_id.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: secs(SystemTime::now()),
            exp: secs(expires),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| KeyError(format!("cannot sign the device token: {e}")))
    }

    /// Checks a token's signature, audience and expiry, and returns its claims.
    pub fn verify(&self, token: &str) -> Result<DeviceClaims, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let data = jsonwebtoken::decode::<DeviceClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid,
            })?;
        if data.claims.dev.is_empty() {
            return Err(AuthError::Invalid);
        }
        Ok(data.claims)
    }
}

impl fmt::Debug for DeviceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuth")
            .field("algorithm", &"HS256")
            .field("secret", &"<redacted>")
            .field("leeway_secs", &self.validation.leeway)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-only secret, 32 bytes long!";

    #[test]
    fn issued_tokens_verify_and_name_the_device() {
        let auth = DeviceAuth::hs256(SECRET).unwrap();
        let token = auth.issue("u1", "dev-a", Duration::from_secs(60)).unwrap();
        let claims = auth.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.dev.as_str()), ("u1", "dev-a"));
        assert_eq!(claims.aud, AUDIENCE);
    }

    #[test]
    fn refusals_are_classified() {
        let auth = DeviceAuth::hs256(SECRET).unwrap().leeway(Duration::ZERO);
        let other = DeviceAuth::hs256(b"another secret that is 32 bytes!").unwrap();
        let forged = other.issue("u1", "dev-a", Duration::from_secs(60)).unwrap();
        assert_eq!(auth.verify(&forged), Err(AuthError::Invalid));
        let past = SystemTime::now() - Duration::from_secs(10);
        let expired = auth.issue_until("u1", "dev-a", past).unwrap();
        assert_eq!(auth.verify(&expired), Err(AuthError::Expired));
        assert_eq!(auth.verify(""), Err(AuthError::Missing));
        assert_eq!(auth.verify("not.a.jwt"), Err(AuthError::Invalid));
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        assert!(DeviceAuth::hs256(b"short").is_err());
        let auth = DeviceAuth::hs256(SECRET).unwrap();
        assert!(!format!("{auth:?}").contains("test-only"));
    }
}
