//! One long-lived HTTP/2 connection to APNs: TCP (+ TLS with ALPN `h2`, or h2c for simulators),
//! the `h2` handshake, a task that drives it and sends keep-alive PINGs, and a flag that says
//! when it must no longer be used.
//!
//! `h2` queues streams beyond the server's `SETTINGS_MAX_CONCURRENT_STREAMS` locally and opens
//! them as earlier ones finish, so the limit is never exceeded; until the server's SETTINGS
//! arrive only one stream is opened, because a token connection allows one until its first
//! valid request (protocols/apns.md §2.1, §5).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How to reach APNs; shared by every connection of a provider.
pub(crate) struct Connector {
    pub host: String,
    pub port: u16,
    /// `None` = h2c with prior knowledge (simulators only).
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    pub keep_alive: Option<KeepAlive>,
}

/// Keep-alive PINGs: one every `interval`; no answer within `timeout` = the connection is dead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepAlive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// A live connection.
pub(crate) struct Conn {
    pub id: u64,
    send: SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
}

impl Conn {
    /// Whether new streams may go on this connection (its driver has not ended).
    pub fn usable(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// Stops new streams going on this connection; streams already open finish.
    pub fn retire(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// A handle to open one stream. A fresh clone has no pending stream, so `send_request` on it
    /// never refuses for that reason; `h2` queues the stream if the server's limit is reached.
    pub fn sender(&self) -> SendRequest<Bytes> {
        self.send.clone()
    }
}

impl Connector {
    /// Opens a connection (a fresh DNS lookup each time, as Apple asks, to spread load).
    pub async fn connect(&self) -> io::Result<Arc<Conn>> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => self.handshake(tcp).await,
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await?;
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(io::Error::other(
                        "the server did not negotiate HTTP/2 (ALPN h2)",
                    ));
                }
                self.handshake(tls).await
            }
        }
    }

    async fn handshake<T>(&self, io: T) -> io::Result<Arc<Conn>>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (send, mut connection) = h2::client::Builder::new()
            // One stream until the server's SETTINGS say more (a token connection allows one).
            .initial_max_send_streams(1)
            // Responses are small; this only bounds what a misbehaving server can make us buffer.
            .max_header_list_size(64 * 1024)
            .handshake::<_, Bytes>(Unvectored(io))
            .await
            .map_err(io::Error::other)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        let ping_pong = connection.ping_pong();
        let keep_alive = self.keep_alive;
        tokio::spawn(async move {
            let result = match (keep_alive, ping_pong) {
                (Some(k), Some(pp)) => drive_with_pings(&mut connection, pp, k).await,
                _ => connection.await.map_err(|e| e.to_string()),
            };
            flag.store(true, Ordering::Release);
            match result {
                Ok(()) => tracing::debug!(conn = id, "APNs connection closed"),
                Err(e) => tracing::debug!(conn = id, error = %e, "APNs connection ended"),
            }
        });
        tracing::debug!(conn = id, "APNs connection open");
        Ok(Arc::new(Conn { id, send, closed }))
    }
}

/// The transport as `h2` sees it: the same stream, reporting no vectored writes.
///
/// `h2` copies a DATA frame into its 16 KiB write buffer only when the payload is under a
/// threshold, 256 bytes over an I/O with vectored writes (TCP and rustls both say they have
/// them), else 1024 bytes; a larger payload is kept aside and the buffer must be written out
/// before the next frame. With 256 every notification (payloads are a few hundred bytes) cost
/// a write system call of its own (and, over TLS, a TLS record of its own); with 1024 the
/// frames of all the sends ready at once go out in one write. Measured with `strace -c`: one
/// `writev` per notification before, one per batch of sends after.
struct Unvectored<T>(T);

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Unvectored<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Unvectored<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// Drives the connection and PINGs every `interval`; a PING unanswered within `timeout` ends it
/// (dropping the connection fails its streams, which then come back as `Retry`).
async fn drive_with_pings<T>(
    connection: &mut h2::client::Connection<T, Bytes>,
    mut ping_pong: h2::PingPong,
    k: KeepAlive,
) -> Result<(), String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + k.interval, k.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = &mut *connection => return result.map_err(|e| e.to_string()),
            _ = ticker.tick() => {
                let ping = ping_pong.ping(h2::Ping::opaque());
                // The connection must keep being driven while the PING is in flight.
                tokio::select! {
                    result = &mut *connection => return result.map_err(|e| e.to_string()),
                    answered = tokio::time::timeout(k.timeout, ping) => match answered {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(format!("keep-alive PING failed: {e}")),
                        Err(_) => return Err("keep-alive PING unanswered".to_owned()),
                    },
                }
            }
        }
    }
}
