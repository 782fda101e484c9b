//! An authenticated device connection on the server: the send/ack/heartbeat loop.

use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use rustc_hash::FxHashMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, MissedTickBehavior, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};

use crate::conn::{Carried, Conn, Wake};
use crate::hub::Inner;
use crate::key::DeviceKey;
use crate::protocol::{CloseReason, DeviceFrame, ServerFrame, fast_ack_id};
use crate::queue::StoredPush;

/// How a session ended.
pub(crate) enum End {
    /// The server closes with this reason (an `error` frame, then a close frame).
    Close(CloseReason, Option<String>),
    /// The device closed, or the transport failed: nothing more to say.
    Gone,
}

pub(crate) struct Session<'a, S> {
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

impl<'a, S> Session<'a, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(
        inner: &'a Inner,
        device: &'a DeviceKey,
        conn: &'a Conn,
        ws: &'a mut WebSocketStream<S>,
    ) -> Self {
        let now = Instant::now();
        Session {
            inner,
            device,
            conn,
            ws,
            cursor: 0,
            unacked: FxHashMap::default(),
            in_flight: 0,
            in_flight_bytes: 0,
            window_full: false,
            need_fetch: true,
            last_heard: now,
            progress: now,
        }
    }

    pub(crate) async fn run(&mut self) -> End {
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
                () = self.conn.wake.notified(), if can_fetch => match self.conn.take_wake() {
                    Wake::Read => self.need_fetch = true,
                    Wake::Carried(carried) => {
                        if let Err(end) = self.send_carried(carried).await {
                            return end;
                        }
                    }
                },
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
        // What was carried so far committed before its wake-up: this read returns it.
        self.conn.reading();
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
        let mut frames = Vec::with_capacity(pending.pushes.len());
        for push in pending.pushes {
            if !self.fits(&push) {
                // The rest waits for acks, and is fetched again then.
                self.window_full = true;
                self.need_fetch = true;
                break;
            }
            frames.push(self.take(push));
        }
        write_messages(self.inner, self.ws, frames).await
    }

    /// Sends the carried pushes that follow on from the cursor, in order; at the first that
    /// does not (something before it is unsent), has expired (the read deletes and counts it)
    /// or does not fit the window, the queue is read instead.
    async fn send_carried(&mut self, carried: Vec<Carried>) -> Result<(), End> {
        let now = self.inner.clock.now_ms();
        let mut frames = Vec::new();
        for Carried { push, prev } in carried {
            if push.seq <= self.cursor {
                // Already sent from a read.
                continue;
            }
            if prev.is_some_and(|prev| prev > self.cursor)
                || push.expires_at_ms <= now
                || self.in_flight >= self.inner.config.max_in_flight
                || !self.fits(&push)
            {
                self.need_fetch = true;
                break;
            }
            frames.push(self.take(push));
        }
        if frames.is_empty() {
            return Ok(());
        }
        self.inner
            .counters
            .sent_carried
            .fetch_add(frames.len() as u64, Ordering::Relaxed);
        write_messages(self.inner, self.ws, frames).await
    }

    /// Whether `push` fits the byte window (one push is always allowed, however large).
    fn fits(&self, push: &StoredPush) -> bool {
        self.in_flight == 0
            || self.in_flight_bytes + push.frame.len() <= self.inner.config.max_in_flight_bytes
    }

    /// Counts `push` in flight and moves the cursor to it: its frame, to send.
    fn take(&mut self, push: StoredPush) -> Message {
        let size = push.frame.len();
        if self.in_flight == 0 {
            self.progress = Instant::now();
        }
        self.cursor = push.seq;
        let unacked = self.unacked.entry(push.id).or_default();
        unacked.0 += 1;
        unacked.1 += size;
        self.in_flight += 1;
        self.in_flight_bytes += size;
        Message::text(&*push.frame)
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
        match self.inner.store.remove(self.device, id).await {
            Ok(0) => {
                self.conn.acked(id);
            }
            Ok(_) => {
                // A send that is told reports `Delivered` itself; the listener hears of the
                // others (acked after their send gave up waiting, or on a later connection).
                if !self.conn.acked(id)
                    && let Some(listener) = &self.inner.on_acked
                {
                    listener(self.device, id);
                }
            }
            // The push stays queued and is replayed; the device de-duplicates it.
            Err(error) => {
                tracing::warn!(%error, "daemon queue store failed to remove an acked push");
                self.conn.acked(id);
            }
        }
    }
}

pub(crate) fn read_error(error: WsError) -> End {
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

pub(crate) fn frame_text(frame: &ServerFrame) -> String {
    // Serialising these frames (strings and numbers only) cannot fail.
    serde_json::to_string(frame).unwrap_or_default()
}

pub(crate) async fn write_frames<S, const N: usize>(
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
