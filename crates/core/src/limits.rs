//! Fitting text and payloads into a channel's limits.
//!
//! Vendors reject what is too long, so pushway shortens the body before sending: on a grapheme
//! boundary (never inside a UTF-8 sequence, never splitting an emoji sequence or a CJK character)
//! with [`ELLIPSIS`] appended. When even the shortest body cannot fit (a huge ext or title), the
//! result is a typed [`PayloadTooLarge`] before any network call.

use std::borrow::Cow;

use unicode_segmentation::UnicodeSegmentation;

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

/// Builds a payload with `build(body)` and, while it exceeds `limit` bytes, rebuilds it with a
/// shorter body (cut on a grapheme boundary, [`ELLIPSIS`] appended). Each round removes at least
/// the measured excess, so escaping in the encoder (JSON `\n`, `\u0001`, form `%E4…`) is
/// accounted for. Fails with [`PayloadTooLarge`] when the body shortened to the ellipsis alone
/// still does not fit.
pub fn fit_payload(
    body: &str,
    limit: usize,
    mut build: impl FnMut(&str) -> Vec<u8>,
) -> Result<Fitted, PayloadTooLarge> {
    let payload = build(body);
    if payload.len() <= limit {
        return Ok(Fitted {
            payload,
            shortened: false,
        });
    }
    let mut size = payload.len();
    let mut keep = body.len();
    let mut shortened = String::with_capacity(body.len());
    loop {
        if keep == 0 {
            return Err(PayloadTooLarge { size, limit });
        }
        let excess = size - limit;
        let target = keep.saturating_sub(excess + ELLIPSIS.len());
        keep = grapheme_floor(body, target);
        shortened.clear();
        shortened.push_str(&body[..keep]);
        shortened.push_str(ELLIPSIS);
        let payload = build(&shortened);
        if payload.len() <= limit {
            return Ok(Fitted {
                payload,
                shortened: true,
            });
        }
        size = payload.len();
    }
}

/// The largest grapheme boundary of `text` at or below byte `index`.
fn grapheme_floor(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    let mut floor = 0;
    for (start, _) in text.grapheme_indices(true) {
        if start > index {
            break;
        }
        floor = start;
    }
    floor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grapheme_floor_never_splits_a_flag() {
        let text = "a🇨🇳b";
        assert_eq!(grapheme_floor(text, 2), 1);
        assert_eq!(grapheme_floor(text, 9), 9);
        assert_eq!(grapheme_floor(text, 100), text.len());
    }
}
