//! What the service refuses, as types: the API maps each to one problem `type`.

use crate::store::StoreError;

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
    /// The token kind is not served by the gateway yet.
    #[error("{0} devices are not yet supported by the gateway")]
    UnsupportedKind(String),
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
