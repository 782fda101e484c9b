//! pushway's error type: opaque, with predicates.

use std::fmt;

use crate::limits::PayloadTooLarge;
use crate::render::RenderError;

/// An error from pushway: bad input, bad configuration, a payload that cannot fit, a render
/// failure. Per-token delivery results are never errors: they are [`crate::Outcome`]s.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

enum Kind {
    InvalidInput { field: String, message: String },
    Config(String),
    PayloadTooLarge(PayloadTooLarge),
    Render(RenderError),
    Transport(String),
}

impl Error {
    /// Input that does not fit the model; `field` is the path of the offending field
    /// (`"elements[2].type"`, `"."` for the whole document).
    pub fn invalid_input(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::new(
            Kind::InvalidInput {
                field: field.into(),
                message: message.into(),
            },
            None,
        )
    }

    /// A configuration problem (a builder missing a setting, a key that does not parse…).
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(Kind::Config(message.into()), None)
    }

    /// A configuration problem caused by `source`.
    pub fn config_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::new(Kind::Config(message.into()), Some(Box::new(source)))
    }

    /// A transport failure outside a send (binding, starting a server…).
    pub fn transport(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::new(Kind::Transport(message.into()), Some(Box::new(source)))
    }

    fn new(kind: Kind, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error {
            inner: Box::new(Inner { kind, source }),
        }
    }

    /// Whether the input did not fit the model.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self.inner.kind, Kind::InvalidInput { .. })
    }

    /// The path of the offending field, for invalid input.
    pub fn field(&self) -> Option<&str> {
        match &self.inner.kind {
            Kind::InvalidInput { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Whether this is a configuration problem.
    pub fn is_config(&self) -> bool {
        matches!(self.inner.kind, Kind::Config(_))
    }

    /// The size and limit, when a payload could not be made to fit.
    pub fn payload_too_large(&self) -> Option<PayloadTooLarge> {
        match &self.inner.kind {
            Kind::PayloadTooLarge(e) => Some(*e),
            _ => None,
        }
    }

    /// The render error, when rendering failed.
    pub fn render_error(&self) -> Option<&RenderError> {
        match &self.inner.kind {
            Kind::Render(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is a transport failure.
    pub fn is_transport(&self) -> bool {
        matches!(self.inner.kind, Kind::Transport(_))
    }
}

impl From<PayloadTooLarge> for Error {
    fn from(e: PayloadTooLarge) -> Self {
        Error::new(Kind::PayloadTooLarge(e), None)
    }
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        Error::new(Kind::Render(e), None)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            Kind::InvalidInput { field, message } => {
                write!(f, "invalid input at `{field}`: {message}")
            }
            Kind::Config(message) => write!(f, "configuration error: {message}"),
            Kind::PayloadTooLarge(e) => e.fmt(f),
            Kind::Render(e) => e.fmt(f),
            Kind::Transport(message) => write!(f, "transport error: {message}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pushway::Error({self})")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.kind {
            Kind::PayloadTooLarge(e) => Some(e),
            Kind::Render(e) => Some(e),
            _ => self
                .inner
                .source
                .as_deref()
                .map(|s| s as &(dyn std::error::Error + 'static)),
        }
    }
}
