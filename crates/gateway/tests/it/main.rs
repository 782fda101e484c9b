//! The gateway through its real HTTP API on 127.0.0.1:0, against the pushway-mock simulators
//! (APNs and FCM over TLS, Xiaomi, Huawei) started in-process.

mod bad_input;
mod credentials;
mod daemon;
mod daemon_after;
mod daemon_http;
mod dead_tokens;
mod devices;
mod fcm;
mod idempotency;
mod misconfigured;
mod openapi;
mod overload;
mod retries;
mod rotation;
mod rotation_admin;
mod rotation_daemon;
mod seed_rules;
mod settings;
mod shutdown;
mod store;
mod store_batch;
mod support;
