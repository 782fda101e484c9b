//! Device authentication: the JWT the server issues to a device and checks on `hello`.
//!
//! Tokens are **HS256** JWTs: the server both issues and verifies them, so one shared secret
//! (at least [`MIN_SECRET_BYTES`] bytes, kept server-side) is enough and verification costs a
//! single HMAC per connection. Claims: `sub` = the user id, `dev` = the device id (the pair is
//! the connection's [`DeviceKey`]), `aud` = [`AUDIENCE`], `iat` and `exp` (seconds since the Unix
//! epoch), and `gen`, the device's token generation: [`Hub::revoke_device`](crate::Hub::revoke_device)
//! bumps it, and a token of an older generation is refused. A token may live at most
//! [`DeviceAuth::max_lifetime`] (`exp - iat`), and must not be issued in the future.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::key::DeviceKey;
use crate::protocol::CloseReason;

/// The `aud` claim of every device token, so a JWT minted for another purpose with the same
/// secret is not accepted as a device token.
pub const AUDIENCE: &str = "pushway-daemon";

/// The shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash output size).
pub const MIN_SECRET_BYTES: usize = 32;

/// The default clock-skew allowance when checking `exp` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The default longest token lifetime (`exp - iat`): a token that leaks stays usable at most
/// this long even if nobody revokes it.
pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The claims of a device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaims {
    /// The user id.
    pub sub: String,
    /// The device id: with `sub`, the only device whose pushes the connection receives.
    pub dev: String,
    /// The audience, always [`AUDIENCE`].
    pub aud: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
    /// The device's token generation when the token was issued: the `gen` claim (absent reads
    /// as 0).
    #[serde(rename = "gen", default)]
    pub generation: u64,
}

impl DeviceClaims {
    /// The device the token is for.
    pub fn key(&self) -> Option<DeviceKey> {
        DeviceKey::new(&self.sub, &self.dev)
    }

    /// How new the token is: a later generation, then a later `iat`, is newer.
    pub(crate) fn rank(&self) -> (u64, u64) {
        (self.generation, self.iat)
    }
}

/// Why a device's token was refused; each maps to a documented close reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was presented.
    #[error("no token")]
    Missing,
    /// Bad signature, malformed token, wrong algorithm or audience, missing or empty claims.
    #[error("invalid token")]
    Invalid,
    /// `exp - iat` is over the maximum token lifetime.
    #[error("the token's lifetime is over the maximum")]
    LifetimeTooLong,
    /// `iat` is later than now plus the leeway.
    #[error("the token is issued in the future")]
    IssuedInFuture,
    /// The token has expired.
    #[error("expired token")]
    Expired,
    /// The token's generation is older than the device's current one (revoked).
    #[error("revoked token")]
    Revoked,
}

impl AuthError {
    /// The close reason the server uses for this error.
    pub const fn close_reason(self) -> CloseReason {
        match self {
            AuthError::Missing => CloseReason::AuthMissing,
            AuthError::Invalid | AuthError::LifetimeTooLong | AuthError::IssuedInFuture => {
                CloseReason::AuthInvalid
            }
            AuthError::Expired => CloseReason::AuthExpired,
            AuthError::Revoked => CloseReason::AuthRevoked,
        }
    }
}

/// A secret that is too short, or a token that could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub(crate) String);

/// Issues and verifies device tokens with one HS256 secret.
#[derive(Clone)]
pub struct DeviceAuth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    max_lifetime: Duration,
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
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
            max_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
        })
    }

    /// The clock-skew allowance when checking `exp` and `iat` (default [`DEFAULT_LEEWAY`]).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway.as_secs();
        self
    }

    /// The longest lifetime (`exp - iat`) a token may have, both to be issued and to be
    /// accepted (default [`DEFAULT_MAX_TOKEN_LIFETIME`]).
    #[must_use]
    pub fn max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Issues a token for `device` of `user`, of token generation `generation` (the device's
    /// current one: [`Hub::token_generation`](crate::Hub::token_generation)), valid for
    /// `lifetime` from now. Refused: an empty user or device id, a device id with `/`, a
    /// lifetime over [`max_lifetime`](DeviceAuth::max_lifetime).
    pub fn issue(
        &self,
        user: &str,
        device: &str,
        generation: u64,
        lifetime: Duration,
    ) -> Result<String, KeyError> {
        if lifetime > self.max_lifetime {
            return Err(KeyError(format!(
                "a device token may live at most {} s, {} s asked",
                self.max_lifetime.as_secs(),
                lifetime.as_secs()
            )));
        }
        let now = SystemTime::now();
        self.issue_at(user, device, generation, now, now + lifetime)
    }

    /// Issues a token with the given `iat` and `exp`, which are not checked (for tests and
    /// tools: an expired, too long or future token is refused by [`verify`](DeviceAuth::verify)).
    pub fn issue_at(
        &self,
        user: &str,
        device: &str,
        generation: u64,
        issued_at: SystemTime,
        expires: SystemTime,
    ) -> Result<String, KeyError> {
        if !DeviceKey::valid(user, device) {
            return Err(KeyError(
                "the user and device ids must not be empty, and the device id must not contain '/'"
                    .to_owned(),
            ));
        }
        let claims = DeviceClaims {
            sub: user.to_owned(),
            dev: device.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: unix_secs(issued_at),
            exp: unix_secs(expires),
            generation,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| KeyError(format!("cannot sign the device token: {e}")))
    }

    /// Checks a token's signature, audience, expiry, lifetime and issue time, and returns its
    /// claims. The generation is checked by the hub, which knows the current one.
    pub fn verify(&self, token: &str) -> Result<DeviceClaims, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let data = jsonwebtoken::decode::<DeviceClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid,
            })?;
        let claims = data.claims;
        if claims.key().is_none() {
            return Err(AuthError::Invalid);
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_lifetime.as_secs() {
            return Err(AuthError::LifetimeTooLong);
        }
        let latest = unix_secs(SystemTime::now()).saturating_add(self.validation.leeway);
        if claims.iat > latest {
            return Err(AuthError::IssuedInFuture);
        }
        Ok(claims)
    }
}

impl fmt::Debug for DeviceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuth")
            .field("algorithm", &"HS256")
            .field("secret", &"<redacted>")
            .field("leeway_secs", &self.validation.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-only secret, 32 bytes long!";
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn issued_tokens_verify_and_name_the_user_device_and_generation() {
        let auth = DeviceAuth::hs256(SECRET).unwrap();
        let token = auth.issue("u1", "dev-a", 3, MINUTE).unwrap();
        let claims = auth.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.dev.as_str()), ("u1", "dev-a"));
        assert_eq!((claims.aud.as_str(), claims.generation), (AUDIENCE, 3));
        assert_eq!(claims.key(), DeviceKey::new("u1", "dev-a"));
        // On the wire the claims are named as PROTOCOL.md says.
        let raw =
            jsonwebtoken::decode::<serde_json::Value>(&token, &auth.decoding, &auth.validation)
                .unwrap()
                .claims;
        let mut names: Vec<_> = raw.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["aud", "dev", "exp", "gen", "iat", "sub"]);
        assert_eq!(raw["gen"], 3);
    }

    #[test]
    fn refusals_are_classified() {
        let auth = DeviceAuth::hs256(SECRET).unwrap().leeway(Duration::ZERO);
        let other = DeviceAuth::hs256(b"another secret that is 32 bytes!").unwrap();
        let forged = other.issue("u1", "dev-a", 0, MINUTE).unwrap();
        assert_eq!(auth.verify(&forged), Err(AuthError::Invalid));
        let now = SystemTime::now();
        let expired = auth
            .issue_at(
                "u1",
                "dev-a",
                0,
                now - MINUTE,
                now - Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(auth.verify(&expired), Err(AuthError::Expired));
        assert_eq!(auth.verify(""), Err(AuthError::Missing));
        assert_eq!(auth.verify("not.a.jwt"), Err(AuthError::Invalid));
    }

    #[test]
    fn lifetimes_over_the_maximum_and_future_tokens_are_refused() {
        let auth = DeviceAuth::hs256(SECRET)
            .unwrap()
            .leeway(Duration::from_secs(30))
            .max_lifetime(Duration::from_secs(3600));
        assert!(auth.issue("u", "d", 0, Duration::from_secs(3601)).is_err());
        assert!(auth.issue("u", "d", 0, Duration::from_secs(3600)).is_ok());
        let now = SystemTime::now();
        let long = auth
            .issue_at("u", "d", 0, now, now + Duration::from_secs(3601))
            .unwrap();
        assert_eq!(auth.verify(&long), Err(AuthError::LifetimeTooLong));
        let future = auth
            .issue_at(
                "u",
                "d",
                0,
                now + Duration::from_secs(120),
                now + Duration::from_secs(600),
            )
            .unwrap();
        assert_eq!(auth.verify(&future), Err(AuthError::IssuedInFuture));
        let skewed = auth
            .issue_at(
                "u",
                "d",
                0,
                now + Duration::from_secs(10),
                now + Duration::from_secs(600),
            )
            .unwrap();
        assert!(auth.verify(&skewed).is_ok(), "within the leeway");
    }

    #[test]
    fn tokens_need_a_user_and_a_device_id_without_a_slash() {
        let auth = DeviceAuth::hs256(SECRET).unwrap();
        assert!(auth.issue("", "d", 0, MINUTE).is_err());
        assert!(auth.issue("u", "", 0, MINUTE).is_err());
        assert!(auth.issue("u", "a/b", 0, MINUTE).is_err());
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        assert!(DeviceAuth::hs256(b"short").is_err());
        let auth = DeviceAuth::hs256(SECRET).unwrap();
        assert!(!format!("{auth:?}").contains("test-only"));
    }
}
