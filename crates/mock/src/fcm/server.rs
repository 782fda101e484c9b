//! The listening side: TLS with a self-signed certificate (ALPN `h2`, `http/1.1`) or plain TCP
//! (h2c with prior knowledge, or HTTP/1.1), served by hyper's auto (HTTP/1.1 + HTTP/2) server.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::StartError;
use super::state::{ConnCtx, Outcome, State};

/// Largest request body read; FCM bodies are a few KiB.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Names the certificate is valid for: loopback and FCM's and Google's token hosts.
const NAMES: [&str; 5] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "fcm.googleapis.com",
    "oauth2.googleapis.com",
];

/// A self-signed certificate and the acceptor that serves it.
pub(crate) fn tls() -> Result<(TlsAcceptor, String), StartError> {
    let names: Vec<String> = NAMES.iter().map(|s| (*s).to_owned()).collect();
    let tls_error = |e: String| StartError::InvalidKey(format!("TLS set-up: {e}"));
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| tls_error(e.to_string()))?;
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .map_err(|e| tls_error(e.to_string()))?;
    // Google serves both; the Admin SDKs' bulk paths use h2, their single sends HTTP/1.1 (§1).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), certified.cert.pem()))
}

/// Accepts connections until the task is aborted; aborting it aborts every connection.
/// Per-connection settings fixed at start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnConfig {
    pub max_concurrent_streams: u32,
    /// Close (GOAWAY) a connection with no request in flight for this long (§7: FCM closes
    /// idle connections after minutes).
    pub idle_timeout: Option<Duration>,
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    config: ConnConfig,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = socket.set_nodelay(true);
                let state = Arc::clone(&state);
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve(socket, state, config).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                serve(stream, state, config).await;
                            }
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// An error whose `h2::Reason` hyper puts in the `RST_STREAM` (HTTP/2) or that closes the
/// connection (HTTP/1.1).
#[derive(Debug, thiserror::Error)]
#[error("stream refused by the simulator")]
struct Refused(#[source] h2::Error);

async fn serve<T>(io: T, state: Arc<State>, config: ConnConfig)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctx = Arc::new(ConnCtx {
        id: state.next_connection.fetch_add(1, Ordering::Relaxed) + 1,
        ..ConnCtx::default()
    });
    let service = {
        let ctx = Arc::clone(&ctx);
        service_fn(move |request: Request<Incoming>| {
            let state = Arc::clone(&state);
            let ctx = Arc::clone(&ctx);
            async move { respond(&state, &ctx, request).await }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(config.max_concurrent_streams)
        // §7: Google sends no keep-alive PINGs; neither do we.
        .keep_alive_interval(None);
    builder.http1().keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    let idle = config.idle_timeout;
    loop {
        // A new timer per turn: any request (or answer) on the connection starts it anew. Lazy,
        // so a connection without an idle timeout never arms one.
        let idle_timer = async {
            match idle {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            () = ctx.goaway.notified(), if !shutting_down => {
                // GOAWAY(NO_ERROR); answered streams are flushed, then the connection closes.
                conn.as_mut().graceful_shutdown();
                shutting_down = true;
            }
            () = ctx.activity.notified(), if idle.is_some() => {}
            () = idle_timer, if idle.is_some() && !shutting_down => {
                if ctx.in_flight.load(Ordering::Acquire) == 0 {
                    conn.as_mut().graceful_shutdown();
                    shutting_down = true;
                }
            }
            // Dropping the connection closes the socket without a GOAWAY.
            () = ctx.drop.notified() => return,
        }
    }
}

async fn respond(
    state: &State,
    ctx: &ConnCtx,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Refused> {
    ctx.activity.notify_one();
    let now = ctx.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
    let result = respond_counted(state, ctx, request, now).await;
    ctx.in_flight.fetch_sub(1, Ordering::AcqRel);
    ctx.activity.notify_one();
    result
}

async fn respond_counted(
    state: &State,
    ctx: &ConnCtx,
    request: Request<Incoming>,
    now: u32,
) -> Result<Response<Full<Bytes>>, Refused> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            // What Google's front end answers to an oversized request [model: page text].
            return Ok(super::response::raw(
                413,
                "text/html; charset=UTF-8",
                "<!DOCTYPE html>\n<html lang=en>\n  <title>Error 413 (Request Entity Too Large)!!1</title>\n",
            ));
        }
        Err(_) => return Err(Refused(h2::Error::from(h2::Reason::CANCEL))),
    };
    state.peak_streams.fetch_max(now, Ordering::Relaxed);
    let outcome = state.handle(ctx, parts, body).await;
    match outcome {
        Outcome::Respond {
            response,
            delay,
            goaway,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if goaway {
                ctx.goaway.notify_one();
            }
            Ok(response)
        }
        Outcome::Refuse => Err(Refused(h2::Error::from(h2::Reason::REFUSED_STREAM))),
        Outcome::Drop => {
            ctx.drop.notify_one();
            // The connection task drops this future with the connection.
            std::future::pending::<Infallible>().await;
            Err(Refused(h2::Error::from(h2::Reason::CANCEL)))
        }
    }
}
