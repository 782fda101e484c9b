//! The huawei simulator.
