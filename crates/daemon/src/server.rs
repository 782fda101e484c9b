//! Accepting connections: plain TCP or TLS (rustls), one task per device.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::handshake;
use crate::hub::Hub;

/// How long the accept loop pauses after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long the accept loop pauses after shedding a connection to free a file descriptor.
const SHED_PAUSE: Duration = Duration::from_millis(1);

/// EMFILE (the process's file limit) or ENFILE (the system's).
fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(23 | 24))
}

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
        handshake::serve(self.inner.clone(), stream).await;
    }

    /// Serves one connection whose HTTP upgrade to WebSocket the caller already answered
    /// (`101 Switching Protocols`, e.g. from its own HTTP server's route), until it closes: `io`
    /// carries WebSocket frames from its first byte. The device then says `hello` within the
    /// auth timeout like on [`Hub::serve`]'s connections, with the same frame limits, and the
    /// connection counts among those awaiting `hello`
    /// ([`HubBuilder::max_unauthenticated`](crate::HubBuilder::max_unauthenticated)). Spawn it
    /// as a task.
    pub async fn serve_upgraded<S>(&self, io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        handshake::serve_upgraded(&self.inner, io).await;
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
                                tokio::spawn(handshake::serve(hub.inner.clone(), stream));
                            }
                            Some(acceptor) => {
                                tokio::spawn(
                                    hub.clone().serve_tls_stream(stream, acceptor.clone()),
                                );
                            }
                        }
                    }
                    Err(error) => {
                        // Usually out of file descriptors (EMFILE, ENFILE): the connection
                        // stays in the backlog and accept would fail again at once, so back off
                        // instead of spinning, and free a descriptor by shedding the oldest
                        // connection still waiting to authenticate.
                        let shed = is_out_of_descriptors(&error) && hub.inner.pending.shed_oldest();
                        tracing::warn!(%error, shed, "daemon accept failed");
                        // After a shed, only long enough for that connection's task to drop
                        // its socket; each retry sheds at most one, so this cannot spin.
                        let pause = if shed { SHED_PAUSE } else { ACCEPT_BACKOFF };
                        tokio::time::sleep(pause).await;
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
        let inner = &self.inner;
        // The TLS handshake counts as waiting to authenticate: its place is taken first.
        let waiting = inner.pending.enter(inner.config.max_unauthenticated);
        let shed = waiting.shed.clone();
        let handshake = tokio::time::timeout(inner.config.auth_timeout, acceptor.accept(stream));
        let accepted = tokio::select! {
            biased;
            () = shed.notified() => return,
            accepted = handshake => accepted,
        };
        match accepted {
            Ok(Ok(stream)) => handshake::serve_entered(inner, stream, waiting).await,
            Ok(Err(error)) => tracing::debug!(%error, "daemon TLS handshake failed"),
            Err(_) => tracing::debug!("daemon TLS handshake timed out"),
        }
    }
}
