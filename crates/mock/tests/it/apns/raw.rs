//! A raw HTTP/2 client (h2c): writes frames by hand and reads every frame the simulator sends, so
//! tests can assert SETTINGS values, frame shapes, RST_STREAM codes and GOAWAY debug data exactly.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const ACK: u8 = 0x1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// SETTINGS parameters as (id, value).
    pub fn settings(&self) -> Vec<(u16, u32)> {
        self.payload
            .chunks_exact(6)
            .map(|p| {
                (
                    u16::from_be_bytes([p[0], p[1]]),
                    u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
                )
            })
            .collect()
    }

    /// GOAWAY: (last stream id, error code, debug data).
    pub fn goaway(&self) -> (u32, u32, Vec<u8>) {
        let p = &self.payload;
        (
            u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff,
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            p[8..].to_vec(),
        )
    }

    /// RST_STREAM error code.
    pub fn error_code(&self) -> u32 {
        u32::from_be_bytes([
            self.payload[0],
            self.payload[1],
            self.payload[2],
            self.payload[3],
        ])
    }
}

pub struct RawConn {
    stream: TcpStream,
}

impl RawConn {
    /// Connects, sends the preface and an empty SETTINGS.
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .expect("preface");
        let mut c = RawConn { stream };
        c.write_frame(SETTINGS, 0, 0, &[]).await;
        c
    }

    pub async fn write_frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut f = Vec::with_capacity(9 + payload.len());
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        f.extend_from_slice(&[kind, flags]);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        self.stream.write_all(&f).await.expect("write frame");
    }

    /// Sends a request: HEADERS (literal, never indexed, no Huffman) then one DATA with END_STREAM.
    pub async fn send_request(&mut self, stream: u32, headers: &[(&str, &str)], body: &[u8]) {
        let mut block = Vec::new();
        for (name, value) in headers {
            block.push(0x10);
            int(&mut block, name.len(), 7);
            block.extend_from_slice(name.as_bytes());
            int(&mut block, value.len(), 7);
            block.extend_from_slice(value.as_bytes());
        }
        let flags = if body.is_empty() {
            END_HEADERS | END_STREAM
        } else {
            END_HEADERS
        };
        self.write_frame(HEADERS, flags, stream, &block).await;
        if !body.is_empty() {
            self.write_frame(DATA, END_STREAM, stream, body).await;
        }
    }

    /// The next frame, `None` at EOF; answers SETTINGS with an ACK. Panics after 10 s.
    pub async fn next(&mut self) -> Option<Frame> {
        let frame = tokio::time::timeout(Duration::from_secs(10), self.read_frame())
            .await
            .expect("a frame within 10 s")?;
        if frame.kind == SETTINGS && frame.flags & ACK == 0 {
            self.write_frame(SETTINGS, ACK, 0, &[]).await;
        }
        if frame.kind == PING && frame.flags & ACK == 0 {
            self.write_frame(PING, ACK, 0, &frame.payload).await;
        }
        Some(frame)
    }

    /// Frames until one matches `pred` (returned) — panics at EOF.
    pub async fn until(&mut self, pred: impl Fn(&Frame) -> bool) -> Frame {
        loop {
            let f = self
                .next()
                .await
                .expect("connection closed before the expected frame");
            if pred(&f) {
                return f;
            }
        }
    }

    /// Every frame until EOF.
    pub async fn rest(&mut self) -> Vec<Frame> {
        let mut all = Vec::new();
        while let Some(f) = self.next().await {
            all.push(f);
        }
        all
    }

    async fn read_frame(&mut self) -> Option<Frame> {
        let mut h = [0u8; 9];
        if self.stream.read_exact(&mut h).await.is_err() {
            return None;
        }
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some(Frame {
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
            payload,
        })
    }
}

/// HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn int(out: &mut Vec<u8>, mut v: usize, n: u32) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(v as u8);
        return;
    }
    out.push(max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}
