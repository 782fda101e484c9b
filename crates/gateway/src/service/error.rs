//! What the service refuses, as types: the API maps each to one problem `type`.

use crate::store::{Login, StoreError};

/// Why the service refused or failed a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No app has this id.
    #[error("no such app")]
    UnknownApp,
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field's path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The app has no credential of this name for this token kind.
    #[error("the app has no {kind} credential named {credential:?}")]
    UnknownCredential {
        /// The token kind.
        kind: String,
        /// The credential name.
        credential: String,
    },
    /// The app has no channel of this token kind (daemon devices need `[apps.<app>.daemon]`).
    #[error("this app has no {0} channel configured")]
    UnsupportedKind(String),
    /// The app has no daemon channel.
    #[error("this app has no daemon channel configured")]
    NoDaemonChannel,
    /// The device is registered with another kind than `daemon`.
    #[error("the device is not a daemon device")]
    NotDaemonDevice,
    /// The device is logged out or kicked: it gets no token until it logs in again.
    #[error("the device is {}: it gets no token until it logs in again", .0.as_str())]
    NotLoggedIn(Login),
    /// The daemon hub's queue store failed.
    #[error("daemon channel: {0}")]
    Daemon(String),
    /// No such device.
    #[error("no such device")]
    UnknownDevice,
    /// No such message.
    #[error("no such message")]
    UnknownMessage,
    /// The idempotency key was used before for a different request.
    #[error("the Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
