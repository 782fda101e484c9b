//! Integration tests of pushway-daemon: real sockets on 127.0.0.1, one binary, one module per
//! concern.

#![allow(clippy::unwrap_used)]

mod acked;
mod auth;
mod client;
mod closing;
mod cluster;
mod delivery;
mod frames;
mod full_disk;
mod heartbeat;
mod identity;
mod isolation;
mod queue;
mod restart;
mod secrets;
mod stalled;
mod store;
mod support;
mod tinyfs;
mod tls;
mod unauthenticated;
mod upgraded;
