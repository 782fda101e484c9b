//! Credentials for the push request: an OAuth 2.0 access token (client credentials) or a
//! self-signed service-account JWT, sent as `Authorization: Bearer …`, cached by a
//! [`CredentialCache`] (pushway-core) and refreshed ahead of expiry by exactly one task.

pub(crate) mod jwt;
pub(crate) mod oauth;

use std::sync::Arc;
use std::time::Duration;

use pushway_core::credential::{CredentialCache, CredentialSource};

/// One credential (an access token or a JWT), sent with reqwest's `bearer_auth`, which marks the
/// header sensitive.
pub(crate) type Credential = Arc<String>;

/// The provider's credential cache.
pub(crate) type TokenCache = CredentialCache<String>;

/// Where the credentials come from: the OAuth client or the service account.
pub(crate) type Source = Box<dyn CredentialSource<Credential = String>>;

/// How long a failed fetch is answered from memory: Huawei's token endpoint allows 1000 tokens
/// per 5 minutes per app (protocols/huawei.md §4), so a wrong secret must not turn every send
/// into a token request; a key that cannot sign fails the same way each time.
pub(crate) const FAILURE_HOLD: Duration = Duration::from_secs(1);
