//! Credentials for the push request: an OAuth 2.0 access token (client credentials) or a
//! self-signed service-account JWT, cached by [`cache::TokenCache`] and refreshed ahead of expiry
//! by exactly one task.

pub(crate) mod cache;
pub(crate) mod jwt;
pub(crate) mod oauth;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::{Outcome, Reason};

/// A secret string: shown as `***` in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A credential as its issuer returned it.
pub(crate) struct Fresh {
    /// The access token or JWT (a secret).
    pub token: String,
    /// How long it is valid from the moment it was requested.
    pub lifetime: Duration,
}

impl fmt::Debug for Fresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fresh")
            .field("token", &Secret::new(""))
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// Why no credential could be had.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AuthFailure {
    /// The issuer refused the credentials (wrong secret, unknown client, unusable key).
    Refused(Reason),
    /// The issuer could not be reached or asked us to come back (timeout, 5xx, 503).
    Unavailable {
        reason: Reason,
        after: Option<Duration>,
    },
}

impl AuthFailure {
    /// The outcome every token of the batch gets.
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

/// Where fresh credentials come from.
#[async_trait]
pub(crate) trait TokenSource: Send + Sync + 'static {
    /// Obtains a new credential (one network call, with a timeout, or a local signature).
    async fn fetch(&self) -> Result<Fresh, AuthFailure>;

    /// How long before expiry the cache replaces the credential (at most half its lifetime).
    fn refresh_ahead(&self) -> Duration;
}
