//! Tests of the xiaomi simulator.
