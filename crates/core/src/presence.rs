//! Whether a device has a live connection right now.

use crate::DeviceToken;

/// Answers whether a device currently holds a live connection to a channel that can reach it at
/// once (the daemon hub implements it). The router's channel strategies use it to prefer a live
/// in-house connection over vendor channels.
pub trait Presence: Send + Sync + 'static {
    /// Whether `device` is connected now. Must be cheap and must not block.
    fn is_connected(&self, device: &DeviceToken) -> bool;
}

#[cfg(test)]
mod tests {
    use super::Presence;

    fn _dyn_compatible(_: Box<dyn Presence>) {}
}
