//! The OAuth 2.0 client-credentials endpoint and the access tokens it issued
//! (protocols/huawei.md §1a, F1, F2).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::http_server::Reply;

use super::response;

/// The client credentials the OAuth endpoint accepts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Client {
    /// The app's OAuth client id (also the v1 URL's appId); `None` accepts any well-formed id.
    pub id: Option<String>,
    /// Its secret; `None` accepts any non-empty secret.
    pub secret: Option<String>,
}

/// What an access token was issued for.
#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    expires: Instant,
}

/// The outcome of checking a bearer access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    /// Valid, issued to this client id.
    Valid(String),
    /// Issued here, but past its lifetime (80200003).
    Expired,
    /// Never issued here (80200001).
    Unknown,
}

/// Issued access tokens.
#[derive(Debug)]
pub(crate) struct AccessTokens {
    issued: RwLock<HashMap<String, Issued>>,
    seq: AtomicU64,
    lifetime_secs: AtomicU64,
}

impl AccessTokens {
    pub fn new(lifetime_secs: u64) -> Self {
        AccessTokens {
            issued: RwLock::new(HashMap::new()),
            seq: AtomicU64::new(0),
            lifetime_secs: AtomicU64::new(lifetime_secs),
        }
    }

    /// Issues a token for `client_id`; returns it with its `expires_in`.
    fn issue(&self, client_id: &str) -> (String, u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        // Base64-like with `/`, `+` and `=`, as real tokens are, so clients must JSON-decode it
        // and must not mangle it in the header.
        let token = format!("DAEBAG{seq:010}/sim+token==");
        let lifetime = self.lifetime_secs.load(Ordering::Relaxed);
        let expires = Instant::now() + Duration::from_secs(lifetime);
        let mut issued = self.issued.write().unwrap_or_else(PoisonError::into_inner);
        issued.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_owned(),
                expires,
            },
        );
        (token, lifetime)
    }

    pub fn check(&self, token: &str) -> TokenCheck {
        let issued = self.issued.read().unwrap_or_else(PoisonError::into_inner);
        match issued.get(token) {
            None => TokenCheck::Unknown,
            Some(entry) if Instant::now() >= entry.expires => TokenCheck::Expired,
            Some(entry) => TokenCheck::Valid(entry.client_id.clone()),
        }
    }

    /// Makes every token issued so far expired.
    pub fn expire_all(&self) {
        let now = Instant::now();
        let mut issued = self.issued.write().unwrap_or_else(PoisonError::into_inner);
        for entry in issued.values_mut() {
            entry.expires = now;
        }
    }

    /// Sets the lifetime (`expires_in`) of tokens issued from now on.
    pub fn set_lifetime(&self, secs: u64) {
        self.lifetime_secs.store(secs, Ordering::Relaxed);
    }

    /// Tokens issued so far.
    pub fn issued_count(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }
}

/// Answers `POST /oauth2/v3/token` (also `/oauth2/v2/token`) with its decoded form.
///
/// Checks, in order, with the sub-codes of the account-server error page: `grant_type` must be
/// `client_credentials` (20182), `client_id` must match `^[0-9]{1,64}$` (20002) and be known
/// (20003), `client_secret` must be present (20171) and right (12304).
pub(crate) fn token_endpoint(client: &Client, tokens: &AccessTokens, form: &[u8]) -> Reply {
    let mut grant_type = None;
    let mut client_id = None;
    let mut client_secret = None;
    for (key, value) in form_urlencoded::parse(form) {
        let slot = match key.as_ref() {
            "grant_type" => &mut grant_type,
            "client_id" => &mut client_id,
            "client_secret" => &mut client_secret,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    if grant_type.as_deref() != Some("client_credentials") {
        return response::oauth_error(20182, "invalid grant_type");
    }
    let client_id = client_id.unwrap_or_default();
    let well_formed =
        (1..=64).contains(&client_id.len()) && client_id.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return response::oauth_error(20002, "invalid client_id");
    }
    if client.id.as_deref().is_some_and(|id| id != client_id) {
        return response::oauth_error(20003, "invalid client_id");
    }
    let secret = client_secret.unwrap_or_default();
    if secret.is_empty() {
        return response::oauth_error(20171, "invalid client_secret");
    }
    if client.secret.as_deref().is_some_and(|s| s != secret) {
        return response::oauth_error(12304, "invalid client_secret");
    }
    let (token, expires_in) = tokens.issue(&client_id);
    response::access_token(&token, expires_in)
}
