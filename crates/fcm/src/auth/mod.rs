//! The OAuth 2.0 access token of the push requests: a service-account JWT ([`account`]) exchanged
//! at Google's token endpoint ([`oauth`]), sent as `Authorization: Bearer …`, cached by a
//! [`CredentialCache`] (pushway-core) and refreshed ahead of expiry by exactly one task.

pub(crate) mod account;
pub(crate) mod oauth;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use pushway_core::credential::CredentialCache;

/// One access token as its `authorization` header value (`Bearer …`, marked sensitive), built
/// once per token.
pub(crate) type Credential = Arc<HeaderValue>;

/// The provider's access-token cache.
pub(crate) type TokenCache = CredentialCache<HeaderValue>;

/// How long a failed token request is answered from memory: a deleted key (`invalid_grant`) or a
/// refusing endpoint must not turn every send of a burst into a token request. One second, as
/// for Huawei: fcm.md §2 documents no quota of the token endpoint to size it by.
pub(crate) const FAILURE_HOLD: Duration = Duration::from_secs(1);
