//! Which device tokens (Xiaomi regids, Huawei push tokens) a simulator treats as valid.

use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};

/// The device-token book of one simulator.
///
/// A token is valid when it is well formed (not empty, no whitespace: vendors' tokens are
/// base64-like, and a `+` sent unescaped arrives as a space), was not unregistered, and either the
/// book accepts any token or the token was registered.
#[derive(Debug)]
pub(crate) struct TokenBook {
    inner: RwLock<Inner>,
}

#[derive(Debug)]
struct Inner {
    accept_any: bool,
    known: HashSet<String>,
    unregistered: HashSet<String>,
}

impl TokenBook {
    /// A book that accepts any well-formed token (`accept_any`) or only registered ones.
    pub fn new(accept_any: bool, known: impl IntoIterator<Item = String>) -> Self {
        TokenBook {
            inner: RwLock::new(Inner {
                accept_any,
                known: known.into_iter().collect(),
                unregistered: HashSet::new(),
            }),
        }
    }

    /// Marks tokens as registered (valid again if they were unregistered).
    pub fn register(&self, tokens: impl IntoIterator<Item = String>) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for token in tokens {
            inner.unregistered.remove(&token);
            inner.known.insert(token);
        }
    }

    /// Marks tokens as unregistered: invalid from now on, even when any token is accepted.
    pub fn unregister(&self, tokens: impl IntoIterator<Item = String>) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for token in tokens {
            inner.known.remove(&token);
            inner.unregistered.insert(token);
        }
    }

    /// Switches between accepting any well-formed token and only registered ones.
    pub fn set_accept_any(&self, accept_any: bool) {
        self.inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .accept_any = accept_any;
    }

    /// Splits `tokens` into the number of valid ones and the invalid ones, in request order.
    pub fn partition<'a>(
        &self,
        tokens: impl IntoIterator<Item = &'a str>,
    ) -> (usize, Vec<&'a str>) {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut valid = 0;
        let mut invalid = Vec::new();
        for token in tokens {
            if inner.is_valid(token) {
                valid += 1;
            } else {
                invalid.push(token);
            }
        }
        (valid, invalid)
    }
}

impl Inner {
    fn is_valid(&self, token: &str) -> bool {
        if token.is_empty() || token.chars().any(char::is_whitespace) {
            return false;
        }
        if !self.unregistered.is_empty() && self.unregistered.contains(token) {
            return false;
        }
        self.accept_any || self.known.contains(token)
    }
}
