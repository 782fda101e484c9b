//! The crate's error: what can go wrong before any push is sent (building the provider, reading a
//! service-account key file). Sending never fails with an error: it reports outcomes.

use std::fmt;

/// Building an [`FcmProvider`](crate::FcmProvider) or reading a key file failed.
///
/// Opaque on purpose: match on the predicates, not on the message. Messages never contain a
/// secret.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Key,
    Http,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(Kind::Config, message.into())
    }

    pub(crate) fn key(message: impl Into<String>) -> Self {
        Error::new(Kind::Key, message.into())
    }

    pub(crate) fn http(message: impl Into<String>) -> Self {
        Error::new(Kind::Http, message.into())
    }

    fn new(kind: Kind, message: String) -> Self {
        Error {
            inner: Box::new(Inner { kind, message }),
        }
    }

    /// The configuration is incomplete or contradictory (no project, no service account, a bad URL…).
    pub fn is_config(&self) -> bool {
        self.inner.kind == Kind::Config
    }

    /// A service-account key file cannot be read or is malformed (a missing field, a `type`
    /// other than `service_account`), or its private key is not a usable RSA key.
    pub fn is_key(&self) -> bool {
        self.inner.kind == Kind::Key
    }

    /// The HTTP client could not be created (for example no TLS backend).
    pub fn is_http(&self) -> bool {
        self.inner.kind == Kind::Http
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.inner.kind {
            Kind::Config => "invalid FCM provider configuration",
            Kind::Key => "invalid FCM service-account key",
            Kind::Http => "cannot create the HTTP client",
        };
        write!(f, "{what}: {}", self.inner.message)
    }
}

impl std::error::Error for Error {}
