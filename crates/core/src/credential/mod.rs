//! The building blocks of a channel's OAuth-style credential: something a vendor issues (an access
//! token from a token endpoint, or a JWT signed locally), valid for a while, needed by every send.
//!
//! A channel implements [`CredentialSource`] (one token-endpoint call or one signature, and the
//! vendor's timings) and keeps one [`CredentialCache`] per credential: it hands the cached
//! credential to every send, refreshes it ahead of expiry with exactly one fetch however many
//! sends need it, and remembers a failed fetch for the source's
//! [`failure_hold`](CredentialSource::failure_hold). When the vendor refuses a credential, the
//! channel [`invalidate`](CredentialCache::invalidate)s it and decides itself whether to resend.
//!
//! This module does no I/O: the source does, and turns the issued token into what the channel's
//! requests carry (for example a sensitive `Authorization` header), so this crate stays free of
//! HTTP types. [`parse_access_token`] reads the standard token-endpoint answer (RFC 6749 §5.1);
//! what a vendor's error answers mean stays in the vendor's crate.
//!
//! ```
//! use std::time::Duration;
//! use pushway_core::async_trait;
//! use pushway_core::credential::{AuthFailure, CredentialCache, CredentialSource, Fresh};
//!
//! struct Issuer;
//!
//! #[async_trait]
//! impl CredentialSource for Issuer {
//!     type Credential = String;
//!     async fn fetch(&self) -> Result<Fresh<String>, AuthFailure> {
//!         Ok(Fresh { credential: "Bearer t1".to_owned(), lifetime: Duration::from_secs(3600) })
//!     }
//!     fn refresh_ahead(&self) -> Duration { Duration::from_secs(300) }
//!     fn failure_hold(&self) -> Duration { Duration::from_secs(1) }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let cache = CredentialCache::new(Box::new(Issuer));
//! assert_eq!(*cache.get().await.unwrap(), "Bearer t1");
//! assert_eq!(*cache.get().await.unwrap(), "Bearer t1");
//! assert_eq!(cache.fetches(), 1);
//! # });
//! ```

mod cache;
mod grant;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Deserializer};

use crate::{Outcome, Reason};

pub use cache::CredentialCache;
pub use grant::parse_access_token;

/// A secret string (a client secret, a private key): `Debug` shows `***`, never the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must use it (a signature, a form field).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Read from a plain string (for example the `private_key` of a key file).
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// A credential as its issuer returned it. `Debug` does not show the credential.
pub struct Fresh<C> {
    /// The credential (a secret): an access token, a signed JWT, or the header built from one.
    pub credential: C,
    /// How long it is valid from the moment it was requested.
    pub lifetime: Duration,
}

impl<C> fmt::Debug for Fresh<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fresh")
            .field("credential", &Secret::new(""))
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// Why no credential could be had.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthFailure {
    /// The issuer refused (a wrong secret, an unknown client, a deleted key, a key that cannot
    /// sign): the sends that needed it get [`Outcome::Auth`].
    Refused(Reason),
    /// The issuer could not be reached or asked to come back later (timeout, 429, 5xx): the
    /// sends that needed it get [`Outcome::Retry`].
    Unavailable {
        /// Why.
        reason: Reason,
        /// When the issuer said to come back, if it did.
        after: Option<Duration>,
    },
}

impl AuthFailure {
    /// The issuer's endpoint gave no answer: [`Reason::TIMEOUT`] if the request timed out,
    /// [`Reason::CONNECTION`] otherwise.
    pub fn no_answer(timed_out: bool) -> Self {
        let code = if timed_out {
            Reason::TIMEOUT
        } else {
            Reason::CONNECTION
        };
        AuthFailure::Unavailable {
            reason: Reason::new(code).with_detail("OAuth token endpoint"),
            after: None,
        }
    }

    /// The outcome of every send that needed this credential.
    pub fn outcome(&self) -> Outcome {
        match self {
            AuthFailure::Refused(reason) => Outcome::Auth {
                reason: reason.clone(),
            },
            AuthFailure::Unavailable { reason, after } => Outcome::Retry {
                after: *after,
                reason: reason.clone(),
            },
        }
    }
}

/// Where fresh credentials come from, and the vendor's timings for them.
///
/// Dyn-compatible: a channel with several kinds of credential (Huawei's OAuth client or service
/// account) keeps a `Box<dyn CredentialSource<Credential = C>>`.
#[async_trait]
pub trait CredentialSource: Send + Sync + 'static {
    /// What sends carry (for example an `Authorization` header value).
    type Credential: Send + Sync + 'static;

    /// Obtains a new credential: one network call with a timeout, or a local signature.
    async fn fetch(&self) -> Result<Fresh<Self::Credential>, AuthFailure>;

    /// How long before expiry the cache replaces the credential (at most half its lifetime is
    /// used).
    fn refresh_ahead(&self) -> Duration;

    /// How long a failed fetch is answered from memory: the sends in that time get the same
    /// failure without asking the issuer again (a broken key or a refusing endpoint must not turn
    /// every send into a token request).
    fn failure_hold(&self) -> Duration;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _dyn_compatible(_: Box<dyn CredentialSource<Credential = String>>) {}

    #[test]
    fn secrets_and_credentials_never_show_in_debug() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(secret.expose(), "hunter2");
        let fresh = Fresh {
            credential: "ya29.secret".to_owned(),
            lifetime: Duration::from_secs(60),
        };
        assert_eq!(
            format!("{fresh:?}"),
            "Fresh { credential: ***, lifetime: 60s }"
        );
        let parsed: Secret = serde_json::from_str(r#""-----BEGIN PRIVATE KEY-----""#).unwrap();
        assert_eq!(parsed.expose(), "-----BEGIN PRIVATE KEY-----");
    }

    #[test]
    fn failures_become_auth_or_retry() {
        let refused = AuthFailure::Refused(Reason::new("invalid_grant"));
        assert_eq!(
            refused.outcome(),
            Outcome::Auth {
                reason: Reason::new("invalid_grant")
            }
        );
        let later = AuthFailure::Unavailable {
            reason: Reason::new("oauth_http_503"),
            after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            later.outcome(),
            Outcome::Retry {
                after: Some(Duration::from_secs(7)),
                reason: Reason::new("oauth_http_503")
            }
        );
        assert_eq!(
            AuthFailure::no_answer(true),
            AuthFailure::Unavailable {
                reason: Reason::new(Reason::TIMEOUT).with_detail("OAuth token endpoint"),
                after: None
            }
        );
        assert_eq!(
            AuthFailure::no_answer(false).outcome(),
            Outcome::Retry {
                after: None,
                reason: Reason::new(Reason::CONNECTION).with_detail("OAuth token endpoint")
            }
        );
    }
}
