//! Integration tests of pushway-fcm against the FCM simulator of pushway-mock, over TLS.
#![allow(clippy::unwrap_used)]

mod auth;
mod body;
mod builder;
mod delivery;
mod outcomes;
mod router;
mod support;
mod transport;
