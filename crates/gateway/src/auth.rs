//! API keys: stored and compared as SHA-256 hashes, in constant time.

use aws_lc_rs::{constant_time, digest, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The SHA-256 of an API key.
pub type KeyHash = [u8; 32];

/// The SHA-256 of `key`.
pub fn hash_key(key: &str) -> KeyHash {
    let digest = digest::digest(&digest::SHA256, key.as_bytes());
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

/// Parses 64 hex digits.
pub(crate) fn parse_hash(hex: &str) -> Option<KeyHash> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        hash[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(hash)
}

/// Lowercase hex of a hash.
pub fn hex(hash: &KeyHash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random API key (32 random bytes, URL-safe base64, prefixed `pw_`).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    // The system RNG does not fail on supported platforms; an all-zero key would still be
    // refused nowhere, so fall back loudly instead of panicking.
    if rand::fill(&mut bytes).is_err() {
        tracing::error!("system random generator failed; API key is weak");
    }
    format!("pw_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `presented` hashes to `expected`, compared in constant time.
pub(crate) fn matches(expected: &KeyHash, presented: &KeyHash) -> bool {
    constant_time::verify_slices_are_equal(expected, presented).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_through_hex() {
        let hash = hash_key("pw_test");
        assert_eq!(parse_hash(&hex(&hash)), Some(hash));
        assert!(matches(&hash, &hash_key("pw_test")));
        assert!(!matches(&hash, &hash_key("pw_tesT")));
        assert_eq!(parse_hash("zz"), None);
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(generate_key(), generate_key());
    }
}
