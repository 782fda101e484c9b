//! The OAuth 2.0 JWT-bearer token endpoint and the access tokens it issued
//! (protocols/fcm.md §2, §8 rows T1–T6).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::http_server::Reply;

use super::account::{AssertionError, Granted, Verifier, unix_now};
use super::response;

/// The grant type of the service-account flow.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The outcome of checking a bearer access token at the send endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    /// Valid: issued to this account, with or without the FCM scope.
    Valid { account: usize, fcm_scope: bool },
    /// Issued here but past its lifetime, or never issued here: the same 401 (S3).
    Invalid,
}

#[derive(Debug, Clone, Copy)]
struct Issued {
    granted: (usize, bool),
    expires: Instant,
}

/// Issued access tokens.
#[derive(Debug)]
pub(crate) struct AccessTokens {
    issued: RwLock<HashMap<String, Issued>>,
    seq: AtomicU64,
    /// Seconds; `expires_in` of the tokens issued from now on.
    lifetime_secs: AtomicU64,
    /// A per-run prefix so tokens of two simulators (or two runs) never collide.
    prefix: String,
}

impl AccessTokens {
    pub fn new(lifetime_secs: u64) -> Self {
        let run = uuid::Uuid::new_v4().simple().to_string();
        AccessTokens {
            issued: RwLock::new(HashMap::new()),
            seq: AtomicU64::new(0),
            lifetime_secs: AtomicU64::new(lifetime_secs),
            prefix: format!("ya29.sim-{}", &run[..12]),
        }
    }

    fn issue(&self, granted: &Granted) -> (String, u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        // Real tokens are `ya29.` + ~200 base64url characters with `-`, `_` and `.`; a client
        // must send them as they are.
        let token = format!("{}-{seq:06}_x.y", self.prefix);
        let lifetime = self.lifetime_secs.load(Ordering::Relaxed);
        let issued = Issued {
            granted: (granted.account, granted.fcm_scope),
            expires: Instant::now() + Duration::from_secs(lifetime),
        };
        self.issued
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), issued);
        (token, lifetime)
    }

    pub fn check(&self, token: &str) -> TokenCheck {
        let issued = self.issued.read().unwrap_or_else(PoisonError::into_inner);
        match issued.get(token) {
            Some(entry) if Instant::now() < entry.expires => TokenCheck::Valid {
                account: entry.granted.0,
                fcm_scope: entry.granted.1,
            },
            _ => TokenCheck::Invalid,
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

    pub fn set_lifetime(&self, secs: u64) {
        self.lifetime_secs.store(secs, Ordering::Relaxed);
    }

    /// Tokens issued so far.
    pub fn issued_count(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }
}

/// Answers `POST /token` with its form body: T1 `grant_type`, then the assertion (T2–T6).
pub(crate) fn token_endpoint(
    verifier: &Verifier,
    tokens: &AccessTokens,
    own_url: &str,
    form: &[u8],
) -> Reply {
    let mut grant_type = None;
    let mut assertion = None;
    for (key, value) in form_urlencoded::parse(form) {
        let slot = match key.as_ref() {
            "grant_type" => &mut grant_type,
            "assertion" => &mut assertion,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    let grant_type = grant_type.unwrap_or_default();
    if grant_type != JWT_BEARER_GRANT {
        return response::oauth_error(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant_type}"),
        );
    }
    let Some(assertion) = assertion.filter(|a| !a.is_empty()) else {
        return response::oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    match verifier.check(&assertion, own_url, unix_now()) {
        Ok(granted) => {
            let (token, expires_in) = tokens.issue(&granted);
            response::access_token(&token, expires_in)
        }
        Err(AssertionError::Signature) => {
            response::oauth_error("invalid_grant", response::INVALID_SIGNATURE)
        }
        Err(AssertionError::Audience) => {
            response::oauth_error("invalid_grant", response::INVALID_AUDIENCE)
        }
        Err(AssertionError::Timeframe) => {
            response::oauth_error("invalid_grant", response::INVALID_TIMEFRAME)
        }
    }
}
