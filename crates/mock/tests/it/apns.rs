//! Tests of the apns simulator.
