//! A fixed number of long-lived connections, used round-robin. A slot whose connection died,
//! received a GOAWAY or was retired after an APNs answer that asks for a new connection is
//! reconnected by one caller; the others wait for that connection instead of opening their own.
//! Failed connects back off (Apple treats rapid reconnecting as abuse), and so does reconnecting
//! after APNs refused the provider token: a revoked key or a key of the wrong team or
//! environment would otherwise open a new connection for every send.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::connection::{Conn, Connector};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// After a refused provider token: the first hold, doubled per refusal up to the last.
const AUTH_HOLD_MIN: Duration = Duration::from_secs(1);
const AUTH_HOLD_MAX: Duration = Duration::from_secs(60);

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("connect failed: {0}")]
    Io(#[from] io::Error),
    #[error("connect timed out")]
    Timeout,
    #[error("backing off after a failed connect")]
    BackingOff,
    /// APNs refused the provider token with this reason; not reconnecting until the hold ends.
    #[error("APNs refused the provider token ({0}); not reconnecting for {1:?}")]
    AuthHeld(String, Duration),
}

struct Slot {
    current: RwLock<Option<Arc<Conn>>>,
    /// Held while connecting, so one caller connects per slot.
    connecting: tokio::sync::Mutex<Backoff>,
    /// Set after a refused provider token, cleared by the next answer that is not a refusal.
    auth_refused: AtomicBool,
    auth_hold: std::sync::Mutex<AuthHold>,
}

#[derive(Default)]
struct AuthHold {
    until: Option<Instant>,
    delay: Duration,
    reason: String,
}

#[derive(Default)]
struct Backoff {
    next_try: Option<Instant>,
    delay: Duration,
}

pub(crate) struct Pool {
    connector: Connector,
    connect_timeout: Duration,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

impl Pool {
    pub fn new(connector: Connector, connections: usize, connect_timeout: Duration) -> Pool {
        let slots = (0..connections.max(1))
            .map(|_| Slot {
                current: RwLock::new(None),
                connecting: tokio::sync::Mutex::new(Backoff::default()),
                auth_refused: AtomicBool::new(false),
                auth_hold: std::sync::Mutex::new(AuthHold::default()),
            })
            .collect();
        Pool {
            connector,
            connect_timeout,
            slots,
            next: AtomicUsize::new(0),
        }
    }

    /// The next slot, round-robin.
    pub fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()
    }

    fn live(&self, slot: usize) -> Option<Arc<Conn>> {
        let current = self.slots[slot]
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| c.usable()).cloned()
    }

    /// The slot's live connection, connecting first if it has none.
    pub async fn get(&self, slot: usize) -> Result<Arc<Conn>, ConnectError> {
        if let Some(conn) = self.live(slot) {
            return Ok(conn);
        }
        // Boxed: the connect future (TCP, TLS, HTTP/2 handshake) is large and rarely needed, and
        // inlined it would make every in-flight send carry its size.
        Box::pin(self.connect_slot(slot)).await
    }

    async fn connect_slot(&self, slot: usize) -> Result<Arc<Conn>, ConnectError> {
        let mut backoff = self.slots[slot].connecting.lock().await;
        if let Some(conn) = self.live(slot) {
            return Ok(conn);
        }
        if backoff.next_try.is_some_and(|t| Instant::now() < t) {
            return Err(ConnectError::BackingOff);
        }
        if self.slots[slot].auth_refused.load(Ordering::Acquire) {
            let hold = self.slots[slot]
                .auth_hold
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if let Some(until) = hold.until.filter(|&u| now < u) {
                return Err(ConnectError::AuthHeld(hold.reason.clone(), until - now));
            }
        }
        let result =
            match tokio::time::timeout(self.connect_timeout, self.connector.connect()).await {
                Ok(Ok(conn)) => Ok(conn),
                Ok(Err(e)) => Err(ConnectError::Io(e)),
                Err(_) => Err(ConnectError::Timeout),
            };
        match result {
            Ok(conn) => {
                *backoff = Backoff::default();
                *self.slots[slot]
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                backoff.delay = (backoff.delay * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                backoff.next_try = Some(Instant::now() + backoff.delay);
                tracing::warn!(error = %e, retry_in = ?backoff.delay, "cannot connect to APNs");
                Err(e)
            }
        }
    }

    /// APNs refused the provider token (`reason`) on the slot's connection: the slot does not
    /// reconnect for a while (1 s, doubling per refusal up to 60 s), and sends meanwhile come
    /// back as `Auth` without a request.
    pub fn hold_after_auth(&self, slot: usize, reason: &str) {
        let s = &self.slots[slot];
        let mut hold = s.auth_hold.lock().unwrap_or_else(PoisonError::into_inner);
        hold.delay = (hold.delay * 2).clamp(AUTH_HOLD_MIN, AUTH_HOLD_MAX);
        hold.until = Some(Instant::now() + hold.delay);
        reason.clone_into(&mut hold.reason);
        s.auth_refused.store(true, Ordering::Release);
        tracing::warn!(reason, hold = ?hold.delay, "APNs refused the provider token; holding reconnects");
    }

    /// An answer that was not a token refusal: the token works again, holds start over.
    pub fn token_accepted(&self, slot: usize) {
        let s = &self.slots[slot];
        if s.auth_refused.load(Ordering::Relaxed) && s.auth_refused.swap(false, Ordering::AcqRel) {
            *s.auth_hold.lock().unwrap_or_else(PoisonError::into_inner) = AuthHold::default();
        }
    }

    /// Stops handing out connection `conn` (if it is still the slot's), so the next caller
    /// opens a new one; its open streams finish on it.
    pub fn retire(&self, slot: usize, conn: &Conn) {
        conn.retire();
        let mut current = self.slots[slot]
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|c| c.id == conn.id) {
            *current = None;
        }
    }
}
