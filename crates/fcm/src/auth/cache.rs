//! One cached credential per provider, refreshed once however many sends need it.
//!
//! - Fresh credential: every send uses it (a read lock, no await).
//! - Inside the refresh window (`refresh_ahead` before expiry, at most half the lifetime): the
//!   first send to take the refresh lock fetches a new one; every other send keeps using the old,
//!   still valid credential and does not wait.
//! - No credential, or an expired or invalidated one: sends queue on the refresh lock; the first
//!   fetches, the others find its result (or its failure) and do not fetch again.
//! - A failed fetch is remembered for [`FAILURE_HOLD`]: sends in that time get the same failure
//!   without calling the issuer again (a broken key must not turn every send into a token request).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use pushway_core::Reason;
use reqwest::header::HeaderValue;
use tokio::time::Instant;

use super::{AuthFailure, TokenSource};

/// How long a failed fetch is answered from memory.
pub(crate) const FAILURE_HOLD: Duration = Duration::from_secs(1);

/// The `Authorization` header value of one credential (marked sensitive).
pub(crate) type Bearer = Arc<HeaderValue>;

#[derive(Clone)]
struct Cached {
    bearer: Bearer,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The credential cache of one provider.
pub(crate) struct TokenCache {
    source: Box<dyn TokenSource>,
    // std locks: never held across an await (the guards live in small sync blocks).
    current: RwLock<Option<Cached>>,
    failure: Mutex<Option<(Instant, AuthFailure)>>,
    refresh: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl TokenCache {
    pub fn new(source: Box<dyn TokenSource>) -> Self {
        TokenCache {
            source,
            current: RwLock::new(None),
            failure: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the issuer was asked for a credential.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn cached(&self) -> Option<Cached> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn recent_failure(&self) -> Option<AuthFailure> {
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_HOLD)
            .map(|(_, f)| f.clone())
    }

    /// A valid credential, fetching one if needed.
    pub async fn bearer(&self) -> Result<Bearer, AuthFailure> {
        if let Some(cached) = self.cached() {
            let now = Instant::now();
            if now < cached.refresh_at {
                return Ok(cached.bearer);
            }
            if now < cached.expires_at {
                // Ahead of expiry: one task refreshes, the others go on with the valid one.
                if let Ok(_guard) = self.refresh.try_lock() {
                    if let Some(newer) = self.cached()
                        && Instant::now() < newer.refresh_at
                    {
                        return Ok(newer.bearer);
                    }
                    if self.recent_failure().is_none()
                        && let Ok(bearer) = self.fetch_and_store().await
                    {
                        return Ok(bearer);
                    }
                }
                return Ok(cached.bearer);
            }
        }
        let _guard = self.refresh.lock().await;
        if let Some(cached) = self.cached()
            && Instant::now() < cached.expires_at
        {
            return Ok(cached.bearer);
        }
        if let Some(failure) = self.recent_failure() {
            return Err(failure);
        }
        self.fetch_and_store().await
    }

    /// Forgets `used` if it is still the cached credential (the server refused it), so the next
    /// [`bearer`](TokenCache::bearer) fetches a new one. Many sends refused with the same
    /// credential cause one fetch: after the first invalidation the cache holds another one.
    pub fn invalidate(&self, used: &Bearer) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.bearer, used))
        {
            *current = None;
        }
    }

    async fn fetch_and_store(&self) -> Result<Bearer, AuthFailure> {
        let started = Instant::now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.source.fetch().await.and_then(|fresh| {
            let mut header =
                HeaderValue::try_from(format!("Bearer {}", fresh.token)).map_err(|_| {
                    AuthFailure::Refused(
                        Reason::new("oauth_bad_token")
                            .with_detail("the issued token is not a valid header value"),
                    )
                })?;
            header.set_sensitive(true);
            Ok((Arc::new(header), fresh.lifetime))
        });
        match result {
            Ok((bearer, lifetime)) => {
                let margin = self.source.refresh_ahead().min(lifetime / 2);
                let expires_at = started + lifetime;
                let cached = Cached {
                    bearer: Arc::clone(&bearer),
                    refresh_at: expires_at - margin,
                    expires_at,
                };
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(cached);
                *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
                Ok(bearer)
            }
            Err(failure) => {
                *self.failure.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((Instant::now(), failure.clone()));
                Err(failure)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use async_trait::async_trait;

    use super::super::Fresh;
    use super::*;

    struct Counting {
        calls: Arc<AtomicU64>,
        fail: Arc<AtomicBool>,
        lifetime: Duration,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn fetch(&self) -> Result<Fresh, AuthFailure> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(AuthFailure::Unavailable {
                    reason: Reason::new(Reason::TIMEOUT),
                    after: None,
                });
            }
            Ok(Fresh {
                token: format!("t{n}"),
                lifetime: self.lifetime,
            })
        }

        fn refresh_ahead(&self) -> Duration {
            Duration::from_secs(300)
        }
    }

    fn cache(lifetime: Duration) -> (Arc<TokenCache>, Arc<AtomicU64>, Arc<AtomicBool>) {
        let calls = Arc::new(AtomicU64::new(0));
        let fail = Arc::new(AtomicBool::new(false));
        let source = Counting {
            calls: Arc::clone(&calls),
            fail: Arc::clone(&fail),
            lifetime,
        };
        (Arc::new(TokenCache::new(Box::new(source))), calls, fail)
    }

    async fn many(cache: &Arc<TokenCache>, n: usize) -> Vec<Result<Bearer, AuthFailure>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let cache = Arc::clone(cache);
                tokio::spawn(async move { cache.bearer().await })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    }

    fn text(bearer: &Bearer) -> &str {
        bearer.to_str().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn first_use_fetches_once_for_500_waiters_then_reuses() {
        let (cache, calls, _) = cache(Duration::from_secs(3600));
        let got = many(&cache, 500).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(got.iter().all(|b| text(b.as_ref().unwrap()) == "Bearer t1"));
        assert!(cache.bearer().await.unwrap().is_sensitive());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn refresh_window_is_min_of_ahead_and_half_the_lifetime() {
        let (cache, calls, _) = cache(Duration::from_secs(3600));
        cache.bearer().await.unwrap();
        // 3600 s lifetime, 300 s ahead: still the same token at 3299 s, a new one at 3301 s.
        tokio::time::advance(Duration::from_secs(3299)).await;
        cache.bearer().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        let got = many(&cache, 500).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "exactly one refresh");
        // The refreshing task got the new token; the others kept the valid old one meanwhile.
        assert!(got.iter().any(|b| text(b.as_ref().unwrap()) == "Bearer t2"));
        assert_eq!(text(&cache.bearer().await.unwrap()), "Bearer t2");

        let (cache, calls, _) = cache_short();
        cache.bearer().await.unwrap();
        tokio::time::advance(Duration::from_secs(6)).await; // past half of 10 s
        cache.bearer().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    fn cache_short() -> (Arc<TokenCache>, Arc<AtomicU64>, Arc<AtomicBool>) {
        cache(Duration::from_secs(10))
    }

    #[tokio::test(start_paused = true)]
    async fn expired_token_makes_500_senders_wait_for_one_fetch() {
        let (cache, calls, _) = cache(Duration::from_secs(3600));
        cache.bearer().await.unwrap();
        tokio::time::advance(Duration::from_secs(3601)).await;
        let got = many(&cache, 500).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(got.iter().all(|b| text(b.as_ref().unwrap()) == "Bearer t2"));
    }

    #[tokio::test(start_paused = true)]
    async fn invalidation_by_many_refused_sends_fetches_once() {
        let (cache, calls, _) = cache(Duration::from_secs(3600));
        let old = cache.bearer().await.unwrap();
        for _ in 0..500 {
            cache.invalidate(&old);
            // Later refusals of the same old token must not drop the new one.
            let new = cache.bearer().await.unwrap();
            assert_eq!(text(&new), "Bearer t2");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_shared_by_the_waiters_and_held_briefly() {
        let (cache, calls, fail) = cache(Duration::from_secs(3600));
        fail.store(true, Ordering::SeqCst);
        let got = many(&cache, 200).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "waiters share the failure");
        assert!(got.iter().all(Result::is_err));
        fail.store(false, Ordering::SeqCst);
        assert!(cache.bearer().await.is_err(), "held for FAILURE_HOLD");
        tokio::time::advance(FAILURE_HOLD).await;
        assert_eq!(text(&cache.bearer().await.unwrap()), "Bearer t2");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_early_refresh_keeps_the_valid_token() {
        let (cache, calls, fail) = cache(Duration::from_secs(3600));
        cache.bearer().await.unwrap();
        tokio::time::advance(Duration::from_secs(3400)).await;
        fail.store(true, Ordering::SeqCst);
        assert_eq!(text(&cache.bearer().await.unwrap()), "Bearer t1");
        assert_eq!(text(&cache.bearer().await.unwrap()), "Bearer t1");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "the failure is held, not retried at once"
        );
    }
}
