//! A scripted raw-frame HTTP/2 server: it accepts TCP connections (h2c with prior knowledge)
//! and lets a test play any frames, legal or not, in any order, and see every frame the client
//! sends. The conformance tests ([`crate::conformance`]) drive pushway's client and the `h2`
//! crate's client against it ([`crate::differential`]).
//!
//! Requests are not HPACK-decoded (`h2` uses the dynamic table and Huffman coding): a request
//! is its stream id and body. Answers are encoded without the dynamic table.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const REFUSED_STREAM: u32 = 0x7;
pub const CANCEL: u32 = 0x8;

pub const ENABLE_PUSH: u16 = 0x2;
pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const MAX_FRAME_SIZE: u16 = 0x5;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// A request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub stream: u32,
    pub body: Vec<u8>,
}

/// The listening side. Connections are handed out in the order they come.
pub struct Server {
    listener: TcpListener,
    accepted: Arc<AtomicUsize>,
    goaways: Arc<Mutex<Vec<u32>>>,
}

impl Server {
    pub async fn start() -> Server {
        Server {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            accepted: Arc::default(),
            goaways: Arc::default(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The error codes of the GOAWAY frames the client sent, on any connection.
    pub fn goaways(&self) -> Vec<u32> {
        self.goaways.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The next connection, past the client's preface (checked), with `settings` sent as the
    /// server's first SETTINGS frame.
    pub async fn accept(&self, settings: &[(u16, u32)]) -> Conn {
        let (io, _) = self.listener.accept().await.unwrap();
        self.accepted.fetch_add(1, Ordering::SeqCst);
        let mut conn = Conn {
            io,
            partial: HashMap::new(),
            complete: VecDeque::new(),
            opened: HashSet::new(),
            control: Vec::new(),
            resets: Vec::new(),
            goaways: self.goaways.clone(),
        };
        let mut preface = [0u8; 24];
        conn.io.read_exact(&mut preface).await.unwrap();
        assert_eq!(&preface[..], PREFACE);
        conn.settings(settings).await;
        conn
    }

    /// Serves the next connection in the background: every request answered 200.
    pub fn serve_next(self: &Arc<Self>) {
        let server = self.clone();
        tokio::spawn(async move { server.accept(&[]).await.serve().await });
    }
}

/// One accepted connection.
pub struct Conn {
    io: TcpStream,
    /// Requests being read: stream → body so far.
    partial: HashMap<u32, Vec<u8>>,
    /// Requests read whole and not yet handed out.
    complete: VecDeque<Request>,
    /// Streams the client opened.
    opened: HashSet<u32>,
    /// Every frame the client sent on stream 0, in order.
    pub control: Vec<Frame>,
    /// Every RST_STREAM the client sent: (stream, code).
    pub resets: Vec<(u32, u32)>,
    goaways: Arc<Mutex<Vec<u32>>>,
}

impl Conn {
    /// The next frame from the client; None once it closed.
    pub async fn frame(&mut self) -> Option<Frame> {
        let mut h = [0u8; 9];
        self.io.read_exact(&mut h).await.ok()?;
        let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let mut payload = vec![0; len];
        self.io.read_exact(&mut payload).await.ok()?;
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        if h[3] == GOAWAY && len >= 8 {
            let code = u32::from_be_bytes(payload[4..8].try_into().unwrap());
            self.goaways.lock().unwrap().push(code);
        }
        Some(Frame {
            kind: h[3],
            flags: h[4],
            stream,
            payload,
        })
    }

    pub async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let out = frame(kind, flags, stream, payload);
        // A write error (the client closed) is the client's business, seen by the test.
        let _ = self.io.write_all(&out).await;
    }

    pub async fn settings(&mut self, entries: &[(u16, u32)]) {
        let mut p = Vec::new();
        for (k, v) in entries {
            p.extend_from_slice(&k.to_be_bytes());
            p.extend_from_slice(&v.to_be_bytes());
        }
        self.send(SETTINGS, 0, 0, &p).await;
    }

    pub async fn window_update(&mut self, stream: u32, increment: u32) {
        self.send(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
            .await;
    }

    pub async fn rst(&mut self, stream: u32, code: u32) {
        self.send(RST_STREAM, 0, stream, &code.to_be_bytes()).await;
    }

    pub async fn goaway(&mut self, last: u32, code: u32, detail: &[u8]) {
        let mut p = last.to_be_bytes().to_vec();
        p.extend_from_slice(&code.to_be_bytes());
        p.extend_from_slice(detail);
        self.send(GOAWAY, 0, 0, &p).await;
    }

    /// The next complete request (HEADERS, CONTINUATION and DATA up to END_STREAM, streams
    /// interleaved as they come); None once the client closed. Frames on stream 0 are kept
    /// in `control`, resets in `resets`.
    pub async fn request(&mut self) -> Option<Request> {
        loop {
            if let Some(r) = self.complete.pop_front() {
                return Some(r);
            }
            let f = self.frame().await?;
            self.absorb(f);
        }
    }

    /// The request on `stream`, when it is complete (others are kept for `request`).
    pub async fn request_on(&mut self, stream: u32) -> Option<Request> {
        loop {
            if let Some(i) = self.complete.iter().position(|r| r.stream == stream) {
                return self.complete.remove(i);
            }
            let f = self.frame().await?;
            self.absorb(f);
        }
    }

    /// Closes the connection as a server process dying would: FIN, then what the client still
    /// sends is read and dropped until it closes too (so the kernel sends no RST).
    pub async fn close(mut self) {
        let _ = self.io.shutdown().await;
        while self.frame().await.is_some() {}
    }

    /// Reads until the client opened (sent HEADERS on) every one of `streams`.
    pub async fn opened(&mut self, streams: &[u32]) {
        while !streams.iter().all(|s| self.opened.contains(s)) {
            let f = self.frame().await.expect("the client closed");
            self.absorb(f);
        }
    }

    /// Files one frame of the client's.
    fn absorb(&mut self, f: Frame) {
        match f.kind {
            HEADERS | CONTINUATION | DATA => {
                if f.kind == HEADERS {
                    self.opened.insert(f.stream);
                }
                let body = self.partial.entry(f.stream).or_default();
                if f.kind == DATA {
                    body.extend_from_slice(&f.payload);
                }
                if f.flags & END_STREAM != 0 {
                    let body = self.partial.remove(&f.stream).unwrap_or_default();
                    self.complete.push_back(Request {
                        stream: f.stream,
                        body,
                    });
                }
            }
            RST_STREAM => {
                let code = u32::from_be_bytes(f.payload[..4].try_into().unwrap());
                self.resets.push((f.stream, code));
                self.partial.remove(&f.stream);
            }
            _ if f.stream == 0 => self.control.push(f),
            _ => {}
        }
    }

    /// `n` complete requests.
    pub async fn requests(&mut self, n: usize) -> Vec<Request> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.request().await.expect("the client closed"));
        }
        out
    }

    /// Reads until the client's GOAWAY: (last-stream-id, error code); None if the client
    /// closed without one.
    pub async fn goaway_from_client(&mut self) -> Option<(u32, u32)> {
        loop {
            let f = self.frame().await?;
            match f.kind {
                GOAWAY => {
                    let last = u32::from_be_bytes(f.payload[..4].try_into().unwrap());
                    let code = u32::from_be_bytes(f.payload[4..8].try_into().unwrap());
                    return Some((last, code));
                }
                RST_STREAM => {
                    let code = u32::from_be_bytes(f.payload[..4].try_into().unwrap());
                    self.resets.push((f.stream, code));
                }
                _ => {}
            }
        }
    }

    /// Answers `stream` with `status`, the extra header `fields` and `body` (END_STREAM on
    /// the last frame).
    pub async fn answer(&mut self, stream: u32, status: u16, body: &[u8]) {
        let block = head(status, stream);
        let flags = if body.is_empty() { END_STREAM } else { 0 };
        self.send(HEADERS, END_HEADERS | flags, stream, &block)
            .await;
        if !body.is_empty() {
            self.send(DATA, END_STREAM, stream, body).await;
        }
    }

    /// A 200 with `apns-id: id-<stream>`.
    pub async fn ok(&mut self, stream: u32) {
        self.answer(stream, 200, b"").await;
    }

    /// Answers every request 200 until the client closes.
    pub async fn serve(mut self) {
        // Windows for any body, whatever the script left.
        self.settings(&[(INITIAL_WINDOW_SIZE, 1 << 20)]).await;
        self.window_update(0, 1 << 20).await;
        while let Some(r) = self.request().await {
            self.ok(r.stream).await;
        }
    }
}

/// A frame's bytes.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
pub fn int(out: &mut Vec<u8>, n: u8, first: u8, value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A plain HPACK string literal.
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    int(out, 7, 0, bytes.len());
    out.extend_from_slice(bytes);
}

/// A literal field without indexing, new name.
pub fn literal(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(0x00);
    string(out, name.as_bytes());
    string(out, value);
}

/// A literal field with incremental indexing, new name (enters the dynamic table).
pub fn literal_indexed(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(0x40);
    string(out, name.as_bytes());
    string(out, value);
}

/// A response head: `:status` (a literal with the static name, index 8) and
/// `apns-id: id-<stream>`.
pub fn head(status: u16, stream: u32) -> Vec<u8> {
    let mut block = Vec::new();
    int(&mut block, 4, 0x00, 8);
    string(&mut block, status.to_string().as_bytes());
    literal(&mut block, "apns-id", format!("id-{stream}").as_bytes());
    block
}
