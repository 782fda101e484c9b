//! The limit of the gateway's accept benchmark (`bench/gateway.sh`): the same web framework
//! (axum, the gateway's version and features, on the same multi-threaded tokio runtime), one
//! `POST` route that reads the whole body and answers `202` with a small JSON body, storing
//! nothing. wrk drives it exactly as it drives `POST /v1/apps/{app}/messages`, so the ratio of the
//! two rates is what durability, validation and rendering cost over the bare HTTP stack.
//!
//! ```text
//! cargo run --release --example accept_limit -- [--listen 127.0.0.1:0]
//! ```
//!
//! Prints `listening http://<addr>` once bound; stops on SIGTERM / Ctrl-C.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use clap::Parser;

/// A POST route that answers 202 and stores nothing.
#[derive(Debug, Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

/// Reads the body (as the gateway does before parsing it) and answers like an accept.
async fn accept(body: Bytes) -> impl IntoResponse {
    // The body's length goes into the answer so the read cannot be optimised away.
    let answer = format!("{{\"message_id\":\"limit-{}\"}}", body.len());
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        answer,
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let app = Router::new().route("/v1/apps/{app}/messages", post(accept));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped())
        .await?;
    Ok(())
}

/// SIGTERM (how the bench stops it) or Ctrl-C.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
