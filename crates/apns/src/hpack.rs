//! HPACK (RFC 7541) for the transport: the request side encoded from prepared parts, the
//! response side decoded with a table-driven Huffman decoder.
//!
//! Requests are encoded without the dynamic table and without Huffman coding: every field is
//! an indexed static entry or a literal "without indexing" (RFC 7541 §6.2.2), and the
//! provider token a literal "never indexed" (§6.2.3), so an intermediary keeps it out of its
//! tables. Such a block does not depend on what was sent before, so the parts every request
//! shares (method, scheme, authority, topic, push type, priority, the provider token) are
//! encoded once and copied, and a block can be made before its connection is chosen. The cost
//! is bytes: about 450 per request instead of about 150 with the dynamic table; the gain is
//! CPU, which is what limits a sender (Huffman-coding the token, path and `apns-id` was most
//! of a request's cost with `h2`, measured with callgrind).

use http::{HeaderName, HeaderValue, StatusCode};

use crate::request::APNS_ID;

/// Static table indices (RFC 7541 Appendix A).
pub(crate) const AUTHORITY: usize = 1;
pub(crate) const METHOD_POST: usize = 3;
pub(crate) const PATH: usize = 4;
pub(crate) const SCHEME_HTTP: usize = 6;
pub(crate) const SCHEME_HTTPS: usize = 7;
pub(crate) const AUTHORIZATION: usize = 23;

/// An integer with an `n`-bit prefix; `first` carries the representation's pattern bits.
pub(crate) fn int(out: &mut Vec<u8>, n: u8, first: u8, value: usize) {
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

/// A string literal, not Huffman-coded.
pub(crate) fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    int(out, 7, 0, bytes.len());
    out.extend_from_slice(bytes);
}

/// An indexed field (§6.1).
pub(crate) fn indexed(out: &mut Vec<u8>, index: usize) {
    int(out, 7, 0x80, index);
}

/// A literal without indexing whose name is a static entry (§6.2.2).
pub(crate) fn literal(out: &mut Vec<u8>, name_index: usize, value: &[u8]) {
    int(out, 4, 0x00, name_index);
    string(out, value);
}

/// A literal without indexing with a literal name (§6.2.2).
pub(crate) fn literal_named(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    string(out, name);
    string(out, value);
}

/// A literal never indexed whose name is a static entry (§6.2.3).
pub(crate) fn never_indexed(out: &mut Vec<u8>, name_index: usize, value: &[u8]) {
    int(out, 4, 0x10, name_index);
    string(out, value);
}

/// What the transport keeps of a response's header block.
#[derive(Debug, Default)]
pub(crate) struct ResponseHead {
    pub status: Option<StatusCode>,
    /// `apns-id`, kept apart: a success has nothing else worth reading.
    pub apns_id: Option<HeaderValue>,
    /// Every other regular field (on errors `content-type` and the like).
    pub fields: Vec<(HeaderName, HeaderValue)>,
    /// The decoded header list was larger than the limit given to [`Decoder::decode`]: the
    /// block was decoded to its end (the dynamic table stays in step with the server's) but
    /// nothing of it is kept.
    pub over_limit: bool,
}

/// A response header block that cannot be decoded: a connection error (COMPRESSION_ERROR).
#[derive(Debug, thiserror::Error)]
#[error("bad HPACK header block from the server: {0}")]
pub(crate) struct DecodeError(&'static str);

/// The static table (RFC 7541 Appendix A), from index 1.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The Huffman code's lengths in bits, by symbol (256 = EOS), from RFC 7541 Appendix B. The
/// code is canonical (codes of one length are consecutive, in symbol order, and each length
/// starts where the previous one ends, shifted), so the lengths define the codes.
const HUFFMAN_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// Huffman decoding tables, built once from [`HUFFMAN_LENGTHS`].
struct Huffman {
    /// By the next 8 bits: `len << 9 | symbol` for codes of up to 8 bits, 0 for longer ones.
    fast: [u16; 256],
    /// Per length: the first code, how many codes, where its symbols start in `symbols`.
    first: [u32; 31],
    count: [u32; 31],
    start: [u16; 31],
    /// Symbols ordered by (length, symbol).
    symbols: [u16; 257],
}

static HUFFMAN: std::sync::LazyLock<Huffman> = std::sync::LazyLock::new(Huffman::new);

impl Huffman {
    fn new() -> Huffman {
        let mut h = Huffman {
            fast: [0; 256],
            first: [0; 31],
            count: [0; 31],
            start: [0; 31],
            symbols: [0; 257],
        };
        for &len in &HUFFMAN_LENGTHS {
            h.count[usize::from(len)] += 1;
        }
        let (mut code, mut index) = (0u32, 0u16);
        for len in 1..31 {
            code = (code + if len > 1 { h.count[len - 1] } else { 0 }) << u32::from(len > 1);
            h.first[len] = code;
            h.start[len] = index;
            index += h.count[len] as u16;
        }
        let mut next = h.start;
        let mut codes = h.first;
        for (symbol, &len) in HUFFMAN_LENGTHS.iter().enumerate() {
            let len = usize::from(len);
            h.symbols[usize::from(next[len])] = symbol as u16;
            next[len] += 1;
            let code = codes[len];
            codes[len] += 1;
            if len <= 8 {
                let base = (code as usize) << (8 - len);
                for slot in &mut h.fast[base..base + (1 << (8 - len))] {
                    *slot = (len as u16) << 9 | symbol as u16;
                }
            }
        }
        h
    }

    /// Appends the decoding of `src` to `out` (RFC 7541 §5.2: EOS inside, or padding that is
    /// longer than 7 bits or not all ones, is an error).
    fn decode(&self, src: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        // The shortest code is 5 bits.
        out.reserve(src.len() * 8 / 5);
        // `bits` undecoded bits, right-aligned in `acc` (at most 37: 29 left over + 8).
        let (mut acc, mut bits) = (0u64, 0u32);
        for &byte in src {
            acc = acc << 8 | u64::from(byte);
            bits += 8;
            while bits >= 8 {
                let fast = self.fast[((acc >> (bits - 8)) & 0xff) as usize];
                let (symbol, len) = if fast != 0 {
                    (fast & 0x1ff, u32::from(fast >> 9))
                } else if bits >= 30 {
                    self.long(acc, bits)?
                } else {
                    break; // a code longer than 8 bits: read on
                };
                if symbol == 256 {
                    return Err(DecodeError("EOS in a Huffman string"));
                }
                out.push(symbol as u8);
                bits -= len;
            }
            acc &= (1u64 << bits) - 1;
        }
        // The end: fewer than 8 bits, or an unfinished long code. Codes of 5 to 7 bits may
        // remain (peek with the padding's ones); then what is left must be the padding.
        while bits >= 5 {
            let pad = 8u32.saturating_sub(bits);
            let top = if bits >= 8 {
                (acc >> (bits - 8)) & 0xff
            } else {
                (acc << pad | ((1 << pad) - 1)) & 0xff
            };
            let fast = self.fast[top as usize];
            let len = u32::from(fast >> 9);
            if fast != 0 && len <= bits {
                out.push((fast & 0x1ff) as u8);
                bits -= len;
                acc &= (1u64 << bits) - 1;
            } else if bits >= 9 {
                let (symbol, len) = self.long(acc, bits)?;
                if symbol == 256 {
                    return Err(DecodeError("EOS in a Huffman string"));
                }
                out.push(symbol as u8);
                bits -= len;
                acc &= (1u64 << bits) - 1;
            } else {
                break;
            }
        }
        if bits <= 7 && acc == (1u64 << bits) - 1 {
            Ok(())
        } else {
            Err(DecodeError("bad Huffman padding"))
        }
    }

    /// A code of 9 to 30 bits at the top of the `bits` right-aligned bits of `acc`.
    fn long(&self, acc: u64, bits: u32) -> Result<(u16, u32), DecodeError> {
        for len in 9..=bits.min(30) {
            let code = ((acc >> (bits - len)) & ((1u64 << len) - 1)) as u32;
            let l = len as usize;
            if code.wrapping_sub(self.first[l]) < self.count[l] {
                let k = usize::from(self.start[l]) + (code - self.first[l]) as usize;
                return Ok((self.symbols[k], len));
            }
        }
        Err(DecodeError("bad Huffman code"))
    }
}

/// The connection's HPACK decoder: the static table, a dynamic table of at most 4096 bytes
/// (the default SETTINGS_HEADER_TABLE_SIZE, which we do not change), Huffman decoding.
pub(crate) struct Decoder {
    /// Newest first.
    dynamic: std::collections::VecDeque<(bytes::Bytes, bytes::Bytes)>,
    size: usize,
    max_size: usize,
    scratch: Vec<u8>,
}

const MAX_TABLE: usize = 4096;

/// A field's name or value: borrowed from a table or the block, or decoded.
enum Text<'a> {
    Static(&'static str),
    Shared(bytes::Bytes),
    Slice(&'a [u8]),
}

impl Text<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Static(s) => s.as_bytes(),
            Text::Shared(b) => b,
            Text::Slice(s) => s,
        }
    }

    fn into_bytes(self) -> bytes::Bytes {
        match self {
            Text::Static(s) => bytes::Bytes::from_static(s.as_bytes()),
            Text::Shared(b) => b,
            Text::Slice(s) => bytes::Bytes::copy_from_slice(s),
        }
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder {
            dynamic: std::collections::VecDeque::new(),
            size: 0,
            max_size: MAX_TABLE,
            scratch: Vec::new(),
        }
    }

    /// Decodes one complete header block. Every block must go through here, even one for a
    /// stream we no longer care about: the dynamic table depends on all of them.
    ///
    /// The decoded size is bounded by `max_list`, counted as RFC 9113 §6.5.2 counts
    /// SETTINGS_MAX_HEADER_LIST_SIZE: 32 + name + value bytes per field (RFC 7541 §4.1), over
    /// the whole block. Bounding the encoded size is not enough: one indexed byte can name a
    /// 4 KB dynamic-table entry, so a 64 KB block could otherwise decode to 256 MB. Past the
    /// limit the rest of the block is still decoded, for the table, without keeping anything,
    /// and the head comes back with `over_limit` set.
    pub fn decode(&mut self, block: &[u8], max_list: usize) -> Result<ResponseHead, DecodeError> {
        let mut head = ResponseHead::default();
        let mut pos = 0;
        let mut fields_seen = false;
        let mut list_size = 0usize;
        while pos < block.len() {
            let b = block[pos];
            let (name, value, index) = if b & 0x80 != 0 {
                let i = int_at(block, &mut pos, 7)?;
                let (n, v) = self.entry(i)?;
                (n, v, false)
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update: only before the first field (§4.2).
                if fields_seen {
                    return Err(DecodeError("table size update after a field"));
                }
                let size = int_at(block, &mut pos, 5)?;
                if size > MAX_TABLE {
                    return Err(DecodeError(
                        "table size update over SETTINGS_HEADER_TABLE_SIZE",
                    ));
                }
                self.max_size = size;
                self.evict(0);
                continue;
            } else {
                // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
                let (prefix, index) = if b & 0x40 != 0 { (6, true) } else { (4, false) };
                let i = int_at(block, &mut pos, prefix)?;
                let name = if i == 0 {
                    self.string_at(block, &mut pos)?
                } else {
                    self.entry(i)?.0
                };
                let value = self.string_at(block, &mut pos)?;
                (name, value, index)
            };
            fields_seen = true;
            let name_bytes = name.as_bytes();
            list_size = list_size.saturating_add(32 + name_bytes.len() + value.as_bytes().len());
            if list_size > max_list && !head.over_limit {
                head = ResponseHead {
                    over_limit: true,
                    ..ResponseHead::default()
                };
            }
            if head.over_limit {
                // Nothing kept; only the table is updated below.
            } else if name_bytes == b":status" {
                head.status = StatusCode::from_bytes(value.as_bytes()).ok();
            } else if name_bytes.first() != Some(&b':') {
                // Other pseudo-headers mean nothing in a response: ignored.
                let v = match &value {
                    Text::Shared(b) => HeaderValue::from_maybe_shared(b.clone()),
                    _ => HeaderValue::from_bytes(value.as_bytes()),
                };
                if name_bytes == APNS_ID.as_str().as_bytes() {
                    head.apns_id = v.ok();
                } else if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name_bytes), v) {
                    head.fields.push((n, v));
                }
            }
            if index {
                let (name, value) = (name.into_bytes(), value.into_bytes());
                let size = 32 + name.len() + value.len();
                self.evict(size);
                if size <= self.max_size {
                    self.size += size;
                    self.dynamic.push_front((name, value));
                }
            }
        }
        Ok(head)
    }

    /// Evicts the oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            let Some((n, v)) = self.dynamic.pop_back() else {
                self.size = 0;
                return;
            };
            self.size -= 32 + n.len() + v.len();
        }
    }

    fn entry(&self, index: usize) -> Result<(Text<'static>, Text<'static>), DecodeError> {
        match index {
            0 => Err(DecodeError("index 0")),
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((Text::Static(n), Text::Static(v)))
            }
            _ => {
                let (n, v) = self
                    .dynamic
                    .get(index - 62)
                    .ok_or(DecodeError("index past the tables"))?;
                Ok((Text::Shared(n.clone()), Text::Shared(v.clone())))
            }
        }
    }

    fn string_at<'a>(&mut self, block: &'a [u8], pos: &mut usize) -> Result<Text<'a>, DecodeError> {
        let huffman = block.get(*pos).ok_or(DecodeError("truncated string"))? & 0x80 != 0;
        let len = int_at(block, pos, 7)?;
        let raw = block
            .get(*pos..*pos + len)
            .ok_or(DecodeError("truncated string"))?;
        *pos += len;
        if !huffman {
            return Ok(Text::Slice(raw));
        }
        self.scratch.clear();
        HUFFMAN.decode(raw, &mut self.scratch)?;
        // An exact-size copy, so `Bytes` takes it without another allocation.
        Ok(Text::Shared(bytes::Bytes::from(self.scratch.to_vec())))
    }
}

/// An integer with an `n`-bit prefix at `block[*pos]` (RFC 7541 §5.1).
fn int_at(block: &[u8], pos: &mut usize, n: u8) -> Result<usize, DecodeError> {
    let max = (1usize << n) - 1;
    let first = usize::from(*block.get(*pos).ok_or(DecodeError("truncated integer"))?) & max;
    *pos += 1;
    if first < max {
        return Ok(first);
    }
    let mut value = max;
    let mut shift = 0;
    loop {
        let b = *block.get(*pos).ok_or(DecodeError("truncated integer"))?;
        *pos += 1;
        if shift > 28 {
            return Err(DecodeError("integer too large"));
        }
        value += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// The header list limit the tests decode with.
    const L: usize = 64 * 1024;

    #[test]
    fn integers_as_in_rfc_7541_c1() {
        let mut out = Vec::new();
        int(&mut out, 5, 0, 10);
        assert_eq!(out, [0b01010]);
        out.clear();
        int(&mut out, 5, 0, 1337);
        assert_eq!(out, [31, 154, 10]);
        out.clear();
        int(&mut out, 8, 0, 42);
        assert_eq!(out, [42]);
        out.clear();
        int(&mut out, 4, 0x10, 23);
        assert_eq!(out, [0x1f, 0x08]);
    }

    #[test]
    fn literal_without_indexing_as_in_rfc_7541_c2_2() {
        // C.2.2: ":path: /sample/path", literal without indexing, indexed name 4.
        let mut out = Vec::new();
        literal(&mut out, PATH, b"/sample/path");
        let expected: &[u8] = b"\x04\x0c/sample/path";
        assert_eq!(out, expected);
    }

    #[test]
    fn never_indexed_as_in_rfc_7541_c2_3() {
        // C.2.3: "password: secret", never indexed, literal name.
        let mut out = vec![0x10];
        string(&mut out, b"password");
        string(&mut out, b"secret");
        let expected: &[u8] = b"\x10\x08password\x06secret";
        assert_eq!(out, expected);
        // The same field with a static name, as the provider token is sent.
        let mut out = Vec::new();
        never_indexed(&mut out, AUTHORIZATION, b"bearer x");
        let expected: &[u8] = b"\x1f\x08\x08bearer x";
        assert_eq!(out, expected);
    }

    #[test]
    fn decodes_huffman_responses_with_the_dynamic_table_rfc_7541_c6() {
        // C.6.1 and C.6.2: responses with Huffman coding; the second refers to the first's
        // dynamic-table entries.
        let mut d = Decoder::new();
        let hex = |s: &str| -> Vec<u8> {
            let s: String = s.split_whitespace().collect();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let first = hex(
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504
             0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        );
        let head = d.decode(&first, L).unwrap();
        assert_eq!(head.status, Some(StatusCode::FOUND));
        let get = |h: &ResponseHead, n: &str| {
            h.fields
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get(&head, "cache-control").as_deref(), Some("private"));
        assert_eq!(
            get(&head, "location").as_deref(),
            Some("https://www.example.com")
        );
        let second = hex("4883 640e ff c1 c0 bf");
        let head = d.decode(&second, L).unwrap();
        assert_eq!(head.status, Some(StatusCode::TEMPORARY_REDIRECT));
        assert_eq!(
            get(&head, "date").as_deref(),
            Some("Mon, 21 Oct 2013 20:13:21 GMT")
        );
        // C.6.3: evicts entries of the first two (the table is 256 bytes in the RFC's
        // example; here it is 4096, so only the decoding is compared).
        let bad = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(d.decode(&bad, L).is_err());
    }

    /// A Huffman encoder from the same canonical code, for the tests.
    fn huffman_encode(text: &[u8]) -> Vec<u8> {
        let h = &*HUFFMAN;
        let mut codes = h.first;
        let mut code_of = [(0u32, 0u32); 257];
        for &symbol in &h.symbols {
            let len = usize::from(HUFFMAN_LENGTHS[usize::from(symbol)]);
            code_of[usize::from(symbol)] = (codes[len], len as u32);
            codes[len] += 1;
        }
        let (mut acc, mut bits, mut out) = (0u64, 0u32, Vec::new());
        for &b in text {
            let (code, len) = code_of[usize::from(b)];
            acc = acc << len | u64::from(code);
            bits += len;
            while bits >= 8 {
                out.push((acc >> (bits - 8)) as u8);
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) as u8);
        }
        out
    }

    #[test]
    fn huffman_as_in_rfc_7541_c4_and_every_byte_round_trips() {
        // C.4.1: "www.example.com".
        assert_eq!(
            huffman_encode(b"www.example.com"),
            [
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff
            ]
        );
        // C.4.2: "no-cache".
        assert_eq!(
            huffman_encode(b"no-cache"),
            [0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]
        );
        let mut out = Vec::new();
        HUFFMAN
            .decode(
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
                &mut out,
            )
            .unwrap();
        assert_eq!(out, b"www.example.com");
        // Every byte value, short and long codes alike, and an apns-id.
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for text in [&all[..], b"3f2b6c1e-8d4a-4e7b-9c0d-1a2b3c4d5e6f", b"", b"a"] {
            out.clear();
            HUFFMAN.decode(&huffman_encode(text), &mut out).unwrap();
            assert_eq!(out, text);
        }
        // Random strings round trip; random bytes decode or fail, never panic.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5000 {
            let len = (next() % 48) as usize;
            let text: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            out.clear();
            HUFFMAN.decode(&huffman_encode(&text), &mut out).unwrap();
            assert_eq!(out, text);
            let _ = HUFFMAN.decode(&text, &mut Vec::new());
        }
    }

    #[test]
    fn huffman_padding_and_eos_errors() {
        let mut out = Vec::new();
        // "0" is 00000: padded with ones it is 0x07; with zeros it is bad padding.
        HUFFMAN.decode(&[0x07], &mut out).unwrap();
        assert_eq!(out, b"0");
        assert!(HUFFMAN.decode(&[0x00], &mut Vec::new()).is_err());
        // A whole byte of ones is padding longer than 7 bits.
        assert!(HUFFMAN.decode(&[0x07, 0xff], &mut Vec::new()).is_err());
        // EOS (30 ones) inside the string.
        assert!(
            HUFFMAN
                .decode(&[0xff, 0xff, 0xff, 0xfc], &mut Vec::new())
                .is_err()
        );
    }

    #[test]
    fn literal_forms_indexing_and_size_updates() {
        let mut d = Decoder::new();
        // Literals with incremental indexing, new names (raw), then indexed (63, 62).
        let mut block = vec![0x40];
        string(&mut block, b"apns-id");
        string(&mut block, b"abc");
        block.push(0x40);
        string(&mut block, b"x-other");
        string(&mut block, b"v");
        block.push(0x88); // :status 200
        let head = d.decode(&block, L).unwrap();
        assert_eq!(head.status, Some(StatusCode::OK));
        assert_eq!(head.apns_id.unwrap(), "abc");
        assert_eq!(head.fields.len(), 1);
        let head = d.decode(&[0xbf, 0xbe, 0x8d], L).unwrap();
        assert_eq!(head.status, Some(StatusCode::NOT_FOUND));
        assert_eq!(head.apns_id.unwrap(), "abc");
        assert_eq!(head.fields[0].0, "x-other");
        assert_eq!(head.fields[0].1, "v");
        // A size update to 0 empties the dynamic table: index 62 is gone.
        assert!(d.decode(&[0x20, 0xbe], L).is_err());
        let mut d = Decoder::new();
        d.decode(&block, L).unwrap();
        // Size updates only at the start; never over 4096; truncated input is an error.
        assert!(d.decode(&[0x88, 0x20], L).is_err());
        assert!(d.decode(&[0x3f, 0xe1, 0x1f], L).is_ok(), "4096 is allowed");
        assert!(d.decode(&[0x3f, 0xe2, 0x1f], L).is_err(), "4097 is not");
        assert!(d.decode(&[0x0f], L).is_err());
        assert!(d.decode(&[0x00, 0x05, b'a'], L).is_err());
        assert!(d.decode(&[0x80], L).is_err());
    }

    #[test]
    fn the_decoded_list_is_bounded_and_the_table_stays_in_step() {
        // A 4,000-byte entry put in the dynamic table, then referenced 60,000 times: 60 KB
        // encoded, 242 MB decoded without a bound.
        let mut d = Decoder::new();
        let mut block = vec![0x40];
        string(&mut block, b"x-big");
        string(&mut block, &[b'v'; 4000]);
        block.push(0x88);
        block.extend(std::iter::repeat_n(0xbe, 60_000));
        // A field with incremental indexing after the limit is passed still enters the table.
        block.push(0x40);
        string(&mut block, b"x-late");
        string(&mut block, b"1");
        let head = d.decode(&block, L).unwrap();
        assert!(head.over_limit);
        assert!(head.fields.is_empty() && head.status.is_none());
        // The table is in step: 62 is x-late, 63 the big entry.
        let head = d.decode(&[0x88, 0xbe, 0xbf], L).unwrap();
        assert!(!head.over_limit);
        assert_eq!(head.fields.len(), 2);
        assert_eq!(head.fields[0].0, "x-late");
        assert_eq!(head.fields[1].1.len(), 4000);
        // Exactly at the limit is allowed; one byte more is over (each field counts 32 +
        // name + value: ":status" "200" is 42).
        assert!(!d.decode(&[0x88], 42).unwrap().over_limit);
        assert!(d.decode(&[0x88], 41).unwrap().over_limit);
    }
}
