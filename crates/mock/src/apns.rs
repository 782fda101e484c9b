//! The apns simulator.
