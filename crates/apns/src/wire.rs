//! The HTTP/2 client side of one APNs connection (RFC 9113), made for what a provider does:
//! many small POSTs in flight, each answered by a short response.
//!
//! Why not `h2`: with `h2` the client spent ~50k instructions per notification (callgrind),
//! more than the 10 µs budget, and most of it in work a provider does not need — HPACK
//! encoding with Huffman coding of the provider token, path and `apns-id` on every request
//! (`h2` never indexes `authorization` or `:path`), header maps built and parsed again, and a
//! stream state machine for full duplex. Here a request arrives as a ready HPACK block
//! ([`crate::hpack`]) and its body, and is copied into the connection's write buffer under one
//! lock; one task per connection reads and writes the socket.
//!
//! What the protocol asks of a client, and where it is done:
//! - connection preface and SETTINGS, ACKs of the server's SETTINGS ([`State::on_settings`]);
//! - the server's `SETTINGS_MAX_CONCURRENT_STREAMS` is never exceeded, and until its first
//!   SETTINGS frame only one stream is opened (a token connection allows one until its first
//!   valid request, protocols/apns.md §2.1, §5); streams over the limit wait, in order;
//! - flow control both ways: bodies go out as the stream and connection windows allow
//!   ([`State::send_body`]), a stream without window never holding back the others
//!   ([`State::send_blocked`]); received DATA is given back with WINDOW_UPDATE;
//! - header blocks split over CONTINUATION frames both ways, padding and priority fields read;
//! - PING answered, and sent as keep-alive: unanswered within the timeout = dead connection;
//! - GOAWAY: streams above its last-stream-id were not processed ([`StreamError::Refused`]),
//!   the others are answered or lost with the connection; no new stream after it;
//! - RST_STREAM: REFUSED_STREAM = not processed; a send given up (timeout) resets its stream
//!   (CANCEL), so an unanswered stream does not hold a slot forever;
//! - protocol violations by the server end the connection with GOAWAY and the matching code
//!   (nothing on a stream is written after it); a malformed answer (over the header list
//!   limit, 101, trailers without END_STREAM) fails its stream only; a clean close sends
//!   GOAWAY NO_ERROR.
//!
//! We own this code's conformance (issue 13): whatever a server sends, nothing panics and
//! nothing grows without bound — header lists are bounded decoded, not only encoded
//! ([`MAX_HEADER_LIST`]), frames are not read while [`MAX_QUEUED_OUT`] bytes wait to be
//! written, CONTINUATION and stream-reset floods end the connection as in `h2` — and any end
//! of the connection task, a panic included, ends the state (`Driver`'s `Drop`), so the slot
//! reconnects. tests/it/conformance.rs plays each case with a raw-frame server and compares
//! with `h2`; wire/fuzz_tests.rs and hpack/fuzz_tests.rs fuzz the reader and the decoder.
//!
//! Nothing is resent here: every stream ends with the server's answer or a [`StreamError`],
//! and the caller decides.

use std::collections::VecDeque;
use std::hash::BuildHasherDefault;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http::{HeaderMap, HeaderValue, StatusCode};
use rustc_hash::FxHasher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use crate::hpack::{Decoder, ResponseHead};

mod driver;
mod recv;

type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Frame types (RFC 9113 §6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

// Flags.
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

// Error codes (RFC 9113 §7).
const NO_ERROR: u32 = 0x0;
const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const FRAME_SIZE_ERROR: u32 = 0x6;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;
const COMPRESSION_ERROR: u32 = 0x9;
const ENHANCE_YOUR_CALM: u32 = 0xb;

// Settings.
const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// The largest frame we accept (we do not raise SETTINGS_MAX_FRAME_SIZE from its default).
const MAX_FRAME: usize = 16_384;
/// The largest response header list we take, counted as RFC 9113 §6.5.2 counts it (32 bytes
/// plus name and value per field) and sent as SETTINGS_MAX_HEADER_LIST_SIZE. A stream whose answer
/// is larger is failed, not the connection.
const MAX_HEADER_LIST: usize = 64 * 1024;
/// The largest encoded header block we gather from HEADERS + CONTINUATION. A block within
/// [`MAX_HEADER_LIST`] decoded is at most about 3.75 times larger encoded (the longest Huffman
/// code is 30 bits for 8), so a larger one is over the limit for sure; as `h2` does, it is then
/// a connection error (COMPRESSION_ERROR), since it cannot be skipped without decoding it.
const MAX_ENCODED_BLOCK: usize = 4 * MAX_HEADER_LIST;
/// CONTINUATION frames without END_HEADERS allowed in one block, as `h2` computes it (the
/// frames a full block needs, + 25 %, at least 5): more is a flood (ENHANCE_YOUR_CALM).
const MAX_CONTINUATIONS: usize = {
    let frames = MAX_ENCODED_BLOCK / MAX_FRAME;
    let n = frames + frames / 4;
    if n < 5 { 5 } else { n }
};
/// While this many bytes wait to be written, no more frames are read: every frame read may
/// queue a reply (PING and SETTINGS ACKs, WINDOW_UPDATE, RST_STREAM), and a server that sends
/// them without reading ours would otherwise grow the buffer without bound. `h2` does the
/// same (it acknowledges a frame before it reads the next, into a bounded write buffer).
const MAX_QUEUED_OUT: usize = 128 * 1024;
/// Streams we may reset because of the server's errors on them before the connection is
/// ended with ENHANCE_YOUR_CALM (`h2`'s `DEFAULT_LOCAL_RESET_COUNT_MAX`).
const MAX_LOCAL_RESETS: usize = 1024;
/// Our receive windows, per stream (SETTINGS_INITIAL_WINDOW_SIZE) and for the connection.
/// Responses are a few hundred bytes at most; this only bounds what the server may send ahead.
const RECV_WINDOW: u32 = 1 << 20;
/// A response body larger than this is cut (error bodies are tiny JSON objects).
const MAX_BODY: usize = 64 * 1024;
const MAX_WINDOW: i64 = (1 << 31) - 1;
const LAST_STREAM_ID: u32 = (1 << 31) - 1;
/// Write holding (see `Driver::hold_writes`): only while this many streams await answers on
/// the wire, by default for at most this long (the timer's granularity is a millisecond), and
/// below this many queued bytes.
const HOLD_MIN_ON_WIRE: usize = 32;
pub(crate) const DEFAULT_WRITE_HOLD: Duration = Duration::from_millis(1);
const HOLD_MAX_BYTES: usize = 32 * 1024;

static NEXT_PING: AtomicU64 = AtomicU64::new(1);

/// The server's answer to one stream.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    /// `apns-id`, also in `headers` unless the status is 200 (a success needs nothing else).
    pub apns_id: Option<HeaderValue>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A stream that ended without an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StreamError {
    /// Nothing was written: the connection was closing or gone (another connection may take it).
    #[error("not sent: {0}")]
    NotSent(String),
    /// The server did not process it: RST_STREAM REFUSED_STREAM, or above a GOAWAY's
    /// last-stream-id (RFC 9113 §8.7).
    #[error("not processed: {0}")]
    Refused(String),
    /// RST_STREAM with another code: processed or not, unknown.
    #[error("stream reset by the server: error code {0:#x}")]
    Reset(u32),
    /// The connection ended before the answer: processed or not, unknown.
    #[error("connection lost: {0}")]
    Lost(String),
    /// The answer was not a valid HTTP response.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

type Reply = oneshot::Sender<Result<Answer, StreamError>>;

struct Shared {
    state: Mutex<State>,
    /// The connection task, woken when there is something to write or the handle is gone.
    io: AtomicWaker,
}

/// A request waiting for a stream slot (the server's limit is reached, or its SETTINGS have
/// not come yet).
struct Waiting {
    id: u32,
    block: Vec<u8>,
    body: Bytes,
    reply: Reply,
}

struct Stream {
    reply: Option<Reply>,
    /// Stream-level send window.
    window: i64,
    /// The part of the body not yet sent (flow control).
    unsent: Bytes,
    head: Option<ResponseHead>,
    body: Vec<u8>,
}

/// A header block being assembled from HEADERS + CONTINUATION.
struct Partial {
    id: u32,
    end_stream: bool,
    block: Vec<u8>,
    continuations: usize,
}

struct State {
    /// Why the connection ended; nothing more is sent.
    ended: Option<String>,
    /// GOAWAY received: its last-stream-id.
    goaway: Option<u32>,
    /// The handle was dropped: finish the open streams, then close.
    released: bool,
    settings_seen: bool,
    next_id: u32,
    max_streams: usize,
    conn_window: i64,
    initial_window: i64,
    max_frame: usize,
    streams: FxHashMap<u32, Stream>,
    waiting: VecDeque<Waiting>,
    /// Streams whose body waits for window, in order.
    blocked: VecDeque<u32>,
    /// Bytes to write, appended by senders and by the reader (ACKs, WINDOW_UPDATEs).
    out: Vec<u8>,
    /// Streams opened whose frames are still in `out`.
    opened_unwritten: usize,
    /// The highest stream id opened (its HEADERS queued): ids above it are idle.
    last_opened: u32,
    /// The highest stream id whose frames went to the writer: the streams above it were never
    /// written, and the server cannot have seen them.
    written_upto: u32,
    /// Streams we reset because of the server's errors on them (bounded by
    /// [`MAX_LOCAL_RESETS`]).
    local_resets: usize,
    /// A GOAWAY NO_ERROR is queued for a clean close.
    closing: bool,
    /// Header block being assembled from HEADERS + CONTINUATION.
    partial: Option<Partial>,
    decoder: Decoder,
    /// Connection-level bytes received and not yet given back.
    unreturned: u32,
    /// Keep-alive: the payload of the PING in flight.
    ping: Option<[u8; 8]>,
}

/// The handle of a connection: opens streams. Dropping it lets the connection finish its open
/// streams and close.
pub(crate) struct Connection {
    shared: Arc<Shared>,
}

/// How one connection keeps itself alive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepAlive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// A connection's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub keep_alive: Option<KeepAlive>,
    /// The longest a queued request is held under load (see `Driver::hold_writes`); zero
    /// writes at once.
    pub write_hold: Duration,
}

/// Starts the client side of an HTTP/2 connection over `io` (TLS with ALPN `h2` done, or
/// h2c with prior knowledge): queues the preface and SETTINGS and spawns the task that drives
/// the socket. Returns at once; streams opened before the server's SETTINGS wait for them
/// (one is opened meanwhile).
pub(crate) fn start<T>(io: T, options: Options, conn_id: u64) -> Connection
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut out = Vec::with_capacity(16 * 1024);
    out.extend_from_slice(PREFACE);
    let settings: [(u16, u32); 3] = [
        (SETTINGS_ENABLE_PUSH, 0),
        (SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW),
        (SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST as u32),
    ];
    frame_head(&mut out, settings.len() * 6, SETTINGS, 0, 0);
    for (id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
    // The connection window starts at 65,535 whatever SETTINGS say: raise it to RECV_WINDOW.
    window_update(&mut out, 0, RECV_WINDOW - 65_535);
    let shared = Arc::new(Shared {
        state: Mutex::new(State::new(out)),
        io: AtomicWaker::new(),
    });
    tokio::spawn(driver::run(io, shared.clone(), options, conn_id));
    Connection { shared }
}

impl Connection {
    /// Whether a new stream may still go on this connection.
    pub fn usable(&self) -> bool {
        let state = self.shared.lock();
        state.ended.is_none() && state.goaway.is_none() && state.next_id < LAST_STREAM_ID
    }

    /// Opens a stream with the HPACK header `block` and `body` (both sent with END_STREAM at
    /// the end), or queues it if the server's stream limit is reached. Nothing waits here.
    pub fn send(&self, head: &dyn Fn(&mut Vec<u8>), body: &[u8]) -> Result<Pending, StreamError> {
        let (reply, answer) = oneshot::channel();
        let id = {
            let mut state = self.shared.lock();
            if let Some(why) = &state.ended {
                return Err(StreamError::NotSent(why.clone()));
            }
            if state.goaway.is_some() {
                return Err(StreamError::NotSent("the server sent GOAWAY".into()));
            }
            if state.next_id >= LAST_STREAM_ID {
                return Err(StreamError::NotSent("stream ids used up".into()));
            }
            let id = state.next_id;
            state.next_id += 2;
            if state.waiting.is_empty() && state.streams.len() < state.max_streams {
                // The usual case: the frames go straight into the write buffer.
                state.open(id, reply, head, body);
            } else {
                let mut block = Vec::new();
                head(&mut block);
                state.waiting.push_back(Waiting {
                    id,
                    block,
                    body: Bytes::copy_from_slice(body),
                    reply,
                });
            }
            id
        };
        self.shared.io.wake();
        Ok(Pending {
            shared: self.shared.clone(),
            id,
            answer,
            done: false,
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.lock().released = true;
        self.shared.io.wake();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One stream's answer to come. Dropped before it came (a timeout), it resets the stream.
pub(crate) struct Pending {
    shared: Arc<Shared>,
    id: u32,
    answer: oneshot::Receiver<Result<Answer, StreamError>>,
    done: bool,
}

impl Pending {
    pub async fn answer(mut self) -> Result<Answer, StreamError> {
        let result = (&mut self.answer)
            .await
            .unwrap_or_else(|_| Err(StreamError::Lost("connection task gone".into())));
        self.done = true;
        result
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.shared.lock();
        if let Some(stream) = state.streams.remove(&self.id) {
            if state.ended.is_none() {
                rst_stream(&mut state.out, self.id, CANCEL);
                state.freed(self.id, &stream);
            }
        } else if let Some(i) = state.waiting.iter().position(|w| w.id == self.id) {
            state.waiting.remove(i);
        }
        drop(state);
        self.shared.io.wake();
    }
}

fn frame_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = len as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
}

fn window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    frame_head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&increment.to_be_bytes());
}

fn rst_stream(out: &mut Vec<u8>, stream: u32, code: u32) {
    frame_head(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

fn goaway(out: &mut Vec<u8>, code: u32) {
    frame_head(out, 8, GOAWAY, 0, 0);
    // We accept no server-initiated streams: the last one we processed is 0.
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// A connection error: the GOAWAY code to send and why.
struct ConnError(u32, String);

impl State {
    /// A connection's state before anything was read, with `out` queued (the preface and our
    /// SETTINGS).
    fn new(out: Vec<u8>) -> State {
        State {
            ended: None,
            goaway: None,
            released: false,
            settings_seen: false,
            next_id: 1,
            max_streams: 1,
            conn_window: 65_535,
            initial_window: 65_535,
            max_frame: MAX_FRAME,
            streams: FxHashMap::default(),
            waiting: VecDeque::new(),
            blocked: VecDeque::new(),
            out,
            opened_unwritten: 0,
            last_opened: 0,
            written_upto: 0,
            local_resets: 0,
            closing: false,
            partial: None,
            decoder: Decoder::new(),
            unreturned: 0,
            ping: None,
        }
    }

    /// Writes the HEADERS (+ CONTINUATION) frames of a stream and as much body as the windows
    /// allow; the rest of the body waits for WINDOW_UPDATE.
    fn open(&mut self, id: u32, reply: Reply, head: &dyn Fn(&mut Vec<u8>), body: &[u8]) {
        let end_stream = if body.is_empty() { END_STREAM } else { 0 };
        // The block is encoded in place, after a frame header whose length is filled in after.
        let start = self.out.len();
        frame_head(&mut self.out, 0, HEADERS, end_stream | END_HEADERS, id);
        head(&mut self.out);
        let len = self.out.len() - start - 9;
        if len <= self.max_frame {
            self.out[start..start + 3].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
        } else {
            // Larger than a frame (never for APNs's requests): HEADERS + CONTINUATION.
            let block = self.out.split_off(start + 9);
            self.out.truncate(start);
            let mut rest: &[u8] = &block;
            let mut kind = HEADERS;
            loop {
                let n = rest.len().min(self.max_frame);
                let last = n == rest.len();
                let flags = if kind == HEADERS { end_stream } else { 0 }
                    | if last { END_HEADERS } else { 0 };
                frame_head(&mut self.out, n, kind, flags, id);
                self.out.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                kind = CONTINUATION;
                if last {
                    break;
                }
            }
        }
        let mut window = self.initial_window;
        let sent = self.data_frames(id, &mut window, body);
        let unsent = if sent < body.len() {
            self.blocked.push_back(id);
            Bytes::copy_from_slice(&body[sent..])
        } else {
            Bytes::new()
        };
        let stream = Stream {
            reply: Some(reply),
            window,
            unsent,
            head: None,
            body: Vec::new(),
        };
        self.streams.insert(id, stream);
        self.opened_unwritten += 1;
        self.last_opened = id;
    }

    /// Writes DATA frames of `body` while the stream's and the connection's windows allow;
    /// returns how many bytes went. The last frame of the body carries END_STREAM.
    fn data_frames(&mut self, id: u32, window: &mut i64, body: &[u8]) -> usize {
        let mut sent = 0;
        while sent < body.len() {
            let room = (*window).min(self.conn_window);
            if room <= 0 {
                break;
            }
            let n = (body.len() - sent).min(room as usize).min(self.max_frame);
            let flags = if sent + n == body.len() {
                END_STREAM
            } else {
                0
            };
            frame_head(&mut self.out, n, DATA, flags, id);
            self.out.extend_from_slice(&body[sent..sent + n]);
            sent += n;
            *window -= n as i64;
            self.conn_window -= n as i64;
        }
        sent
    }

    /// Sends what the windows allow of a waiting body; true when all of it is sent.
    fn send_body(&mut self, id: u32) -> bool {
        let Some(stream) = self.streams.get_mut(&id) else {
            return true;
        };
        let unsent = std::mem::take(&mut stream.unsent);
        let mut window = stream.window;
        let sent = self.data_frames(id, &mut window, &unsent);
        let Some(stream) = self.streams.get_mut(&id) else {
            return true;
        };
        stream.window = window;
        stream.unsent = unsent.slice(sent..);
        stream.unsent.is_empty()
    }

    /// Sends the bodies that waited for window, in order, as far as the windows allow. A
    /// stream without window of its own is skipped, not waited for: it must not hold back the
    /// streams behind it (head-of-line blocking).
    fn send_blocked(&mut self) {
        let mut i = 0;
        while i < self.blocked.len() && self.conn_window > 0 {
            if self.send_body(self.blocked[i]) {
                self.blocked.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// A stream left (answered, reset by either side): its slot and any window it held back
    /// go to the others.
    fn freed(&mut self, id: u32, stream: &Stream) {
        if !stream.unsent.is_empty() {
            self.blocked.retain(|&b| b != id);
            self.send_blocked();
        }
        self.open_waiting();
    }

    /// Whether `id` names a stream that was never opened: the server may not send on it
    /// (RFC 9113 §5.1; with push disabled, even ids are never opened).
    fn idle(&self, id: u32) -> bool {
        id.is_multiple_of(2) || id > self.last_opened
    }

    /// Resets a stream because of the server's error on it and fails it; too many of those
    /// are a connection error, as in `h2`.
    fn reset_stream(&mut self, id: u32, code: u32, error: StreamError) -> Result<(), ConnError> {
        rst_stream(&mut self.out, id, code);
        self.finish(id, Err(error));
        self.local_resets += 1;
        if self.local_resets > MAX_LOCAL_RESETS {
            return Err(ConnError(
                ENHANCE_YOUR_CALM,
                "too many streams reset for the server's errors".into(),
            ));
        }
        Ok(())
    }

    /// Opens waiting streams while the server's limit allows.
    fn open_waiting(&mut self) {
        while self.streams.len() < self.max_streams && self.ended.is_none() && self.goaway.is_none()
        {
            let Some(w) = self.waiting.pop_front() else {
                return;
            };
            if w.reply.is_closed() {
                continue;
            }
            self.open(
                w.id,
                w.reply,
                &|out| out.extend_from_slice(&w.block),
                &w.body,
            );
        }
    }

    /// Ends a stream with its answer or error and frees its slot.
    fn finish(&mut self, id: u32, result: Result<Answer, StreamError>) {
        if let Some(mut stream) = self.streams.remove(&id) {
            if let Some(reply) = stream.reply.take() {
                let _ = reply.send(result);
            }
            self.freed(id, &stream);
        }
    }

    /// A connection error: the stream frames not yet written are dropped (the server must see
    /// nothing of them after our GOAWAY, and the streams it never saw are then not sent rather
    /// than lost), the GOAWAY queued, the connection ended.
    fn fail(&mut self, code: u32, why: String) {
        if self.ended.is_some() {
            return;
        }
        recv::retain_frames(&mut self.out, |_| false);
        self.opened_unwritten = 0;
        goaway(&mut self.out, code);
        self.end(why);
    }

    /// The connection is over: every stream and waiting request gets an error; streams
    /// never written are not sent, the others lost.
    fn end(&mut self, why: String) {
        if self.ended.is_some() {
            return;
        }
        let written_upto = self.written_upto;
        for (id, mut stream) in self.streams.drain() {
            if let Some(reply) = stream.reply.take() {
                let error = if id > written_upto {
                    StreamError::NotSent(why.clone())
                } else {
                    StreamError::Lost(why.clone())
                };
                let _ = reply.send(Err(error));
            }
        }
        for w in self.waiting.drain(..) {
            let _ = w.reply.send(Err(StreamError::NotSent(why.clone())));
        }
        self.blocked.clear();
        self.ended = Some(why);
    }
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod tests;
