//! The OAuth 2.0 access token of the push requests: a service-account JWT ([`account`]) exchanged
//! at Google's token endpoint ([`oauth`]), cached by [`cache::TokenCache`] and refreshed ahead of
//! expiry by exactly one task.

pub(crate) mod account;
pub(crate) mod cache;
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

/// An access token as the token endpoint returned it.
pub(crate) struct Fresh {
    /// The access token (a secret).
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

/// Why no access token could be had.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AuthFailure {
    /// The token endpoint refused the assertion (`invalid_grant`: a deleted key, a clock far
    /// off; `invalid_client`…), or the key cannot sign.
    Refused(Reason),
    /// The token endpoint could not be reached or asked us to come back (timeout, 429, 5xx,
    /// `temporarily_unavailable`).
    Unavailable {
        reason: Reason,
        after: Option<Duration>,
    },
}

impl AuthFailure {
    /// The outcome of every send that waited for this token.
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

/// Where fresh access tokens come from (the token endpoint; a counting fake in the cache's tests).
#[async_trait]
pub(crate) trait TokenSource: Send + Sync + 'static {
    /// Obtains a new access token (one network call, with a timeout).
    async fn fetch(&self) -> Result<Fresh, AuthFailure>;

    /// How long before expiry the cache replaces the token (at most half its lifetime).
    fn refresh_ahead(&self) -> Duration;
}
