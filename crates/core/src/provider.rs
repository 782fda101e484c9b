//! The contract every channel implements.

use async_trait::async_trait;

use crate::{DeviceToken, Notification, Outcome};

/// A channel that delivers rendered notifications: APNs, Xiaomi, Huawei, the daemon channel,
/// or a layer wrapping one of them (retry, rate limit, timeout…).
///
/// # Contract
/// - [`send`](PushProvider::send) makes **exactly one attempt** for the batch. It never retries
///   on its own, except where a vendor requires one internal refresh of an expired credential
///   followed by one resend (documented per provider). Retries belong to the retry layer only.
/// - It returns **exactly one [`Outcome`] per token, in the order of `tokens`**. A failure that
///   hits the whole batch (connection lost, payload too large) gives every token the same
///   outcome; it is never an `Err` and never a panic.
/// - `tokens.len()` is at most [`max_batch_size`](PushProvider::max_batch_size); the
///   [`Router`](crate::Router) guarantees it. Every token belongs to this provider's channel.
/// - Every network call has a timeout, so `send` always finishes.
/// - Tokens and secrets never appear whole in logs or errors.
///
/// The trait is dyn-compatible: the router holds providers as `Arc<dyn PushProvider>`.
#[async_trait]
pub trait PushProvider: Send + Sync + 'static {
    /// A short, stable name for logs and metrics (`"apns"`, `"xiaomi"`, `"retry(apns)"`…).
    fn name(&self) -> &str;

    /// The largest batch one `send` accepts (APNs 1, Xiaomi and Huawei 1000).
    fn max_batch_size(&self) -> usize;

    /// Sends `notification` to every token of `tokens`, once, and says what happened to each.
    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome>;
}

#[cfg(test)]
mod tests {
    use super::PushProvider;

    fn _dyn_compatible(_: Box<dyn PushProvider>) {}
}
