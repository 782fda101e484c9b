//! HPACK (RFC 7541) for the transport: the request side written by hand, the response side
//! decoded by `httlib-hpack`.
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
    /// Every regular field (`apns-id`, and on errors `content-type` and the like).
    pub fields: Vec<(HeaderName, HeaderValue)>,
}

/// A response header block that cannot be decoded: a connection error (COMPRESSION_ERROR).
#[derive(Debug, thiserror::Error)]
#[error("bad HPACK header block from the server: {0}")]
pub(crate) struct DecodeError(String);

/// The connection's HPACK decoder (its dynamic table lives as long as the connection).
pub(crate) struct Decoder {
    inner: httlib_hpack::Decoder<'static>,
    fields: Vec<(Vec<u8>, Vec<u8>, u8)>,
}

impl Decoder {
    /// A decoder with the default 4096-byte table (we do not change SETTINGS_HEADER_TABLE_SIZE).
    pub fn new() -> Decoder {
        Decoder {
            inner: httlib_hpack::Decoder::with_dynamic_size(4096),
            fields: Vec::with_capacity(8),
        }
    }

    /// Decodes one complete header block. Every block must go through here, even one for a
    /// stream we no longer care about: the dynamic table depends on all of them.
    pub fn decode(&mut self, block: &mut Vec<u8>) -> Result<ResponseHead, DecodeError> {
        self.fields.clear();
        self.inner
            .decode(block, &mut self.fields)
            .map_err(|e| DecodeError(format!("{e:?}")))?;
        let mut head = ResponseHead::default();
        for (name, value, _) in self.fields.drain(..) {
            if name == b":status" {
                head.status = StatusCode::from_bytes(&value).ok();
            } else if name.first() == Some(&b':') {
                // Other pseudo-headers have no meaning in a response; ignored.
            } else if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(&name),
                HeaderValue::from_maybe_shared(bytes::Bytes::from(value)),
            ) {
                head.fields.push((n, v));
            }
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut first = hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504
             0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3");
        let head = d.decode(&mut first).unwrap();
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
        let mut second = hex("4883 640e ff c1 c0 bf");
        let head = d.decode(&mut second).unwrap();
        assert_eq!(head.status, Some(StatusCode::TEMPORARY_REDIRECT));
        assert_eq!(
            get(&head, "date").as_deref(),
            Some("Mon, 21 Oct 2013 20:13:21 GMT")
        );
        let mut bad = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(d.decode(&mut bad).is_err());
    }
}
