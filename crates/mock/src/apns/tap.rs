//! The raw-frame path (protocols/apns.md §8.3): a byte-level shim between the socket and the `h2`
//! server that lets the simulator write HTTP/2 frames `h2` cannot — a GOAWAY with debug data, and
//! SETTINGS that change `MAX_CONCURRENT_STREAMS` on a live connection.
//!
//! Outgoing bytes are cut into frames (9-byte header + payload) and copied to a buffer; our frames
//! are slipped in only between two of `h2`'s frames. Once our GOAWAY went out, `h2`'s own GOAWAYs
//! are dropped (a second GOAWAY with a higher last-stream-id would be a protocol error). Incoming
//! bytes are cut the same way so that the client's ACKs of *our* SETTINGS are removed before `h2`
//! sees them (`h2` treats an ACK it did not ask for as a protocol error); SETTINGS ACKs come back
//! in the order the SETTINGS went out, which a FIFO of owners tracks.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const PREFACE_LEN: usize = 24;
const HEADER_LEN: usize = 9;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// Outgoing bytes buffered before `poll_write` pushes back.
const OUT_HIGH_WATER: usize = 256 * 1024;
const READ_CHUNK: usize = 32 * 1024;

/// Frames the connection task asks the shim to write.
#[derive(Default)]
pub(crate) struct TapControl {
    pending: AtomicBool,
    inner: Mutex<ControlInner>,
}

#[derive(Default)]
struct ControlInner {
    frames: Vec<(bool, Vec<u8>)>,
    suppress_goaway: bool,
    waker: Option<Waker>,
}

impl TapControl {
    fn push(&self, is_settings: bool, frame: Vec<u8>, suppress_goaway: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.frames.push((is_settings, frame));
        inner.suppress_goaway |= suppress_goaway;
        self.pending.store(true, Ordering::Release);
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    /// Advertises a new `SETTINGS_MAX_CONCURRENT_STREAMS`.
    pub fn advertise_max_streams(&self, n: u32) {
        let mut f = header(6, SETTINGS, 0, 0);
        f.extend_from_slice(&MAX_CONCURRENT_STREAMS.to_be_bytes());
        f.extend_from_slice(&n.to_be_bytes());
        self.push(true, f, false);
    }

    /// Sends GOAWAY(`last_stream_id`, `code`, `debug`); `h2`'s own GOAWAYs are dropped from now on.
    pub fn goaway(&self, last_stream_id: u32, code: u32, debug: &[u8]) {
        let mut f = header(8 + debug.len(), GOAWAY, 0, 0);
        f.extend_from_slice(&(last_stream_id & 0x7fff_ffff).to_be_bytes());
        f.extend_from_slice(&code.to_be_bytes());
        f.extend_from_slice(debug);
        self.push(false, f, true);
    }

    fn take(&self, waker: &Waker) -> (Vec<(bool, Vec<u8>)>, bool) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if !inner.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            inner.waker = Some(waker.clone());
        }
        self.pending.store(false, Ordering::Release);
        (std::mem::take(&mut inner.frames), inner.suppress_goaway)
    }
}

fn header(len: usize, kind: u8, flags: u8, stream: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(HEADER_LEN + len);
    f.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    H2,
    Us,
}

/// Cuts a byte stream into frames; shared by both directions.
#[derive(Default)]
struct Cutter {
    preface: usize,
    header: [u8; HEADER_LEN],
    header_len: usize,
    remaining: usize,
    skipping: bool,
    /// Payload of a SETTINGS frame being rewritten.
    settings: Option<Vec<u8>>,
    /// Bytes of the current header already passed on by the fast path.
    emitted: usize,
}

impl Cutter {
    fn at_boundary(&self) -> bool {
        self.preface == 0 && self.header_len == 0 && self.remaining == 0
    }

    /// The fast path: follows frame boundaries over bytes passed on unchanged. `on_header` sees
    /// each completed header (type, flags).
    fn track(&mut self, mut buf: &[u8], mut on_header: impl FnMut(u8, u8)) {
        while !buf.is_empty() {
            if self.preface > 0 || self.remaining > 0 {
                let left = if self.preface > 0 {
                    &mut self.preface
                } else {
                    &mut self.remaining
                };
                let n = (*left).min(buf.len());
                *left -= n;
                buf = &buf[n..];
                continue;
            }
            let n = (HEADER_LEN - self.header_len).min(buf.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&buf[..n]);
            self.header_len += n;
            self.emitted = self.header_len;
            buf = &buf[n..];
            if self.header_len == HEADER_LEN {
                let (len, kind, flags) = parse_header(&self.header);
                self.header_len = 0;
                self.emitted = 0;
                self.remaining = len;
                on_header(kind, flags);
            }
        }
    }
}

/// The shim. `T` is the socket (TCP or TLS).
pub(crate) struct Tap<T> {
    io: T,
    control: Arc<TapControl>,
    out: Vec<u8>,
    out_pos: usize,
    write: Cutter,
    read: Cutter,
    ready: Vec<u8>,
    ready_pos: usize,
    scratch: Vec<u8>,
    owners: VecDeque<Owner>,
    suppress_goaway: bool,
    /// Replaces `MAX_CONCURRENT_STREAMS` in `h2`'s first SETTINGS (the "token start" limit).
    initial_max_streams: Option<u32>,
    eof: bool,
}

impl<T> Tap<T> {
    pub fn new(io: T, control: Arc<TapControl>, initial_max_streams: Option<u32>) -> Tap<T> {
        Tap {
            io,
            control,
            out: Vec::with_capacity(16 * 1024),
            out_pos: 0,
            write: Cutter::default(),
            read: Cutter {
                preface: PREFACE_LEN,
                ..Cutter::default()
            },
            ready: Vec::new(),
            ready_pos: 0,
            scratch: vec![0; READ_CHUNK],
            owners: VecDeque::new(),
            suppress_goaway: false,
            initial_max_streams,
            eof: false,
        }
    }

    /// Moves requested frames into the output, if between two frames.
    fn inject(&mut self, waker: &Waker) {
        if !self.control.pending.load(Ordering::Acquire) || !self.write.at_boundary() {
            return;
        }
        let (frames, suppress) = self.control.take(waker);
        self.suppress_goaway |= suppress;
        for (is_settings, frame) in frames {
            if is_settings {
                self.owners.push_back(Owner::Us);
            }
            self.out.extend_from_slice(&frame);
        }
    }

    /// Runs `h2`'s outgoing bytes through the frame cutter into `out`.
    fn cut_outgoing(&mut self, mut buf: &[u8], waker: &Waker) {
        while !buf.is_empty() {
            self.inject(waker);
            let w = &mut self.write;
            if w.remaining > 0 {
                let n = w.remaining.min(buf.len());
                match &mut w.settings {
                    Some(payload) => payload.extend_from_slice(&buf[..n]),
                    None if w.skipping => {}
                    None => self.out.extend_from_slice(&buf[..n]),
                }
                w.remaining -= n;
                buf = &buf[n..];
                if w.remaining == 0 {
                    w.skipping = false;
                    if let Some(mut payload) = w.settings.take() {
                        rewrite_max_streams(&mut payload, self.initial_max_streams.take());
                        self.out.extend_from_slice(&w.header[w.emitted..]);
                        w.emitted = 0;
                        self.out.extend_from_slice(&payload);
                    }
                }
                continue;
            }
            let n = (HEADER_LEN - w.header_len).min(buf.len());
            w.header[w.header_len..w.header_len + n].copy_from_slice(&buf[..n]);
            w.header_len += n;
            buf = &buf[n..];
            if w.header_len < HEADER_LEN {
                continue;
            }
            w.header_len = 0;
            let (len, kind, flags) = parse_header(&w.header);
            w.remaining = len;
            if kind == GOAWAY && self.suppress_goaway {
                w.skipping = true;
                continue;
            }
            if kind == SETTINGS && flags & ACK == 0 {
                self.owners.push_back(Owner::H2);
                if self.initial_max_streams.is_some() && len > 0 {
                    w.settings = Some(Vec::with_capacity(len));
                    continue;
                }
            }
            self.out.extend_from_slice(&w.header[w.emitted..]);
            w.emitted = 0;
        }
        self.inject(waker);
    }

    /// Runs the client's bytes through the frame cutter into `ready`, dropping ACKs of our SETTINGS.
    fn cut_incoming(&mut self, n: usize) {
        let mut buf = &self.scratch[..n];
        let r = &mut self.read;
        while !buf.is_empty() {
            if r.preface > 0 {
                let k = r.preface.min(buf.len());
                self.ready.extend_from_slice(&buf[..k]);
                r.preface -= k;
                buf = &buf[k..];
                continue;
            }
            if r.remaining > 0 {
                let k = r.remaining.min(buf.len());
                if !r.skipping {
                    self.ready.extend_from_slice(&buf[..k]);
                }
                r.remaining -= k;
                buf = &buf[k..];
                r.skipping &= r.remaining > 0;
                continue;
            }
            let k = (HEADER_LEN - r.header_len).min(buf.len());
            r.header[r.header_len..r.header_len + k].copy_from_slice(&buf[..k]);
            r.header_len += k;
            buf = &buf[k..];
            if r.header_len < HEADER_LEN {
                continue;
            }
            r.header_len = 0;
            let (len, kind, flags) = parse_header(&r.header);
            r.remaining = len;
            if kind == SETTINGS && flags & ACK != 0 && self.owners.pop_front() == Some(Owner::Us) {
                r.skipping = len > 0;
                continue;
            }
            self.ready.extend_from_slice(&r.header[r.emitted..]);
            r.emitted = 0;
        }
    }
}

fn parse_header(h: &[u8; HEADER_LEN]) -> (usize, u8, u8) {
    let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
    (len, h[3], h[4])
}

fn rewrite_max_streams(payload: &mut [u8], value: Option<u32>) {
    let Some(value) = value else { return };
    for param in payload.chunks_exact_mut(6) {
        if u16::from_be_bytes([param[0], param[1]]) == MAX_CONCURRENT_STREAMS {
            param[2..].copy_from_slice(&value.to_be_bytes());
        }
    }
}

impl<T: AsyncWrite + Unpin> Tap<T> {
    /// Writes `out` to the socket until it is empty or the socket is full.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out[self.out_pos..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.out_pos += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Frames requested while `h2` had nothing to write go out from here: `h2` always reads.
        this.inject(cx.waker());
        if this.out_pos < this.out.len() {
            let flushed = match this.drain(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_flush(cx),
                Poll::Pending => Poll::Pending,
            };
            if let Poll::Ready(Err(e)) = flushed {
                return Poll::Ready(Err(e));
            }
        }
        // Fast path: nothing of ours to filter out, so read straight into `buf` and only follow
        // the frame boundaries. (An ACK being read now answers a SETTINGS of h2's: ACKs come back
        // in order, and none of ours is outstanding.)
        if this.ready_pos >= this.ready.len() && !this.eof && !this.owners.contains(&Owner::Us) {
            let before = buf.filled().len();
            std::task::ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
            let owners = &mut this.owners;
            this.read.track(&buf.filled()[before..], |kind, flags| {
                if kind == SETTINGS && flags & ACK != 0 {
                    owners.pop_front();
                }
            });
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.ready_pos < this.ready.len() {
                let n = (this.ready.len() - this.ready_pos).min(buf.remaining());
                buf.put_slice(&this.ready[this.ready_pos..this.ready_pos + n]);
                this.ready_pos += n;
                return Poll::Ready(Ok(()));
            }
            this.ready.clear();
            this.ready_pos = 0;
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut this.scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        this.eof = true;
                        return Poll::Ready(Ok(()));
                    }
                    this.cut_incoming(n);
                }
                other => return other,
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.out.len() - this.out_pos >= OUT_HIGH_WATER {
            match this.drain(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if this.out.len() - this.out_pos >= OUT_HIGH_WATER => {
                    return Poll::Pending;
                }
                _ => {}
            }
        }
        // Fast path: nothing to inject, drop or rewrite, so write `buf` through and only follow
        // the frame boundaries.
        if this.out_pos >= this.out.len()
            && !this.control.pending.load(Ordering::Acquire)
            && !this.suppress_goaway
            && this.initial_max_streams.is_none()
            && this.write.settings.is_none()
            && !this.write.skipping
        {
            let n = std::task::ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
            let owners = &mut this.owners;
            this.write.track(&buf[..n], |kind, flags| {
                if kind == SETTINGS && flags & ACK == 0 {
                    owners.push_back(Owner::H2);
                }
            });
            return Poll::Ready(Ok(n));
        }
        this.cut_outgoing(buf, cx.waker());
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.inject(cx.waker());
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
