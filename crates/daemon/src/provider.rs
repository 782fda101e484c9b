//! [`DaemonProvider`]: the daemon channel as a [`PushProvider`].

use std::sync::Arc;

use futures_util::future::join_all;
use pushway_core::{
    DeviceToken, Notification, Outcome, Presence, PushProvider, Reason, TokenKind, async_trait,
};

use crate::delivery::Enqueued;
use crate::hub::Hub;
use crate::key::DeviceKey;
use crate::protocol::{MAX_PUSH_FRAME_BYTES, MAX_PUSH_ID_BYTES, encode_push};

/// The reason code of the `InvalidToken` outcome for a token that is not a device address
/// (`<user>/<device>`, see [`DeviceKey`]).
pub const REASON_BAD_DEVICE_ADDRESS: &str = "bad_device_address";
/// The reason code of the `Rejected` outcome for a token of another channel.
pub const REASON_WRONG_CHANNEL: &str = "wrong_channel";
/// The reason code of the `Rejected` outcome for a message id longer than
/// [`MAX_PUSH_ID_BYTES`].
pub const REASON_ID_TOO_LONG: &str = "push_id_too_long";

/// Sends notifications to daemon-channel devices through a [`Hub`]. A device's token is a
/// [`TokenKind::Daemon`] token whose string is its address, `<user>/<device>`
/// ([`DeviceKey::address`]): queues are per user *and* device.
///
/// Per token, in one attempt: the push is appended to the device's queue; if the device is
/// connected, the provider waits up to the hub's ack timeout for its ack.
///
/// | what happened | outcome |
/// |---|---|
/// | connected, acked in time | `Delivered` |
/// | not connected, or no ack in time, or the connection dropped | `Queued` (replayed on reconnect) |
/// | the push frame is over [`MAX_PUSH_FRAME_BYTES`] | `Rejected` (`payload_too_large`) |
/// | the token is not `<user>/<device>` | `InvalidToken` (`bad_device_address`) |
/// | the queue store failed | `Retry` (`queue_store`) |
///
/// The push id is the notification's message id, so a notification sent twice (a retry) is
/// shown once by the device. Any batch size; the batch's devices are served concurrently, so a
/// slow device delays only its own outcome, by at most the ack timeout.
#[derive(Debug, Clone)]
pub struct DaemonProvider {
    hub: Hub,
    name: Arc<str>,
}

impl DaemonProvider {
    /// A provider named `"daemon"` sending through `hub`.
    pub fn new(hub: Hub) -> Self {
        DaemonProvider {
            hub,
            name: Arc::from("daemon"),
        }
    }

    /// Renames it (for several hubs in one router).
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Arc::from(name);
        self
    }

    /// The hub it sends through.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    fn expires_at_ms(&self, notification: &Notification) -> u64 {
        let ttl = self.hub.inner.config.queue_ttl;
        let ttl = notification.ttl.map_or(ttl, |own| own.min(ttl));
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.hub.inner.clock.now_ms().saturating_add(ttl_ms)
    }
}

impl Hub {
    /// A [`DaemonProvider`] sending through this hub.
    pub fn provider(&self) -> DaemonProvider {
        DaemonProvider::new(self.clone())
    }
}

#[async_trait]
impl PushProvider for DaemonProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch_size(&self) -> usize {
        usize::MAX
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        let id = notification.message_id.as_str();
        if id.len() > MAX_PUSH_ID_BYTES {
            let reason = Reason::new(REASON_ID_TOO_LONG)
                .with_detail(format!("the message id is over {MAX_PUSH_ID_BYTES} bytes"));
            return vec![Outcome::Rejected { reason }; tokens.len()];
        }
        let frame: Arc<str> = match encode_push(id, notification) {
            Ok(frame) if frame.len() <= MAX_PUSH_FRAME_BYTES => Arc::from(frame),
            Ok(frame) => {
                let reason = Reason::new(Reason::PAYLOAD_TOO_LARGE).with_detail(format!(
                    "the push frame is {} bytes, over the {MAX_PUSH_FRAME_BYTES}-byte limit",
                    frame.len()
                ));
                return vec![Outcome::Rejected { reason }; tokens.len()];
            }
            Err(e) => {
                return vec![Outcome::rejected(Reason::new("encode").with_detail(e)); tokens.len()];
            }
        };
        let expires_at_ms = self.expires_at_ms(notification);
        let inner = &self.hub.inner;
        let enqueued = join_all(tokens.iter().map(|token| {
            let frame = &frame;
            async move {
                if token.kind != TokenKind::Daemon {
                    return Enqueued::Done(Outcome::rejected(REASON_WRONG_CHANNEL));
                }
                let Some(key) = DeviceKey::parse(&token.token) else {
                    return Enqueued::Done(Outcome::InvalidToken {
                        reason: Reason::new(REASON_BAD_DEVICE_ADDRESS),
                        since: None,
                    });
                };
                inner.enqueue(&key, id, frame, expires_at_ms).await
            }
        }))
        .await;
        // One ack deadline for the whole batch: one timer per send, not one per push.
        inner.wait_for_acks(id, enqueued).await
    }
}

impl Presence for DaemonProvider {
    fn is_connected(&self, device: &DeviceToken) -> bool {
        Presence::is_connected(&self.hub, device)
    }
}
