//! One device connection on the server: handshake, `hello`, then the send/ack/heartbeat loop.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use rustc_hash::FxHashMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, MissedTickBehavior, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

use crate::auth::{AuthError, DeviceClaims};
use crate::config::{CLOSE_TIMEOUT, READ_BUFFER_BYTES, WRITE_BUFFER_BYTES};
use crate::hub::{Conn, Inner};
use crate::key::DeviceKey;
use crate::pending::PendingGuard;
use crate::protocol::{
    CloseReason, DeviceFrame, MAX_DEVICE_FRAME_BYTES, MAX_PUSH_FRAME_BYTES, PROTOCOL_VERSION,
    ServerFrame, fast_ack_id,
};

/// How a session ended.
enum End {
    /// The server closes with this reason (an `error` frame, then a close frame).
    Close(CloseReason, Option<String>),
    /// The device closed, or the transport failed: nothing more to say.
    Gone,
}

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
    let mut ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            tracing::debug!(%error, "daemon websocket handshake failed");
            return;
        }
        Err(_) => return,
    };
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
        Ok(current) if claims.r#gen < current => {
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
        Ok(()) => {
            let mut session = Session {
                inner,
                device: &device,
                conn: &conn,
                ws: &mut ws,
                cursor: 0,
                unacked: FxHashMap::default(),
                in_flight: 0,
                in_flight_bytes: 0,
                window_full: false,
                need_fetch: true,
                last_heard: Instant::now(),
                progress: Instant::now(),
            };
            session.run().await
        }
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

struct Session<'a, S> {
    inner: &'a Inner,
    device: &'a DeviceKey,
    conn: &'a Conn,
    ws: &'a mut WebSocketStream<S>,
    /// The sequence number of the last push sent on this connection.
    cursor: u64,
    /// Pushes sent and not yet acked, by id (an id may be queued twice): how many, how many
    /// bytes.
    unacked: FxHashMap<String, (u32, usize)>,
    in_flight: usize,
    in_flight_bytes: usize,
    /// The next push did not fit in the byte window: nothing more is sent until an ack.
    window_full: bool,
    /// The queue may hold pushes after `cursor`.
    need_fetch: bool,
    last_heard: Instant,
    /// The last sign that the device reads: an ack, or the first push sent after none was in
    /// flight. With pushes in flight and no ack for the write timeout, the device is not
    /// reading: kernel buffers can absorb a whole window, so a write would not block.
    progress: Instant,
}

impl<S> Session<'_, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    async fn run(&mut self) -> End {
        let every = self.inner.config.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let patience = self.inner.config.write_timeout;
        // Armed while pushes are in flight; moved on only when it fires, not on every ack.
        let stall = tokio::time::sleep_until(Instant::now());
        tokio::pin!(stall);
        let mut stall_armed = false;
        loop {
            if self.need_fetch
                && !self.window_full
                && self.in_flight < self.inner.config.max_in_flight
                && let Err(end) = self.send_pending().await
            {
                return end;
            }
            if self.in_flight > 0 && !stall_armed {
                stall.as_mut().reset(self.progress + patience);
                stall_armed = true;
            }
            let can_fetch = !self.need_fetch;
            tokio::select! {
                biased;
                () = self.conn.kick.notified() => {
                    return End::Close(self.conn.kick_reason(), None);
                }
                message = self.ws.next() => {
                    self.last_heard = Instant::now();
                    if let Err(end) = self.on_message(message).await {
                        return end;
                    }
                }
                () = self.conn.wake.notified(), if can_fetch => self.need_fetch = true,
                () = &mut stall, if stall_armed => {
                    if self.in_flight == 0 {
                        stall_armed = false;
                    } else if self.progress.elapsed() >= patience {
                        return End::Close(
                            CloseReason::TooSlow,
                            Some("no ack within the write timeout".to_owned()),
                        );
                    } else {
                        stall.as_mut().reset(self.progress + patience);
                    }
                }
                _ = ping.tick() => {
                    if self.last_heard.elapsed() >= self.inner.config.idle_timeout {
                        return End::Close(CloseReason::IdleTimeout, None);
                    }
                    let ping = [frame_text(&ServerFrame::Ping)];
                    if let Err(end) = write_frames(self.inner, self.ws, ping).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Sends the queued pushes after the cursor, up to the in-flight window: a count and a
    /// number of bytes (one push is always allowed, however large).
    async fn send_pending(&mut self) -> Result<(), End> {
        let limit = self.inner.config.max_in_flight - self.in_flight;
        let now = self.inner.clock.now_ms();
        let pending = match self
            .inner
            .store
            .pending(self.device, self.cursor, now, limit)
            .await
        {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "daemon queue store failed; closing the connection");
                return Err(End::Close(
                    CloseReason::GoingAway,
                    Some("queue store unavailable".to_owned()),
                ));
            }
        };
        if pending.expired > 0 {
            self.inner
                .counters
                .expired
                .fetch_add(pending.expired, Ordering::Relaxed);
        }
        self.need_fetch = pending.pushes.len() >= limit;
        if pending.pushes.is_empty() {
            return Ok(());
        }
        let max_bytes = self.inner.config.max_in_flight_bytes;
        let mut frames = Vec::with_capacity(pending.pushes.len());
        for push in pending.pushes {
            let size = push.frame.len();
            if self.in_flight > 0 && self.in_flight_bytes + size > max_bytes {
                // The rest waits for acks, and is fetched again then.
                self.window_full = true;
                self.need_fetch = true;
                break;
            }
            if self.in_flight == 0 {
                self.progress = Instant::now();
            }
            self.cursor = push.seq;
            let unacked = self.unacked.entry(push.id).or_default();
            unacked.0 += 1;
            unacked.1 += size;
            self.in_flight += 1;
            self.in_flight_bytes += size;
            frames.push(Message::text(&*push.frame));
        }
        write_messages(self.inner, self.ws, frames).await
    }

    async fn on_message(&mut self, message: Option<Result<Message, WsError>>) -> Result<(), End> {
        let text = match message {
            None | Some(Ok(Message::Close(_))) => return Err(End::Gone),
            Some(Err(error)) => return Err(read_error(error)),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return Ok(()),
            Some(Ok(Message::Binary(_))) => {
                return Err(End::Close(
                    CloseReason::ProtocolError,
                    Some("binary frames are not part of the protocol".to_owned()),
                ));
            }
        };
        // Acks are almost all of a connection's input: their canonical form is read without a
        // JSON parser; anything else takes the strict parse below.
        if let Some(id) = fast_ack_id(&text) {
            self.on_ack(id).await;
            return Ok(());
        }
        match serde_json::from_str::<DeviceFrame>(&text) {
            Ok(DeviceFrame::Ack { id }) => {
                self.on_ack(&id).await;
                Ok(())
            }
            Ok(DeviceFrame::Ping) => {
                write_frames(self.inner, self.ws, [frame_text(&ServerFrame::Pong)]).await
            }
            Ok(DeviceFrame::Pong) => Ok(()),
            Ok(DeviceFrame::Hello { .. }) => Err(End::Close(
                CloseReason::ProtocolError,
                Some("hello was already received".to_owned()),
            )),
            Err(e) => Err(End::Close(CloseReason::ProtocolError, Some(e.to_string()))),
        }
    }
}

impl<S> Session<'_, S> {
    async fn on_ack(&mut self, id: &str) {
        if let Some((count, bytes)) = self.unacked.remove(id) {
            self.in_flight -= count as usize;
            self.in_flight_bytes -= bytes;
            self.window_full = false;
        }
        // Any ack, even of a duplicate, shows the device reads.
        self.progress = self.last_heard;
        // The device can only ack its own queue: `device` comes from its token.
        if let Err(error) = self.inner.store.remove(self.device, id).await {
            // The push stays queued and is replayed; the device de-duplicates it.
            tracing::warn!(%error, "daemon queue store failed to remove an acked push");
        }
        self.conn.acked(id);
    }
}

fn read_error(error: WsError) -> End {
    match error {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => End::Close(
            CloseReason::FrameTooLarge,
            Some(format!(
                "a frame of {size} bytes is over the {max_size}-byte limit"
            )),
        ),
        WsError::Protocol(e) => End::Close(CloseReason::ProtocolError, Some(e.to_string())),
        WsError::Utf8(e) => End::Close(CloseReason::ProtocolError, Some(e)),
        _ => End::Gone,
    }
}

fn frame_text(frame: &ServerFrame) -> String {
    // Serialising these frames (strings and numbers only) cannot fail.
    serde_json::to_string(frame).unwrap_or_default()
}

async fn write_frames<S, const N: usize>(
    inner: &Inner,
    ws: &mut WebSocketStream<S>,
    frames: [String; N],
) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    write_messages(inner, ws, frames.into_iter().map(Message::text)).await
}

/// Writes a batch and flushes it, within the write timeout: a device that does not read is
/// closed as too slow, and its unacked pushes stay queued.
async fn write_messages<S>(
    inner: &Inner,
    ws: &mut WebSocketStream<S>,
    messages: impl IntoIterator<Item = Message>,
) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        for message in messages {
            ws.feed(message).await?;
        }
        ws.flush().await
    };
    match timeout(inner.config.write_timeout, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => Err(End::Close(CloseReason::TooSlow, None)),
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
