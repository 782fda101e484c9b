//! Integration tests of the simulators, one module per vendor.

mod apns;
mod binary;
mod fcm;
mod huawei;
mod xiaomi;
