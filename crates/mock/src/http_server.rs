//! The HTTP/1.1 server loop shared by the Xiaomi and Huawei simulators.
//!
//! Both vendors are HTTPS/1.1 JSON APIs; on loopback the simulators speak plain HTTP/1.1 with
//! keep-alive. A handler gets the whole request with its body collected and answers with a full
//! response, or asks for the connection to be dropped without an answer (a fault).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Largest request body a simulator reads; bigger bodies get HTTP 413.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// A configured key could not be parsed.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// What a handler wants done with a request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Send this response.
    Response(Response<Full<Bytes>>),
    /// Close the connection without answering, after the given delay.
    Drop,
}

impl Reply {
    /// A response with a body and a content type.
    pub fn body(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        let mut response = Response::new(Full::new(body.into()));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Reply::Response(response)
    }

    /// A response with an empty body.
    pub fn empty(status: StatusCode) -> Reply {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = status;
        Reply::Response(response)
    }

    /// A response with a custom content type given as text (for user-scripted raw faults).
    pub fn raw(status: u16, content_type: &str, body: &str) -> Reply {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
        *response.status_mut() = status;
        if let Ok(value) = HeaderValue::from_str(content_type)
            && !content_type.is_empty()
        {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        Reply::Response(response)
    }
}

/// A simulator's request handler.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Answers one request whose body has been read completely.
    fn handle(&self, request: Request<Bytes>) -> impl Future<Output = (Duration, Reply)> + Send;
}

/// The error a service returns to make hyper close the connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

/// A running server; dropping it stops the listener and every open connection.
#[derive(Debug)]
pub(crate) struct ServerHandle {
    addr: SocketAddr,
    /// Connections accepted so far, so tests can see how many a client opens for a burst.
    accepted: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        // The accept task owns the connection tasks in a JoinSet: aborting it drops the set,
        // which aborts every connection.
        self.task.abort();
    }
}

/// Binds `addr` and serves HTTP/1.1 with `handler` on the current Tokio runtime.
pub(crate) async fn serve<H: Handler>(
    addr: SocketAddr,
    handler: Arc<H>,
) -> Result<ServerHandle, StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let accepted = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(accept_loop(listener, handler, Arc::clone(&accepted)));
    Ok(ServerHandle {
        addr: bound,
        accepted,
        task,
    })
}

async fn accept_loop<H: Handler>(listener: TcpListener, handler: Arc<H>, count: Arc<AtomicU64>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off a little instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                connections.spawn(serve_connection(stream, Arc::clone(&handler)));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<H: Handler>(stream: tokio::net::TcpStream, handler: Arc<H>) {
    let service = service_fn(move |request: Request<Incoming>| {
        let handler = Arc::clone(&handler);
        async move { respond(&*handler, request).await }
    });
    // Errors here are client disconnects, malformed requests and dropped-connection faults.
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn respond<H: Handler>(
    handler: &H,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE));
            }
            return Err(Dropped);
        }
    };
    let (delay, reply) = handler.handle(Request::from_parts(parts, body)).await;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match reply {
        Reply::Response(response) => Ok(response),
        Reply::Drop => Err(Dropped),
    }
}

fn plain(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
