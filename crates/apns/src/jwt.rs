//! The provider token (protocols/apns.md §2.1): an ES256 JWT with header `{"alg":"ES256",
//! "kid":…}` and claims `{"iss":…,"iat":…}`, shared by every request and every connection of a
//! provider, replaced after [`DEFAULT_REFRESH`] by exactly one caller however many sends need it
//! at that moment.
//!
//! Why single-flight matters: ECDSA signatures are randomized, so two racing refreshers make two
//! different tokens, and a connection that sees its token change twice within 20 minutes answers
//! `429 TooManyProviderTokenUpdates` (a2's race, its PR #85). Every token carries a generation
//! number; after `403 ExpiredProviderToken` only the caller holding the *current* generation
//! replaces it (node-apn's pattern), the others pick up the replacement.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// How long a provider token is used before a new one is made: 50 minutes, inside Apple's
/// window (older than 60 minutes is refused; replacing more often than every 20 minutes is
/// throttled), with ten minutes left for clock skew (Pushy and apns2 use 50 too).
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(50 * 60);

/// Where the provider reads the time, for `iat`, token age and `apns-expiration`. Tests inject
/// a clock they move by hand so that nobody waits 50 minutes.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// One signed provider token.
pub(crate) struct ProviderToken {
    /// `bearer <jwt>`, marked sensitive, for the tests (the transport sends `block`).
    #[cfg(test)]
    pub header: HeaderValue,
    /// The same as an HPACK field, "never indexed" (see [`crate::hpack`]), made once per token.
    pub block: Vec<u8>,
    pub generation: u64,
    issued: SystemTime,
}

impl fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderToken")
            .field("generation", &self.generation)
            .field("issued", &self.issued)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

/// A signing failure (a key that parsed but cannot sign: practically never).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the provider token: {0}")]
pub(crate) struct SignError(String);

/// The shared, single-flight provider-token cache.
pub(crate) struct TokenCache {
    key: EncodingKey,
    header: Header,
    team_id: String,
    clock: Arc<dyn Clock>,
    refresh: Duration,
    current: RwLock<Arc<ProviderToken>>,
    /// Held while minting, so only one caller mints. Never held across an `.await`: signing is
    /// synchronous.
    minting: Mutex<()>,
    minted: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("kid", &self.header.kid)
            .field("team_id", &self.team_id)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// Parses the PKCS#8 `.p8` PEM and signs the first token, so a bad key fails at build time.
    pub fn new(
        key_pem: &[u8],
        key_id: &str,
        team_id: &str,
        clock: Arc<dyn Clock>,
        refresh: Duration,
    ) -> Result<TokenCache, SignError> {
        let key = EncodingKey::from_ec_pem(key_pem)
            .map_err(|e| SignError(format!("the key is not a PKCS#8 P-256 PEM: {e}")))?;
        let mut header = Header::new(Algorithm::ES256);
        // Apple's header is exactly {"alg":"ES256","kid":…}; `typ` would be harmless, but is
        // left out to match the documentation byte for byte.
        header.typ = None;
        header.kid = Some(key_id.to_owned());
        let now = clock.now();
        let first = sign(&key, &header, team_id, now, 1)?;
        Ok(TokenCache {
            key,
            header,
            team_id: team_id.to_owned(),
            clock,
            refresh,
            current: RwLock::new(Arc::new(first)),
            minting: Mutex::new(()),
            minted: AtomicU64::new(1),
        })
    }

    /// The token to send now: the cached one while it is younger than the refresh interval,
    /// else a new one made by exactly one caller.
    pub fn current(&self) -> Result<Arc<ProviderToken>, SignError> {
        let now = self.clock.now();
        let token = self.read();
        if self.fresh(&token, now) {
            return Ok(token);
        }
        let _minting = self.minting.lock().unwrap_or_else(PoisonError::into_inner);
        let token = self.read();
        if self.fresh(&token, now) {
            return Ok(token);
        }
        self.mint(token.generation, now)
    }

    /// After `403 ExpiredProviderToken` for `generation`: a new token if that one is still the
    /// current one, else the one another caller already made.
    pub fn replace_expired(&self, generation: u64) -> Result<Arc<ProviderToken>, SignError> {
        let _minting = self.minting.lock().unwrap_or_else(PoisonError::into_inner);
        let token = self.read();
        if token.generation != generation {
            return Ok(token);
        }
        self.mint(generation, self.clock.now())
    }

    /// How many tokens were signed so far (the first one included).
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    fn mint(&self, previous: u64, now: SystemTime) -> Result<Arc<ProviderToken>, SignError> {
        let token = Arc::new(sign(
            &self.key,
            &self.header,
            &self.team_id,
            now,
            previous + 1,
        )?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = token.clone();
        self.minted.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(generation = token.generation, "new APNs provider token");
        Ok(token)
    }

    fn read(&self) -> Arc<ProviderToken> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn fresh(&self, token: &ProviderToken, now: SystemTime) -> bool {
        // A clock that went backwards keeps the token (its age is unknown, not large).
        now.duration_since(token.issued)
            .map_or(true, |age| age < self.refresh)
    }
}

fn sign(
    key: &EncodingKey,
    header: &Header,
    team_id: &str,
    now: SystemTime,
    generation: u64,
) -> Result<ProviderToken, SignError> {
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let jwt = jsonwebtoken::encode(header, &Claims { iss: team_id, iat }, key)
        .map_err(|e| SignError(e.to_string()))?;
    let mut value =
        HeaderValue::try_from(format!("bearer {jwt}")).map_err(|e| SignError(e.to_string()))?;
    value.set_sensitive(true);
    let mut block = Vec::with_capacity(value.len() + 4);
    crate::hpack::never_indexed(&mut block, crate::hpack::AUTHORIZATION, value.as_bytes());
    Ok(ProviderToken {
        #[cfg(test)]
        header: value,
        block,
        generation,
        issued: now,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::AtomicU64;

    use base64::Engine as _;

    use super::*;

    /// A clock moved by hand.
    #[derive(Debug, Default)]
    pub(crate) struct ManualClock(AtomicU64);

    impl ManualClock {
        pub fn at(secs: u64) -> Arc<ManualClock> {
            Arc::new(ManualClock(AtomicU64::new(secs)))
        }
        pub fn advance(&self, by: Duration) {
            self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
        }
    }

    fn cache(clock: Arc<ManualClock>) -> (TokenCache, pushway_mock::apns::TestKey) {
        let key = pushway_mock::apns::TestKey::generate();
        let cache = TokenCache::new(
            key.private_key_pem().as_bytes(),
            "KEY1234567",
            "TEAM123456",
            clock,
            DEFAULT_REFRESH,
        )
        .unwrap();
        (cache, key)
    }

    fn parts(token: &ProviderToken) -> (serde_json::Value, serde_json::Value, Vec<u8>) {
        let text = token.header.to_str().unwrap();
        let jwt = text.strip_prefix("bearer ").unwrap();
        let mut it = jwt.split('.');
        let dec = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let h = serde_json::from_slice(&dec(it.next().unwrap())).unwrap();
        let c = serde_json::from_slice(&dec(it.next().unwrap())).unwrap();
        (h, c, dec(it.next().unwrap()))
    }

    #[test]
    fn token_has_apples_header_and_claims_and_verifies() {
        let clock = ManualClock::at(1_767_222_000);
        let (cache, key) = cache(clock);
        let token = cache.current().unwrap();
        assert!(token.header.is_sensitive());
        let (h, c, sig) = parts(&token);
        assert_eq!(h, serde_json::json!({"alg": "ES256", "kid": "KEY1234567"}));
        assert_eq!(
            c,
            serde_json::json!({"iss": "TEAM123456", "iat": 1_767_222_000})
        );
        assert_eq!(sig.len(), 64, "JWS r||s, not DER");
        let jwt = token
            .header
            .to_str()
            .unwrap()
            .strip_prefix("bearer ")
            .unwrap();
        let decoding =
            jsonwebtoken::DecodingKey::from_ec_pem(key.public_key_pem().as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(jwt, &decoding, &validation).unwrap();
    }

    #[test]
    fn token_is_reused_until_the_refresh_interval_then_replaced_once() {
        let clock = ManualClock::at(1_000_000);
        let (cache, _) = cache(clock.clone());
        let first = cache.current().unwrap();
        clock.advance(Duration::from_secs(49 * 60));
        assert!(Arc::ptr_eq(&first, &cache.current().unwrap()));
        clock.advance(Duration::from_secs(60));
        let second = cache.current().unwrap();
        assert_eq!(second.generation, 2);
        assert!(Arc::ptr_eq(&second, &cache.current().unwrap()));
        assert_eq!(cache.minted(), 2);
    }

    #[test]
    fn many_threads_at_the_refresh_moment_mint_one_token() {
        let clock = ManualClock::at(1_000_000);
        let (cache, _) = cache(clock.clone());
        clock.advance(DEFAULT_REFRESH);
        let gens: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| s.spawn(|| cache.current().unwrap().generation))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(gens.iter().all(|&g| g == 2), "{gens:?}");
        assert_eq!(cache.minted(), 2);
    }

    #[test]
    fn expired_replaces_only_the_current_generation() {
        let clock = ManualClock::at(1_000_000);
        let (cache, _) = cache(clock);
        let first = cache.current().unwrap();
        let second = cache.replace_expired(first.generation).unwrap();
        assert_eq!(second.generation, 2);
        // A second caller that failed with the first token gets the second, not a third.
        let again = cache.replace_expired(first.generation).unwrap();
        assert!(Arc::ptr_eq(&second, &again));
        assert_eq!(cache.minted(), 2);
    }

    #[test]
    fn sec1_and_garbage_keys_are_refused() {
        let clock = ManualClock::at(0);
        assert!(TokenCache::new(b"nope", "K", "T", clock, DEFAULT_REFRESH).is_err());
    }
}
