//! Who may use the admin listener: the admin API by `Authorization: Bearer <admin key>`, the
//! console by a session cookie that a login with the admin key opens.
//!
//! A session is a random token (32 bytes from the system RNG) kept server-side as its SHA-256
//! with an expiry and its own CSRF token; the cookie is `HttpOnly` (no script reads it) and
//! `SameSite=Strict` (no other site's form or link carries it), and every console form posts
//! the session's CSRF token as well, compared in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use crate::api::Problem;
use crate::auth::{KeyHash, generate_key, hash_key, matches};

/// The console's cookie.
pub(crate) const COOKIE: &str = "pushway_admin";
/// Sessions open at once at most: a login beyond it drops the oldest (so a flood of logins
/// with the key cannot grow memory without bound).
const MAX_SESSIONS: usize = 256;

/// An open console session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The token its forms must post back.
    pub(crate) csrf: String,
    expires: Instant,
}

/// The admin key and the open sessions.
#[derive(Debug)]
pub(crate) struct Gate {
    key: KeyHash,
    lifetime: Duration,
    sessions: Mutex<HashMap<KeyHash, Session>>,
}

impl Gate {
    pub(crate) fn new(key: KeyHash, lifetime: Duration) -> Self {
        Gate {
            key,
            lifetime,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `presented` is the admin key (compared as hashes, in constant time).
    pub(crate) fn is_key(&self, presented: &str) -> bool {
        !presented.is_empty() && matches(&self.key, &hash_key(presented))
    }

    /// Checks an admin API request's `Authorization: Bearer` key.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<(), Problem> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .ok_or_else(Problem::unauthorized)?;
        if self.is_key(presented) {
            Ok(())
        } else {
            Err(Problem::unauthorized())
        }
    }

    /// Opens a session; its cookie value.
    pub(crate) fn open(&self) -> String {
        let token = generate_key();
        let session = Session {
            csrf: generate_key(),
            expires: Instant::now() + self.lifetime,
        };
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(hash_key(&token), session);
        token
    }

    /// The session the request's cookie names, if open.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<(KeyHash, Session)> {
        let token = cookie(headers, COOKIE)?;
        let id = hash_key(token);
        let sessions = self.lock();
        let session = sessions.get(&id)?;
        (session.expires > Instant::now()).then(|| (id, session.clone()))
    }

    /// Closes a session.
    pub(crate) fn close(&self, id: &KeyHash) {
        self.lock().remove(id);
    }

    /// The `Set-Cookie` value of a new session.
    pub(crate) fn set_cookie(&self, token: &str) -> String {
        format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            self.lifetime.as_secs()
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyHash, Session>> {
        // A panic while holding the lock cannot leave the map half-updated (each operation is
        // one call on it), so a poisoned lock is still usable.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether `presented` is the session's CSRF token (constant time).
pub(crate) fn csrf_ok(session: &Session, presented: &str) -> bool {
    matches(&hash_key(&session.csrf), &hash_key(presented))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(header::COOKIE, v);
        }
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_closed() {
        let gate = Gate::new(hash_key("pw_admin"), Duration::from_secs(60));
        assert!(gate.is_key("pw_admin"));
        assert!(!gate.is_key("pw_admiN"));
        assert!(!gate.is_key(""));
        let token = gate.open();
        let headers = with_cookie(&format!("other=1; {COOKIE}={token}"));
        let (id, session) = gate.session(&headers).expect("open session");
        assert!(csrf_ok(&session, &session.csrf));
        assert!(!csrf_ok(&session, "forged"));
        assert!(
            gate.session(&with_cookie(&format!("{COOKIE}=pw_x")))
                .is_none()
        );
        gate.close(&id);
        assert!(gate.session(&headers).is_none());
    }

    #[test]
    fn an_expired_session_is_refused() {
        let gate = Gate::new(hash_key("pw_admin"), Duration::ZERO);
        let token = gate.open();
        assert!(
            gate.session(&with_cookie(&format!("{COOKIE}={token}")))
                .is_none()
        );
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let gate = Gate::new(hash_key("k"), Duration::from_secs(60));
        assert_eq!(
            gate.set_cookie("t"),
            "pushway_admin=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
    }
}
