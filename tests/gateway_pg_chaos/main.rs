//! Chaos on Postgres (issue 16): `pushway serve` nodes on one Postgres lose nothing they
//! acknowledged when Postgres crashes and restarts mid-load under one node ([`restart`], which
//! also checks the `503` answers), and in the scenario in one run ([`cluster`]): three
//! nodes, one killed with `kill -9` mid-load and started again, then Postgres restarted, during
//! one 50,000-delivery load.
//!
//! The processes are those of the SQLite crash test (`tests/gateway_crash`, whose modules this
//! binary shares): this test plays an IM back end through the HTTP API only; the `pushway`
//! binary runs as child processes (`[store] url` pointing at a private Postgres server that
//! this test starts, `pushway_mock::postgres::PgServer`); the vendor simulators run in another
//! child process, this test binary run again as [`crash_simulators`], and are read through their
//! control endpoint (`/_control/received`); [`cluster`] starts one simulator process per node
//! process, so the records say which node sent each request.
//!
//! The back end is a well-behaved one ([`support::Poster`]): each message has its own
//! `Idempotency-Key`; a `503` is retried after its `Retry-After` under the same key, and a node
//! that does not answer (killed) is replaced by the next one, still under the same key. So every
//! message is acknowledged in the end, once, with one id.
//!
//! What is asserted (counts, never timings): every (message, device) acknowledged with `202`
//! reached its simulator at least once (the distinct (message, token) pairs received are exactly
//! the acknowledged deliveries), every delivery's row ends `delivered`, and the duplicates are
//! counted and printed; each test's own module says what bounds them.

#![cfg(unix)]

// The SQLite crash test's modules, shared as they are: this binary uses only part of them.
#[allow(dead_code)]
#[path = "../gateway_crash/children.rs"]
mod children;
#[allow(dead_code)]
#[path = "../gateway_crash/simulators.rs"]
mod simulators;
#[allow(dead_code)]
#[path = "../gateway_crash/traffic.rs"]
mod traffic;

mod cluster;
mod restart;
mod support;

use std::path::Path;

/// The simulator process of this binary's tests (see the crate docs); does nothing when run any
/// other way. Named as in `tests/gateway_crash`, whose `children.rs` starts it by this name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the simulator process of the Postgres chaos tests"]
async fn crash_simulators() {
    let Some(dir) = std::env::var_os(children::SIMULATORS_ENV) else {
        eprintln!("crash_simulators is the child process of another test; nothing to do alone");
        return;
    };
    simulators::serve(Path::new(&dir)).await;
}
