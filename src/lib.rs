pub use pushway_core as core;
