//! Sends one notification through APNs (being written; see crates/apns).

fn main() {}
