//! pushway-core's integration tests, one module per concern.

#![allow(clippy::unwrap_used)]

mod json_input;
mod limits;
mod placeholders;
mod receive_rules;
mod render_fixtures;
mod render_props;
mod router;
mod stub;
