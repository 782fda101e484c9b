//! One cached credential, refreshed once however many sends need it.
//!
//! - Fresh credential: every send uses it (a read lock, no await).
//! - Inside the refresh window (`refresh_ahead` before expiry, at most half the lifetime): the
//!   first send to take the refresh lock fetches a new one; every other send keeps using the old,
//!   still valid credential and does not wait.
//! - No credential, or an expired or invalidated one: sends queue on the refresh lock; the first
//!   fetches, the others find its result (or its failure) and do not fetch again.
//! - A failed fetch is remembered for the source's `failure_hold`: sends in that time get the
//!   same failure without calling the issuer again.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::time::Instant;

use super::{AuthFailure, CredentialSource};

struct Cached<C> {
    credential: Arc<C>,
    refresh_at: Instant,
    expires_at: Instant,
}

impl<C> Clone for Cached<C> {
    fn clone(&self) -> Self {
        Cached {
            credential: Arc::clone(&self.credential),
            refresh_at: self.refresh_at,
            expires_at: self.expires_at,
        }
    }
}

/// The credential cache of one channel credential (see the [module docs](super)).
///
/// Share it (`Arc`, or inside the provider's shared state): clones of a provider must use one
/// cache, or each would fetch its own credential.
pub struct CredentialCache<C> {
    source: Box<dyn CredentialSource<Credential = C>>,
    // std locks: never held across an await (the guards live in small sync blocks).
    current: RwLock<Option<Cached<C>>>,
    failure: Mutex<Option<(Instant, AuthFailure)>>,
    refresh: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl<C> fmt::Debug for CredentialCache<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCache")
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<C: Send + Sync + 'static> CredentialCache<C> {
    /// An empty cache: the first [`get`](CredentialCache::get) fetches.
    pub fn new(source: Box<dyn CredentialSource<Credential = C>>) -> Self {
        CredentialCache {
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

    fn cached(&self) -> Option<Cached<C>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn recent_failure(&self) -> Option<AuthFailure> {
        let hold = self.source.failure_hold();
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure
            .as_ref()
            .filter(|(at, _)| at.elapsed() < hold)
            .map(|(_, f)| f.clone())
    }

    /// A valid credential, fetching one if needed.
    pub async fn get(&self) -> Result<Arc<C>, AuthFailure> {
        if let Some(cached) = self.cached() {
            let now = Instant::now();
            if now < cached.refresh_at {
                return Ok(cached.credential);
            }
            if now < cached.expires_at {
                // Ahead of expiry: one task refreshes, the others go on with the valid one.
                if let Ok(_guard) = self.refresh.try_lock() {
                    if let Some(newer) = self.cached()
                        && Instant::now() < newer.refresh_at
                    {
                        return Ok(newer.credential);
                    }
                    if self.recent_failure().is_none()
                        && let Ok(credential) = self.fetch_and_store().await
                    {
                        return Ok(credential);
                    }
                }
                return Ok(cached.credential);
            }
        }
        let _guard = self.refresh.lock().await;
        if let Some(cached) = self.cached()
            && Instant::now() < cached.expires_at
        {
            return Ok(cached.credential);
        }
        if let Some(failure) = self.recent_failure() {
            return Err(failure);
        }
        self.fetch_and_store().await
    }

    /// Forgets `used` if it is still the cached credential (the vendor refused it), so the next
    /// [`get`](CredentialCache::get) fetches a new one. Many sends refused with the same
    /// credential cause one fetch: after the first invalidation the cache holds another one.
    pub fn invalidate(&self, used: &Arc<C>) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.credential, used))
        {
            *current = None;
        }
    }

    async fn fetch_and_store(&self) -> Result<Arc<C>, AuthFailure> {
        let started = Instant::now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.source.fetch().await {
            Ok(fresh) => {
                let credential = Arc::new(fresh.credential);
                let margin = self.source.refresh_ahead().min(fresh.lifetime / 2);
                let expires_at = started + fresh.lifetime;
                let cached = Cached {
                    credential: Arc::clone(&credential),
                    refresh_at: expires_at - margin,
                    expires_at,
                };
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(cached);
                *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
                Ok(credential)
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
    use std::time::Duration;

    use async_trait::async_trait;

    use super::super::Fresh;
    use super::*;
    use crate::Reason;

    /// Each source's own hold, deliberately not one second, so the tests show the cache uses it.
    const HOLD: Duration = Duration::from_secs(2);

    struct Counting {
        calls: Arc<AtomicU64>,
        fail: Arc<AtomicBool>,
        lifetime: Duration,
    }

    #[async_trait]
    impl CredentialSource for Counting {
        type Credential = String;

        async fn fetch(&self) -> Result<Fresh<String>, AuthFailure> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(AuthFailure::Unavailable {
                    reason: Reason::new(Reason::TIMEOUT),
                    after: None,
                });
            }
            Ok(Fresh {
                credential: format!("t{n}"),
                lifetime: self.lifetime,
            })
        }

        fn refresh_ahead(&self) -> Duration {
            Duration::from_secs(300)
        }

        fn failure_hold(&self) -> Duration {
            HOLD
        }
    }

    type Cache = Arc<CredentialCache<String>>;

    fn counted(lifetime: Duration) -> (Cache, Arc<AtomicU64>, Arc<AtomicBool>) {
        let calls = Arc::new(AtomicU64::new(0));
        let fail = Arc::new(AtomicBool::new(false));
        let source = Counting {
            calls: Arc::clone(&calls),
            fail: Arc::clone(&fail),
            lifetime,
        };
        (
            Arc::new(CredentialCache::new(Box::new(source))),
            calls,
            fail,
        )
    }

    async fn many(cache: &Cache, n: usize) -> Vec<Result<Arc<String>, AuthFailure>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let cache = Arc::clone(cache);
                tokio::spawn(async move { cache.get().await })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    }

    fn text(got: &Result<Arc<String>, AuthFailure>) -> &str {
        got.as_ref().unwrap().as_str()
    }

    #[tokio::test(start_paused = true)]
    async fn first_use_fetches_once_for_500_waiters_then_reuses() {
        let (cache, calls, _) = counted(Duration::from_secs(3600));
        let got = many(&cache, 500).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(got.iter().all(|c| text(c) == "t1"));
        // Every waiter holds the very same credential, not a copy.
        let first = got[0].as_ref().unwrap();
        assert!(got.iter().all(|c| Arc::ptr_eq(c.as_ref().unwrap(), first)));
        assert_eq!(text(&cache.get().await), "t1");
        assert_eq!(cache.fetches(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn refresh_window_is_min_of_ahead_and_half_the_lifetime() {
        let (cache, calls, _) = counted(Duration::from_secs(3600));
        cache.get().await.unwrap();
        // 3600 s lifetime, 300 s ahead: still the same credential at 3299 s, a new one at 3301 s.
        tokio::time::advance(Duration::from_secs(3299)).await;
        cache.get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        let got = many(&cache, 500).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "exactly one refresh");
        // The refreshing task got the new credential; the others kept the valid old one meanwhile.
        assert!(got.iter().any(|c| text(c) == "t2"));
        assert!(got.iter().all(|c| ["t1", "t2"].contains(&text(c))));
        assert_eq!(text(&cache.get().await), "t2");

        // 10 s lifetime: half of it (5 s) is less than 300 s ahead.
        let (cache, calls, _) = counted(Duration::from_secs(10));
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(4)).await;
        cache.get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await; // past half of 10 s
        assert_eq!(text(&cache.get().await), "t2");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_credential_makes_500_senders_wait_for_one_fetch() {
        let (cache, calls, _) = counted(Duration::from_secs(3600));
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(3601)).await;
        let got = many(&cache, 500).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(got.iter().all(|c| text(c) == "t2"));
    }

    #[tokio::test(start_paused = true)]
    async fn invalidation_by_many_refused_sends_fetches_once() {
        let (cache, calls, _) = counted(Duration::from_secs(3600));
        let old = cache.get().await.unwrap();
        for _ in 0..500 {
            cache.invalidate(&old);
            // Later refusals of the same old credential must not drop the new one.
            assert_eq!(text(&cache.get().await), "t2");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_shared_by_the_waiters_and_held_for_the_sources_hold() {
        let (cache, calls, fail) = counted(Duration::from_secs(3600));
        fail.store(true, Ordering::SeqCst);
        let got = many(&cache, 200).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "waiters share the failure");
        let timeout = AuthFailure::Unavailable {
            reason: Reason::new(Reason::TIMEOUT),
            after: None,
        };
        assert!(got.iter().all(|c| c.as_ref().err() == Some(&timeout)));
        fail.store(false, Ordering::SeqCst);
        // The failure was stored when the 50 ms fetch ended; the hold runs from then.
        tokio::time::advance(HOLD - Duration::from_millis(1)).await;
        assert_eq!(cache.get().await.unwrap_err(), timeout, "still held");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(text(&cache.get().await), "t2");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_early_refresh_keeps_the_valid_credential() {
        let (cache, calls, fail) = counted(Duration::from_secs(3600));
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(3400)).await;
        fail.store(true, Ordering::SeqCst);
        assert_eq!(text(&cache.get().await), "t1");
        assert_eq!(text(&cache.get().await), "t1");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "the failure is held, not retried at once"
        );
    }
}
