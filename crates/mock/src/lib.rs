//! Faithful local simulators of the push vendors pushway speaks to.
//!
//! Every simulator binds `127.0.0.1:0` (or a given address), reports its base URL, can be scripted
//! (which tokens exist, which credentials it accepts, which faults to inject) and records every
//! request it received so tests can assert the exact request a vendor would have seen. A simulator
//! shuts down when it is dropped. [`control`] sets fault rules from their text form, over HTTP
//! too, and reads back what each simulator received, for tools and tests outside this process
//! (the `pushway-mock` binary serves it).

pub mod apns;
pub mod control;
pub mod fault;
pub mod fcm;
mod http_server;
pub mod huawei;
pub mod postgres;
pub mod record;
mod tokens;
pub mod xiaomi;

pub use record::{RecordedRequest, Recorder, Recording};
