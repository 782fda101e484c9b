//! Integration tests of pushway-xiaomi against the Xiaomi simulator of pushway-mock.
#![allow(clippy::unwrap_used)]

mod burst;
mod classify;
mod common;
mod outcomes;
mod request;
mod router;
