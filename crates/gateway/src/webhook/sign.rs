//! Signing and verifying webhook requests: HMAC-SHA256 over `"{timestamp}.{body}"`, sent as
//! `Pushway-Timestamp: <unix seconds>` and `Pushway-Signature: v1=<hex>` (two `v1=` values,
//! comma-separated, while a secret is being rotated). The timestamp is signed, so a receiver
//! that rejects old timestamps also rejects replays of old requests.

use aws_lc_rs::hmac;

/// The header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "Pushway-Timestamp";
/// The header carrying the signatures: `v1=<hex>`, or `v1=<hex>,v1=<hex>` during a rotation.
pub const SIGNATURE_HEADER: &str = "Pushway-Signature";
/// How far a request's timestamp may be from the receiver's clock, in seconds (5 minutes).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a request does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The timestamp header is not a number of seconds.
    #[error("the timestamp is not Unix seconds")]
    Timestamp,
    /// The timestamp is more than [`TOLERANCE_SECS`] from now: a replay, or a clock off.
    #[error("the timestamp is more than {TOLERANCE_SECS} s from now")]
    Stale,
    /// No `v1=` signature matches the body and timestamp under the secret.
    #[error("no signature matches")]
    Signature,
}

/// The `v1=<hex>` signature of `body` sent at `timestamp` (Unix seconds) under `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1={}", hex(context.sign().as_ref()))
}

/// The `Pushway-Signature` value: one `v1=` per secret, the current one first.
pub fn signature_header(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign(s, timestamp, body))
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks a request as a receiver should: `timestamp` and `signature` are the headers' values,
/// `body` the raw bytes received (before any JSON parsing), `now` the receiver's Unix seconds.
/// The comparison is constant-time (`aws_lc_rs::hmac::verify`).
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::Timestamp)?;
    if now.abs_diff(sent) > TOLERANCE_SECS.unsigned_abs() {
        return Err(VerifyError::Stale);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(sent.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    let matches = signature
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(unhex)
        .any(|tag| hmac::verify(&key, &message, &tag).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Signature)
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_0123456789abcdef";
    const BODY: &[u8] = br#"{"events":[]}"#;

    #[test]
    fn a_signed_request_verifies_and_a_tampered_one_does_not() {
        let sig = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(sig.len(), 3 + 64);
        assert_eq!(
            verify(SECRET, "1700000000", &sig, BODY, 1_700_000_100),
            Ok(())
        );
        let tampered = br#"{"events":[{}]}"#;
        let wrong = verify(SECRET, "1700000000", &sig, tampered, 1_700_000_100);
        assert_eq!(wrong, Err(VerifyError::Signature));
        // The timestamp is signed: moving it breaks the signature.
        let moved = verify(SECRET, "1700000001", &sig, BODY, 1_700_000_100);
        assert_eq!(moved, Err(VerifyError::Signature));
        let other = verify(
            b"another-secret-16b",
            "1700000000",
            &sig,
            BODY,
            1_700_000_000,
        );
        assert_eq!(other, Err(VerifyError::Signature));
    }

    #[test]
    fn timestamps_beyond_five_minutes_either_way_are_refused() {
        let sig = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(
            verify(SECRET, "1700000000", &sig, BODY, 1_700_000_300),
            Ok(())
        );
        let old = verify(SECRET, "1700000000", &sig, BODY, 1_700_000_301);
        assert_eq!(old, Err(VerifyError::Stale));
        let future = verify(SECRET, "1700000000", &sig, BODY, 1_699_999_699);
        assert_eq!(future, Err(VerifyError::Stale));
        let junk = verify(SECRET, "yesterday", &sig, BODY, 1_700_000_000);
        assert_eq!(junk, Err(VerifyError::Timestamp));
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let old: &[u8] = b"old-secret-0123456789";
        let header = signature_header(&[SECRET, old], 1_700_000_000, BODY);
        assert_eq!(header.matches("v1=").count(), 2);
        assert_eq!(
            verify(SECRET, "1700000000", &header, BODY, 1_700_000_000),
            Ok(())
        );
        assert_eq!(
            verify(old, "1700000000", &header, BODY, 1_700_000_000),
            Ok(())
        );
        let garbage = verify(SECRET, "1700000000", "v1=zz,v2=00", BODY, 1_700_000_000);
        assert_eq!(garbage, Err(VerifyError::Signature));
    }
}
