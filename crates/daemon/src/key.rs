//! [`DeviceKey`]: who a connection, a queue and a push belong to — a user's device.
//!
//! Device ids are chosen by apps ("phone-1"), so two users may well have the same one: every
//! connection, queue, token generation and push address is keyed by the pair (user, device),
//! never by the device id alone.

use std::fmt;

/// A user's device: the key of its connection, its queue and its token generation.
///
/// Its text form, the daemon channel's device address (the `token` of a
/// [`TokenKind::Daemon`](pushway_core::TokenKind::Daemon) device token), is `<user>/<device>`:
/// the device id is everything after the last `/`, so a device id never contains `/` (user ids
/// may).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceKey {
    user: String,
    device: String,
}

/// The separator of a device address, `<user>/<device>`.
pub const ADDRESS_SEPARATOR: char = '/';

impl DeviceKey {
    /// The key of `device` of `user`; `None` when either is empty or the device id contains
    /// [`ADDRESS_SEPARATOR`].
    pub fn new(user: &str, device: &str) -> Option<DeviceKey> {
        DeviceKey::valid(user, device).then(|| DeviceKey {
            user: user.to_owned(),
            device: device.to_owned(),
        })
    }

    /// Whether `(user, device)` makes a key.
    pub(crate) fn valid(user: &str, device: &str) -> bool {
        !user.is_empty() && !device.is_empty() && !device.contains(ADDRESS_SEPARATOR)
    }

    /// Reads a device address, `<user>/<device>`.
    pub fn parse(address: &str) -> Option<DeviceKey> {
        let (user, device) = address.rsplit_once(ADDRESS_SEPARATOR)?;
        DeviceKey::new(user, device)
    }

    /// The user id.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The device id (unique per user only).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The device address, `<user>/<device>`: the token string of the device's
    /// [`DeviceToken`](pushway_core::DeviceToken).
    pub fn address(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{ADDRESS_SEPARATOR}{}", self.user, self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceKey;

    #[test]
    fn addresses_round_trip_and_split_at_the_last_separator() {
        let key = DeviceKey::new("team/alice", "phone-1").unwrap();
        assert_eq!(key.address(), "team/alice/phone-1");
        assert_eq!(DeviceKey::parse("team/alice/phone-1"), Some(key));
        for bad in ["phone-1", "/phone-1", "alice/", ""] {
            assert_eq!(DeviceKey::parse(bad), None, "{bad}");
        }
        assert_eq!(DeviceKey::new("alice", "a/b"), None);
    }
}
