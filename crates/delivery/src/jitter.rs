//! A tiny, lock-free source of jitter. Not for anything secret: it only spreads retries apart.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// SplitMix64 over an atomic counter, seeded per process from std's random hasher keys, so two
/// senders started together do not retry in step. (A whole `rand` dependency for one random
/// fraction per retry would not pay for itself.)
#[derive(Debug)]
pub(crate) struct Jitter {
    state: AtomicU64,
}

impl Jitter {
    pub(crate) fn new() -> Self {
        Jitter {
            state: AtomicU64::new(RandomState::new().hash_one(0x5eed_u64)),
        }
    }

    /// A fraction in `[0, 1)`.
    pub(crate) fn fraction(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits make an exact f64 in [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Jitter;

    #[test]
    fn fractions_are_in_range_and_spread() {
        let jitter = Jitter::new();
        let values: Vec<f64> = (0..1000).map(|_| jitter.fraction()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let low = values.iter().filter(|v| **v < 0.5).count();
        assert!((400..600).contains(&low), "{low}");
    }
}
