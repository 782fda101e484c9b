//! The send path's HTTP/2 client: hyper's `client::conn::http2` connections over tokio-rustls
//! (ALPN `h2` only; h2c for `http://`), a fixed pool used in turn, each connection opened
//! lazily on first use or after it closed. The request's URI and constant headers are
//! prepared once; a send is one attempt, never resent once it may have reached the server.

use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use pushway_core::{Outcome, Reason};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::Error;
use crate::classify::parse_retry_after;

/// Streams a new connection may open before the server's SETTINGS arrive: FCM's figure
/// (fcm.md §7); the server's own limit replaces it as soon as it is known.
const INITIAL_MAX_SEND_STREAMS: usize = 100;

/// A send's answer as it came.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// Where and how to connect.
pub(crate) struct Connector {
    /// `host:port` for the TCP connection.
    pub address: String,
    /// TLS and the name to verify, `None` for h2c.
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    pub connect_timeout: Duration,
}

/// The send path's connections and the request parts shared by every send.
pub(crate) struct Transport {
    slots: Box<[Slot]>,
    next: AtomicUsize,
    ids: AtomicU64,
    connector: Connector,
    uri: Uri,
    timeout: Duration,
}

#[derive(Default)]
struct Slot {
    /// The open connection, if any: cloned by each send (a reference count).
    live: Mutex<Option<Conn>>,
    /// Held while opening, so a burst's sends wait for the one connection being opened.
    opening: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Conn {
    id: u64,
    sender: SendRequest<Full<Bytes>>,
}

impl Slot {
    fn open(&self) -> Option<Conn> {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.as_ref().filter(|c| !c.sender.is_closed()).cloned()
    }

    /// Drops connection `id` if it is still the slot's: the next send opens a new one.
    fn forget(&self, id: u64) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.as_ref().is_some_and(|c| c.id == id) {
            *live = None;
        }
    }
}

impl Transport {
    pub fn new(
        connector: Connector,
        connections: usize,
        send_url: &str,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let uri = send_url
            .parse::<Uri>()
            .map_err(|e| Error::config(format!("send URL {send_url:?}: {e}")))?;
        Ok(Transport {
            slots: (0..connections).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            ids: AtomicU64::new(0),
            connector,
            uri,
            timeout,
        })
    }

    pub fn connections(&self) -> usize {
        self.slots.len()
    }

    /// One exchange on the next connection, within the timeout; `Err` is the outcome of a
    /// request that got no answer.
    pub async fn post(&self, bearer: &HeaderValue, body: Bytes) -> Result<Answer, Outcome> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = &self.slots[n % self.slots.len()];
        tokio::time::timeout(self.timeout, self.exchange(slot, bearer, body))
            .await
            .unwrap_or_else(|_| Err(Outcome::retry(Reason::TIMEOUT)))
    }

    async fn exchange(
        &self,
        slot: &Slot,
        bearer: &HeaderValue,
        body: Bytes,
    ) -> Result<Answer, Outcome> {
        let mut conn = self.connection(slot).await?;
        let response = match conn
            .sender
            .try_send_request(self.request(bearer, body))
            .await
        {
            Ok(response) => response,
            Err(mut error) => match error.take_message() {
                // The connection closed before the request was handed to it: nothing was
                // sent, so it goes once on a new connection (not a resend).
                Some(request) => {
                    slot.forget(conn.id);
                    conn = self.connection(slot).await?;
                    conn.sender
                        .send_request(request)
                        .await
                        .map_err(|e| failed(slot, conn.id, &e))?
                }
                None => return Err(failed(slot, conn.id, error.error())),
            },
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(slot, conn.id, &e))?
            .to_bytes();
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    fn request(&self, bearer: &HeaderValue, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, bearer.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("pushway-fcm/", env!("CARGO_PKG_VERSION"))),
        );
        request
    }

    /// The slot's open connection, or a new one (one opener at a time per slot).
    async fn connection(&self, slot: &Slot) -> Result<Conn, Outcome> {
        match slot.open() {
            Some(conn) => Ok(conn),
            // Boxed: the TLS and HTTP/2 handshakes' state would otherwise be part of every
            // send's future, moved and copied with it (callgrind: 2% of a send's instructions).
            None => Box::pin(self.reconnect(slot)).await,
        }
    }

    async fn reconnect(&self, slot: &Slot) -> Result<Conn, Outcome> {
        let _opening = slot.opening.lock().await;
        if let Some(conn) = slot.open() {
            return Ok(conn);
        }
        let sender = tokio::time::timeout(self.connector.connect_timeout, self.connector.open())
            .await
            .unwrap_or_else(|_| {
                Err(Outcome::retry(
                    Reason::new(Reason::TIMEOUT).with_detail("connecting"),
                ))
            })?;
        let conn = Conn {
            id: self.ids.fetch_add(1, Ordering::Relaxed),
            sender,
        };
        *slot.live.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }
}

impl Connector {
    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, Outcome> {
        let tcp = TcpStream::connect(&self.address)
            .await
            .map_err(|e| connection_failed(&e))?;
        // Small requests answered one by one: do not hold them back for a full segment.
        tcp.set_nodelay(true).map_err(|e| connection_failed(&e))?;
        match &self.tls {
            Some((tls, name)) => {
                let stream = tls
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| connection_failed(&e))?;
                handshake(stream).await
            }
            None => handshake(tcp).await,
        }
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, Outcome>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // No keep-alive PINGs: FCM answers frequent ones with GOAWAY `too_many_pings` (fcm.md §7).
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .initial_max_send_streams(INITIAL_MAX_SEND_STREAMS)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| connection_failed(&e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "fcm: connection ended");
        }
    });
    Ok(sender)
}

fn connection_failed(error: &dyn std::fmt::Display) -> Outcome {
    Outcome::retry(Reason::new(Reason::CONNECTION).with_detail(error.to_string()))
}

/// The outcome of a request that got no answer; a connection that failed as a whole is
/// forgotten so the next send opens a new one.
fn failed(slot: &Slot, id: u64, error: &hyper::Error) -> Outcome {
    let (outcome, stream_only) = transport_outcome(error);
    if !stream_only {
        slot.forget(id);
    }
    outcome
}

/// All no-answer outcomes are worth retrying; the reason tells whether FCM surely did not
/// process the request (a refused stream, a stream above a graceful GOAWAY's last stream id)
/// or may have (a connection lost mid-answer: a resend may duplicate, the `tag` collapses the
/// duplicate on the device). Also says whether only the stream failed (the connection lives).
fn transport_outcome(error: &hyper::Error) -> (Outcome, bool) {
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    let mut innermost = None;
    while let Some(cause) = source {
        innermost = Some(cause);
        if let Some(h2) = cause.downcast_ref::<h2::Error>() {
            let refused = h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM);
            let graceful = h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR);
            let reason = if h2.is_remote() && (refused || graceful) {
                Reason::NOT_PROCESSED
            } else {
                Reason::CONNECTION
            };
            let outcome = Outcome::retry(Reason::new(reason).with_detail(h2.to_string()));
            return (outcome, h2.is_reset());
        }
        source = cause.source();
    }
    // Canceled: the connection closed with the request still queued in hyper, never sent.
    let code = if error.is_canceled() {
        Reason::NOT_PROCESSED
    } else {
        Reason::CONNECTION
    };
    let detail = innermost.map_or_else(|| error.to_string(), ToString::to_string);
    (Outcome::retry(Reason::new(code).with_detail(detail)), false)
}

/// TLS 1.2+ with ALPN `h2` only, the system's roots plus the configured ones (already parsed).
pub(crate) fn tls_connector(
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<TlsConnector, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is skipped, as reqwest and curl do.
        let _ = roots.add(cert);
    }
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| Error::config(format!("root certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}
