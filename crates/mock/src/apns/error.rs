//! The error of starting an APNs simulator or loading one of its keys.

/// Why an [`ApnsSimulator`](super::ApnsSimulator) could not start, or a key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApnsError {
    /// A signing key could not be read (not PEM, not P-256, not PKCS#8/SPKI).
    #[error("APNs key {key_id}: {reason}")]
    InvalidKey {
        /// The key id given with it.
        key_id: String,
        /// What was wrong.
        reason: String,
    },
    /// The listening socket could not be bound.
    #[error("cannot bind the APNs simulator: {0}")]
    Bind(#[source] std::io::Error),
    /// The self-signed certificate or the TLS configuration could not be built.
    #[error("cannot set up TLS for the APNs simulator: {0}")]
    Tls(String),
}
