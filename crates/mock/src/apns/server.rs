//! The listening side: the self-signed TLS set-up and the accept loop.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::conn::{self, ConnConfig};
use super::error::ApnsError;
use super::script::Shared;

/// A self-signed certificate for the simulator and the acceptor that serves it.
pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    pub cert_pem: String,
}

/// Names the certificate is valid for: loopback, and APNs's hosts (for clients that cannot change
/// the host name they verify).
const NAMES: [&str; 6] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "api.push.apple.com",
    "api.sandbox.push.apple.com",
    "api.development.push.apple.com",
];

pub(crate) fn tls() -> Result<Tls, ApnsError> {
    let names: Vec<String> = NAMES.iter().map(|s| (*s).to_owned()).collect();
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| ApnsError::Tls(e.to_string()))?;
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ApnsError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .map_err(|e| ApnsError::Tls(e.to_string()))?;
    // ALPN `h2` like APNs; a client that offers no ALPN at all (aioapns) is served h2 anyway.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem: certified.cert.pem(),
    })
}

/// Accepts connections until the task is aborted; aborting it aborts every connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    config: Arc<ConnConfig>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let _ = socket.set_nodelay(true);
                let shared = shared.clone();
                let config = config.clone();
                match &tls {
                    None => {
                        connections.spawn(conn::serve(socket, shared, config));
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        connections.spawn(async move {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                conn::serve(stream, shared, config).await;
                            }
                        });
                    }
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
