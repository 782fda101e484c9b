//! Accepting connections: plain TCP or TLS (rustls), one task per device.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::hub::Hub;
use crate::session;

/// How long [`Server::shutdown`] waits for connections to close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// A running accept loop. Dropping it stops accepting; [`Server::shutdown`] also closes every
/// connection with `1001 going_away` and waits (boundedly) for them to go.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    accept: JoinHandle<()>,
    hub: Hub,
}

impl Server {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The `ws://` URL of this server on its listening address.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.local_addr)
    }

    /// Stops accepting, closes every connection, and waits up to 5 s for them to finish.
    pub async fn shutdown(self) {
        self.accept.abort();
        self.hub.disconnect_all();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_WAIT;
        while self.hub.stats().connected > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Hub {
    /// Binds `addr` and serves plain WebSocket (`ws://`) connections.
    pub async fn bind(&self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        self.serve(TcpListener::bind(addr).await?)
    }

    /// Serves plain WebSocket (`ws://`) connections from `listener`.
    pub fn serve(&self, listener: TcpListener) -> io::Result<Server> {
        self.spawn_accept(listener, None)
    }

    /// Serves WebSocket over TLS (`wss://`) connections from `listener`. The TLS handshake
    /// counts against the auth timeout.
    pub fn serve_tls(
        &self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
    ) -> io::Result<Server> {
        self.spawn_accept(listener, Some(TlsAcceptor::from(tls)))
    }

    /// Serves one already-accepted stream (for embedders with their own accept loop or
    /// transport) until it closes.
    pub async fn serve_connection<S>(&self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        session::serve(self.inner.clone(), stream).await;
    }

    fn spawn_accept(&self, listener: TcpListener, tls: Option<TlsAcceptor>) -> io::Result<Server> {
        let local_addr = listener.local_addr()?;
        let hub = self.clone();
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        // Pushes and acks are small: latency matters more than packet count.
                        let _ = stream.set_nodelay(true);
                        // Two task types, so a plain connection's task does not carry the
                        // (much larger) TLS state: a task is as big as its largest branch.
                        match &tls {
                            None => {
                                tokio::spawn(session::serve(hub.inner.clone(), stream));
                            }
                            Some(acceptor) => {
                                tokio::spawn(
                                    hub.clone().serve_tls_stream(stream, acceptor.clone()),
                                );
                            }
                        }
                    }
                    Err(error) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "daemon accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok(Server {
            local_addr,
            accept,
            hub: self.clone(),
        })
    }

    async fn serve_tls_stream(self, stream: TcpStream, acceptor: TlsAcceptor) {
        let timeout = self.inner.config.auth_timeout;
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.serve_connection(stream).await,
            Ok(Err(error)) => tracing::debug!(%error, "daemon TLS handshake failed"),
            Err(_) => tracing::debug!("daemon TLS handshake timed out"),
        }
    }
}
