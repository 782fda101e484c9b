//! Tests of the huawei simulator.
