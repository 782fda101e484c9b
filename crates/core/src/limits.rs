//! Fitting text and payloads into a channel's limits.
//!
//! Vendors reject what is too long, so pushway shortens the body before sending: on a grapheme
//! boundary (never inside a UTF-8 sequence, never splitting an emoji sequence or a CJK character)
//! with [`ELLIPSIS`] appended. When even the shortest body cannot fit (a huge ext or title), the
//! result is a typed [`PayloadTooLarge`] before any network call.

use std::borrow::Cow;

use unicode_segmentation::{GraphemeCursor, UnicodeSegmentation};

/// Appended to a shortened text.
pub const ELLIPSIS: &str = "…";

/// A limit on the length of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// At most this many UTF-8 bytes.
    Bytes(usize),
    /// At most this many Unicode scalar values (Rust `char`s).
    Chars(usize),
    /// At most this many UTF-16 code units (Java's `String.length()`, which Java servers count).
    Utf16(usize),
}

impl Budget {
    /// The length of `text` in this budget's unit.
    pub fn measure(self, text: &str) -> usize {
        match self {
            Budget::Bytes(_) => text.len(),
            Budget::Chars(_) => text.chars().count(),
            Budget::Utf16(_) => text.encode_utf16().count(),
        }
    }

    /// The limit.
    pub const fn limit(self) -> usize {
        match self {
            Budget::Bytes(n) | Budget::Chars(n) | Budget::Utf16(n) => n,
        }
    }

    /// Whether `text` fits.
    pub fn fits(self, text: &str) -> bool {
        // A text of n bytes has at most n chars and n UTF-16 units: skip counting when it is short.
        text.len() <= self.limit() || self.measure(text) <= self.limit()
    }
}

/// `text` unchanged when it fits `budget`, else its longest prefix ending on a grapheme boundary
/// such that the prefix plus [`ELLIPSIS`] fits. A budget too small for the ellipsis yields `""`.
pub fn fit_text(text: &str, budget: Budget) -> Cow<'_, str> {
    if budget.fits(text) {
        return Cow::Borrowed(text);
    }
    let room = budget.limit().saturating_sub(budget.measure(ELLIPSIS));
    if budget.limit() < budget.measure(ELLIPSIS) {
        return Cow::Borrowed("");
    }
    let mut used = 0;
    let mut end = 0;
    for (start, grapheme) in text.grapheme_indices(true) {
        used += budget.measure(grapheme);
        if used > room {
            break;
        }
        end = start + grapheme.len();
    }
    let mut out = String::with_capacity(end + ELLIPSIS.len());
    out.push_str(&text[..end]);
    out.push_str(ELLIPSIS);
    Cow::Owned(out)
}

/// A payload too large for its channel even with the body shortened to the ellipsis alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("payload of {size} bytes exceeds the limit of {limit} bytes even with the body shortened")]
pub struct PayloadTooLarge {
    /// The smallest size that could be built.
    pub size: usize,
    /// The channel's limit.
    pub limit: usize,
}

/// A payload that fits, and whether its body was shortened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The encoded payload.
    pub payload: Vec<u8>,
    /// Whether the body was shortened to make it fit.
    pub shortened: bool,
}

/// Builds a payload with `build(body)` and, when it exceeds `limit` bytes, rebuilds it with the
/// longest prefix of the body, cut on a grapheme boundary with [`ELLIPSIS`] appended, whose
/// payload fits. Fails with [`PayloadTooLarge`] when the body shortened to the ellipsis alone
/// still does not fit.
///
/// The payload may escape the body (JSON `\n` is two bytes, a control character six), so the
/// cut is found by building: `build` must grow with its input (a longer prefix never gives a
/// shorter payload). The first guess assumes JSON string escaping, which is exact for JSON
/// payloads: a shortened body then costs three builds (the whole body, the guess, and the guess
/// plus one grapheme to prove it is the longest); any other encoding falls back to a bisection
/// over grapheme boundaries.
pub fn fit_payload(
    body: &str,
    limit: usize,
    build: impl FnMut(&str) -> Vec<u8>,
) -> Result<Fitted, PayloadTooLarge> {
    let mut prefix = Prefixes {
        body,
        build,
        scratch: String::new(),
    };
    let payload = (prefix.build)(body);
    if payload.len() <= limit {
        return Ok(Fitted {
            payload,
            shortened: false,
        });
    }
    if body.is_empty() {
        return Err(PayloadTooLarge {
            size: payload.len(),
            limit,
        });
    }
    // What the payload costs besides the body, if the body is escaped as a JSON string.
    let fixed = payload.len().saturating_sub(json_len(body));
    let room = limit.saturating_sub(fixed + json_len(ELLIPSIS));
    let mut probe = json_prefix_within(body, room);

    // The largest prefix end known to fit, with its payload; the smallest known not to (the
    // whole body plus the ellipsis is longer than the body, which did not fit).
    let mut fits: Option<(usize, Vec<u8>)> = None;
    let (mut over, mut over_size) = (body.len(), payload.len());
    let mut next_to_guess = true;
    loop {
        let payload = prefix.payload(probe);
        if payload.len() <= limit {
            fits = Some((probe, payload));
        } else {
            (over, over_size) = (probe, payload.len());
        }
        let below = match &fits {
            Some((end, _)) => {
                let next = next_boundary(body, *end);
                if next >= over {
                    break;
                }
                Some((*end, next))
            }
            None if over == 0 => {
                return Err(PayloadTooLarge {
                    size: over_size,
                    limit,
                });
            }
            None => None,
        };
        probe = match below {
            // Right after the guess, its neighbour: the guess is exact for JSON encoders.
            Some((_, next)) if next_to_guess => next,
            None if next_to_guess => floor_boundary(body, over - 1),
            // Otherwise bisect the boundaries strictly between what fits and what does not.
            Some((end, next)) => {
                let mid = floor_boundary(body, end + (over - end) / 2);
                if mid <= end { next } else { mid }
            }
            None => floor_boundary(body, over / 2),
        };
        next_to_guess = false;
    }
    match fits {
        Some((_, payload)) => Ok(Fitted {
            payload,
            shortened: true,
        }),
        // The loop only leaves with a fitting prefix.
        None => Err(PayloadTooLarge {
            size: over_size,
            limit,
        }),
    }
}

/// Builds payloads of shortened bodies, reusing one buffer.
struct Prefixes<'a, F> {
    body: &'a str,
    build: F,
    scratch: String,
}

impl<F: FnMut(&str) -> Vec<u8>> Prefixes<'_, F> {
    /// The payload of `body[..end]` plus [`ELLIPSIS`].
    fn payload(&mut self, end: usize) -> Vec<u8> {
        self.scratch.clear();
        self.scratch.push_str(&self.body[..end]);
        self.scratch.push_str(ELLIPSIS);
        (self.build)(&self.scratch)
    }
}

/// The length of `text` inside a JSON string as serde_json writes it: `"`, `\` and the short
/// escapes (`\b \t \n \f \r`) take two bytes, other control characters six (`\u0001`), every
/// other byte (non-ASCII included) one.
fn json_len(text: &str) -> usize {
    text.bytes().map(json_byte_len).sum()
}

/// The JSON-escaped length of one byte of a UTF-8 string (see [`json_len`]).
const fn json_byte_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' | 0x08 | b'\t' | b'\n' | 0x0c | b'\r' => 2,
        0..0x20 => 6,
        _ => 1,
    }
}

/// The end of the longest proper prefix of `text`, on a grapheme boundary, whose JSON-escaped
/// length is at most `room`. The escaped length only grows with the prefix, so this is the
/// grapheme floor of the last byte that fits: one pass over bytes, and segmentation only at the
/// cut (segmenting the whole prefix cost ten times the payload builds).
fn json_prefix_within(text: &str, room: usize) -> usize {
    let mut used = 0;
    let mut fits = text.len();
    for (i, b) in text.bytes().enumerate() {
        used += json_byte_len(b);
        if used > room {
            fits = i;
            break;
        }
    }
    // A proper prefix: the whole body plus the ellipsis is longer than the body.
    floor_boundary(text, fits.min(text.len().saturating_sub(1)))
}

/// The first grapheme boundary of `text` after byte `index` (`text.len()` at the end).
fn next_boundary(text: &str, index: usize) -> usize {
    let mut cursor = GraphemeCursor::new(index, text.len(), true);
    // The chunk is the whole text, so the cursor never asks for more context; if it did, the
    // end is a boundary that always exists.
    match cursor.next_boundary(text, 0) {
        Ok(Some(next)) => next,
        Ok(None) | Err(_) => text.len(),
    }
}

/// The largest grapheme boundary of `text` at or below byte `index`.
fn floor_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    let mut index = index;
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    let mut cursor = GraphemeCursor::new(index, text.len(), true);
    // As in `next_boundary`: with the whole text there is no missing context; the start of
    // the text is a boundary that always exists.
    match cursor.is_boundary(text, 0) {
        Ok(true) => index,
        Ok(false) => match cursor.prev_boundary(text, 0) {
            Ok(Some(prev)) => prev,
            Ok(None) | Err(_) => 0,
        },
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_never_split_a_flag() {
        let text = "a🇨🇳b";
        assert_eq!(floor_boundary(text, 2), 1);
        assert_eq!(floor_boundary(text, 4), 1);
        assert_eq!(floor_boundary(text, 9), 9);
        assert_eq!(floor_boundary(text, 100), text.len());
        assert_eq!(next_boundary(text, 0), 1);
        assert_eq!(next_boundary(text, 1), 9);
        assert_eq!(next_boundary(text, 9), 10);
        assert_eq!(next_boundary(text, 10), 10);
    }

    #[test]
    fn json_len_is_serde_jsons_length() {
        let text = "a\"\\\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é🇨🇳/";
        assert_eq!(
            json_len(text) + 2,
            serde_json::to_string(text).unwrap().len()
        );
    }
}
