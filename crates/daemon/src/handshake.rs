//! A new device connection on the server: the WebSocket handshake, `hello` and registration,
//! then the [`Session`] loop; and how a connection is closed.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use crate::auth::{AuthError, DeviceClaims};
use crate::config::{CLOSE_TIMEOUT, READ_BUFFER_BYTES, WRITE_BUFFER_BYTES};
use crate::hub::Inner;
use crate::pending::PendingGuard;
use crate::protocol::{
    CloseReason, DeviceFrame, MAX_DEVICE_FRAME_BYTES, MAX_PUSH_FRAME_BYTES, PROTOCOL_VERSION,
    ServerFrame,
};
use crate::session::{End, Session, frame_text, read_error, write_frames};

pub(crate) fn ws_config(max_in_flight: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(
            WRITE_BUFFER_BYTES + max_in_flight.saturating_add(2) * MAX_PUSH_FRAME_BYTES,
        )
        .max_message_size(Some(MAX_DEVICE_FRAME_BYTES))
        .max_frame_size(Some(MAX_DEVICE_FRAME_BYTES))
}

/// Serves one accepted stream until it closes. Never panics; every wait has a timeout.
pub(crate) async fn serve<S>(inner: Arc<Inner>, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let waiting = inner.pending.enter(inner.config.max_unauthenticated);
    serve_entered(&inner, stream, waiting).await;
}

/// Serves a stream that already has its place among the connections awaiting `hello`
/// (`waiting`, left once the device authenticated); shed, it goes at once.
pub(crate) async fn serve_entered<S>(inner: &Inner, stream: S, waiting: PendingGuard<'_>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = ws_config(inner.config.max_in_flight);
    let shed = waiting.shed.clone();
    let accepted = tokio::select! {
        biased;
        // Still in the WebSocket handshake: no close code can be sent yet.
        () = shed.notified() => return,
        accepted = timeout(
            inner.config.auth_timeout,
            tokio_tungstenite::accept_async_with_config(stream, Some(config)),
        ) => accepted,
    };
    let ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            tracing::debug!(%error, "daemon websocket handshake failed");
            return;
        }
        Err(_) => return,
    };
    serve_ws(inner, ws, waiting).await;
}

/// Serves a stream whose HTTP upgrade an embedder already answered (`101 Switching
/// Protocols`): it speaks WebSocket frames from its first byte. It waits for `hello` like any
/// connection, and counts among those awaiting it.
pub(crate) async fn serve_upgraded<S>(inner: &Inner, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let waiting = inner.pending.enter(inner.config.max_unauthenticated);
    let config = ws_config(inner.config.max_in_flight);
    // No I/O happens here: the stream is only wrapped.
    let ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await;
    serve_ws(inner, ws, waiting).await;
}

/// The protocol on an open WebSocket: `hello`, registration, the session, the close.
async fn serve_ws<S>(inner: &Inner, mut ws: WebSocketStream<S>, waiting: PendingGuard<'_>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shed = waiting.shed.clone();
    let authenticated = tokio::select! {
        biased;
        () = shed.notified() => {
            // Shed to make room: say why without waiting for the device's answer, so its file
            // descriptor is free at once.
            return close_now(&mut ws, CloseReason::TryAgainLater).await;
        }
        authenticated = authenticate(inner, &mut ws) => authenticated,
    };
    drop(waiting);
    let claims = match authenticated {
        Ok(claims) => claims,
        Err(End::Close(reason, detail)) => return close(&mut ws, reason, detail).await,
        Err(End::Gone) => return close_gone(&mut ws).await,
    };
    let Some(device) = claims.key() else {
        return close(&mut ws, CloseReason::AuthInvalid, None).await;
    };
    // A token of an older generation than the device's current one was revoked.
    match inner.store.token_generation(&device).await {
        Ok(current) if claims.generation < current => {
            return close(&mut ws, CloseReason::AuthRevoked, None).await;
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "daemon store failed reading a token generation");
            let detail = Some("queue store unavailable".to_owned());
            return close(&mut ws, CloseReason::GoingAway, detail).await;
        }
    }
    let conn = match inner.register(&device, claims.rank()) {
        Ok(conn) => conn,
        Err(reason) => return close(&mut ws, reason, None).await,
    };
    tracing::debug!(
        user = device.user(),
        device = device.device(),
        "daemon device authenticated"
    );
    let welcome = ServerFrame::Welcome {
        v: PROTOCOL_VERSION,
        device_id: device.device().to_owned(),
        ping_interval_ms: u64::try_from(inner.config.ping_interval.as_millis()).unwrap_or(u64::MAX),
    };
    let end = match write_frames(inner, &mut ws, [frame_text(&welcome)]).await {
        Ok(()) => Session::new(inner, &device, &conn, &mut ws).run().await,
        Err(end) => end,
    };
    inner.unregister(&device, &conn);
    // Senders still waiting for an ack on this connection answer `Queued` now, not after the
    // ack timeout: their pushes stay queued for the next connection.
    conn.abandon_waiters();
    match end {
        End::Close(reason, detail) => close(&mut ws, reason, detail).await,
        End::Gone => close_gone(&mut ws).await,
    }
}

/// The device closed, or the transport failed: nothing more to say, but a device's close frame
/// is answered (tungstenite queued the reply when it read the frame; it must be flushed before
/// the socket is dropped, or the device sees 1006 instead of its close completing).
async fn close_gone<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = timeout(CLOSE_TIMEOUT, async {
        ws.flush().await?;
        ws.close(None).await
    })
    .await;
}

async fn authenticate<S>(inner: &Inner, ws: &mut WebSocketStream<S>) -> Result<DeviceClaims, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + inner.config.auth_timeout;
    let text = loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => {
                return Err(End::Close(
                    CloseReason::AuthMissing,
                    Some("no hello before the auth timeout".to_owned()),
                ));
            }
            Ok(None) => return Err(End::Gone),
            Ok(Some(Err(error))) => return Err(read_error(error)),
            Ok(Some(Ok(Message::Text(text)))) => break text,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)))) => {}
            Ok(Some(Ok(Message::Close(_)))) => return Err(End::Gone),
            Ok(Some(Ok(Message::Binary(_)))) => {
                return Err(End::Close(
                    CloseReason::ProtocolError,
                    Some("binary frames are not part of the protocol".to_owned()),
                ));
            }
        }
    };
    match serde_json::from_str::<DeviceFrame>(&text) {
        Ok(DeviceFrame::Hello { v, .. }) if v != PROTOCOL_VERSION => Err(End::Close(
            CloseReason::UnsupportedVersion,
            Some(format!("this server speaks version {PROTOCOL_VERSION}")),
        )),
        Ok(DeviceFrame::Hello { token, .. }) => inner.auth.verify(&token).map_err(|e| {
            tracing::debug!(error = %e, "daemon device refused");
            End::Close(e.close_reason(), None)
        }),
        Ok(_) => Err(End::Close(
            AuthError::Missing.close_reason(),
            Some("the first frame must be hello".to_owned()),
        )),
        Err(e) => Err(End::Close(CloseReason::ProtocolError, Some(e.to_string()))),
    }
}

/// Sends an `error` frame and a close frame with the same code, without waiting for the
/// device's answer.
async fn close_now<S>(ws: &mut WebSocketStream<S>, reason: CloseReason)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let error = ServerFrame::Error {
        code: reason.code(),
        reason: reason.as_str().to_owned(),
        detail: None,
    };
    let frame = CloseFrame {
        code: CloseCode::from(reason.code()),
        reason: reason.as_str().into(),
    };
    let _ = timeout(CLOSE_TIMEOUT, async {
        ws.feed(Message::text(frame_text(&error))).await?;
        ws.send(Message::Close(Some(frame))).await
    })
    .await;
}

/// Sends an `error` frame and a close frame with the same code, then reads until the device
/// answers the close (so our close is not turned into a reset by unread input), all within
/// [`CLOSE_TIMEOUT`].
async fn close<S>(ws: &mut WebSocketStream<S>, reason: CloseReason, detail: Option<String>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let closing = async {
        if reason != CloseReason::Normal {
            let error = ServerFrame::Error {
                code: reason.code(),
                reason: reason.as_str().to_owned(),
                detail,
            };
            ws.feed(Message::text(frame_text(&error))).await?;
        }
        ws.close(Some(CloseFrame {
            code: CloseCode::from(reason.code()),
            reason: reason.as_str().into(),
        }))
        .await?;
        while let Some(Ok(_)) = ws.next().await {}
        Ok::<(), WsError>(())
    };
    let _ = timeout(CLOSE_TIMEOUT, closing).await;
}

#[cfg(test)]
mod tests {
    /// Every idle connection holds one task of this future: it is most of an idle
    /// connection's memory, so it must not grow unnoticed (a TLS branch inline made it 17 KB).
    #[tokio::test]
    async fn the_plain_connection_task_stays_small() {
        let hub = crate::Hub::builder(crate::DeviceAuth::hs256(&[7; 32]).unwrap()).build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let task = super::serve(hub.inner.clone(), stream);
        assert!(
            std::mem::size_of_val(&task) <= 4096,
            "{} bytes",
            std::mem::size_of_val(&task)
        );
    }
}
