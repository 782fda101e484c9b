//! Integration tests of pushway-huawei against the Huawei simulator of pushway-mock.
#![allow(clippy::unwrap_used)]

mod auth;
mod body;
mod burst;
mod outcomes;
mod router;
mod support;
