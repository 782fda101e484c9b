//! Integration tests of the simulators, one module per vendor.

mod apns;
mod huawei;
mod xiaomi;
