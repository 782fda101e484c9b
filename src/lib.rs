//! **pushway**: offline push for instant messaging.
//!
//! When a chat app is not running, its server still has to wake the phone. pushway renders a
//! notification from the IM message under the recipient's settings (the rules of the IM SDK's
//! offline-push chapter), then sends it through the channel of each of the recipient's devices —
//! Apple APNs, Xiaomi MiPush, Huawei Push Kit, Firebase Cloud Messaging, or an in-house
//! long-connection channel — chosen by a [`Router`](core::Router) from the device token's type.
//!
//! This facade re-exports the workspace's crates: [`core`] always, and each channel crate behind
//! a feature of the same name (all on by default once they exist).

#[cfg(feature = "apns")]
pub use pushway_apns as apns;
pub use pushway_core as core;
#[cfg(feature = "daemon")]
pub use pushway_daemon as daemon;
#[cfg(feature = "delivery")]
pub use pushway_delivery as delivery;
#[cfg(feature = "fcm")]
pub use pushway_fcm as fcm;
/// The offline-push gateway behind `pushway serve` (feature `gateway`, on by default; off with
/// `default-features = false` so library embedders compile no axum or sqlx).
#[cfg(feature = "gateway")]
pub use pushway_gateway as gateway;
#[cfg(feature = "huawei")]
pub use pushway_huawei as huawei;
#[cfg(feature = "xiaomi")]
pub use pushway_xiaomi as xiaomi;

// The READMEs' examples are doctests here: this package depends on every crate of the workspace
// (and on pushway-mock for tests), so one `cargo test --doc` compiles and runs the workspace
// README's, this crate's registry page's and each crate's README's examples, and none can rot.
// `cfg(doctest)`: the files outside this package are only read when testing from the workspace.
#[cfg(doctest)]
mod readme_doctests {
    #[doc = include_str!("../README.md")]
    struct Workspace;
    #[doc = include_str!("../crates-io.md")]
    struct Facade;
    #[doc = include_str!("../crates/core/README.md")]
    struct Core;
    #[doc = include_str!("../crates/apns/README.md")]
    struct Apns;
    #[doc = include_str!("../crates/xiaomi/README.md")]
    struct Xiaomi;
    #[doc = include_str!("../crates/huawei/README.md")]
    struct Huawei;
    #[cfg(feature = "fcm")]
    #[doc = include_str!("../crates/fcm/README.md")]
    struct Fcm;
    #[doc = include_str!("../crates/daemon/README.md")]
    struct Daemon;
    #[doc = include_str!("../crates/delivery/README.md")]
    struct Delivery;
    #[doc = include_str!("../crates/mock/README.md")]
    struct Mock;
    #[cfg(feature = "gateway")]
    #[doc = include_str!("../crates/gateway/README.md")]
    struct Gateway;
}
