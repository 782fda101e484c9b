//! The xiaomi simulator.
