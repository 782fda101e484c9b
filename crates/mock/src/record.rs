//! Bounded recording of the requests a simulator received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, Method, Version};

/// One request as the simulator received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path and query, as sent on the wire (not decoded).
    pub path: String,
    /// The HTTP version the request arrived with.
    pub version: Version,
    /// Every header, as received.
    pub headers: HeaderMap,
    /// The raw body bytes.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The value of a header as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body decoded as `application/x-www-form-urlencoded`, every pair in wire order.
    ///
    /// Decoded the way a servlet decodes a form: `+` becomes a space and `%XX` escapes are
    /// decoded exactly, so a regid sent with an unescaped `+` reads back with a space.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The first value of a form field of the body (see [`RecordedRequest::form`]).
    pub fn form_value(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(&self.body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// How many requests a simulator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Keep nothing (benchmarks): only the count is kept.
    Off,
    /// Keep the most recent `n` requests.
    Last(usize),
}

impl Default for Recording {
    fn default() -> Self {
        Recording::Last(10_000)
    }
}

/// A shared, bounded log of received requests. Cloning shares the log.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    mode: Recording,
    total: u64,
    kept: VecDeque<RecordedRequest>,
}

impl Recorder {
    /// A recorder in the given mode.
    pub fn new(mode: Recording) -> Self {
        Recorder {
            inner: Arc::new(Mutex::new(Inner {
                mode,
                total: 0,
                kept: VecDeque::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a request, evicting the oldest one past the bound. `make` is only called when the
    /// request is kept, so a recorder that is off costs one counter increment.
    pub fn record_with(&self, make: impl FnOnce() -> RecordedRequest) {
        let mut inner = self.lock();
        inner.total += 1;
        match inner.mode {
            Recording::Off => {}
            Recording::Last(0) => {}
            Recording::Last(n) => {
                if inner.kept.len() == n {
                    inner.kept.pop_front();
                }
                let request = make();
                inner.kept.push_back(request);
            }
        }
    }

    /// The kept requests, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().kept.iter().cloned().collect()
    }

    /// How many requests were received in all (kept or not).
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// Forgets the kept requests and resets the count.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.kept.clear();
        inner.total = 0;
    }

    /// Changes the recording mode; kept requests beyond a new bound are dropped, oldest first.
    pub fn set_mode(&self, mode: Recording) {
        let mut inner = self.lock();
        inner.mode = mode;
        let bound = match mode {
            Recording::Off => 0,
            Recording::Last(n) => n,
        };
        while inner.kept.len() > bound {
            inner.kept.pop_front();
        }
    }
}
