//! The hub's settings, with their defaults.

use std::time::Duration;

use crate::queue::{DEFAULT_QUEUE_MAX_LEN, DEFAULT_QUEUE_TTL};

/// The default time a connected device has to ack a push before it counts as `Queued`.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The default interval between the server's pings.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);
/// The default time without any frame from a device after which its connection is dead.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The default time a new connection has to finish the WebSocket handshake and say `hello`.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time one write to a device may take, and the longest a device with pushes in
/// flight may go without acking any, before it counts as stalled.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default most pushes sent to one connection and not yet acked. Together with
/// [`MAX_PUSH_FRAME_BYTES`](crate::MAX_PUSH_FRAME_BYTES) it bounds a connection's write buffer;
/// further pushes wait in the device's queue.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// The default most bytes of pushes sent to one connection and not yet acked (one push is
/// always allowed, however large). Kernel socket buffers hold megabytes: a window they can
/// absorb whole never makes a write block, so a device that stops reading is found by its
/// missing acks (the write timeout), and this bounds what it costs meanwhile.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 256 * 1024;
/// The default most connections waiting to say `hello` (TCP, TLS and WebSocket handshakes
/// included); beyond it the oldest is shed. Keep it well below the process's file limit.
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 512;
/// How long a close handshake may take.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The server's WebSocket read buffer per connection: device frames are small, and this is
/// most of an idle connection's memory.
pub(crate) const READ_BUFFER_BYTES: usize = 1024;
/// Frames are gathered up to this size before a write, and always flushed after a batch.
pub(crate) const WRITE_BUFFER_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) ack_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) auth_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) max_in_flight_bytes: usize,
    pub(crate) max_unauthenticated: usize,
    pub(crate) queue_max_len: usize,
    pub(crate) queue_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            ping_interval: DEFAULT_PING_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            max_unauthenticated: DEFAULT_MAX_UNAUTHENTICATED,
            queue_max_len: DEFAULT_QUEUE_MAX_LEN,
            queue_ttl: DEFAULT_QUEUE_TTL,
        }
    }
}
