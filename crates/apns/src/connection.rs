//! One long-lived HTTP/2 connection to APNs: TCP (+ TLS with ALPN `h2`, or h2c for simulators),
//! the HTTP/2 client side ([`crate::wire`]) with its keep-alive PINGs, and a flag that says when
//! it must no longer be used.
//!
//! The server's `SETTINGS_MAX_CONCURRENT_STREAMS` is never exceeded (streams over it wait, in
//! order), and until the server's SETTINGS arrive only one stream is opened, because a token
//! connection allows one until its first valid request (protocols/apns.md §2.1, §5).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::wire::Connection;
pub(crate) use crate::wire::{KeepAlive, Options};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How to reach APNs; shared by every connection of a provider.
pub(crate) struct Connector {
    pub host: String,
    pub port: u16,
    /// `None` = h2c with prior knowledge (simulators only).
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    pub options: Options,
}

/// A live connection.
pub(crate) struct Conn {
    pub id: u64,
    pub wire: Connection,
    retired: AtomicBool,
}

impl Conn {
    /// Whether new streams may go on this connection (not retired, not ended, no GOAWAY).
    pub fn usable(&self) -> bool {
        !self.retired.load(Ordering::Acquire) && self.wire.usable()
    }

    /// Stops new streams going on this connection; streams already open finish.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }
}

impl Connector {
    /// Opens a connection (a fresh DNS lookup each time, as Apple asks, to spread load).
    pub async fn connect(&self) -> io::Result<Arc<Conn>> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let wire = match &self.tls {
            None => crate::wire::start(tcp, self.options, id),
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await?;
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(io::Error::other(
                        "the server did not negotiate HTTP/2 (ALPN h2)",
                    ));
                }
                crate::wire::start(tls, self.options, id)
            }
        };
        tracing::debug!(conn = id, "APNs connection open");
        Ok(Arc::new(Conn {
            id,
            wire,
            retired: AtomicBool::new(false),
        }))
    }
}
