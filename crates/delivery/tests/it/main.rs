//! pushway-delivery's integration tests: one binary, one module per layer. Timing tests run on
//! tokio's paused clock and assert counts and virtual instants, never wall time.

// Tests and their helpers may panic on a broken expectation.
#![allow(clippy::unwrap_used)]

mod builder;
mod bulkhead;
mod huawei;
mod hygiene;
mod mass_invalid;
mod rate_lease;
mod rate_limit;
mod retry;
mod simulator;
mod support;
