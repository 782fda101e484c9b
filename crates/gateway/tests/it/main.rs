//! The gateway through its real HTTP API on 127.0.0.1:0, against the pushway-mock simulators
//! (APNs and FCM over TLS, Xiaomi, Huawei) started in-process.

mod admin;
mod admin_console;
mod admin_dead_letters;
mod bad_input;
mod console_client;
mod credentials;
mod daemon;
mod daemon_after;
mod daemon_cluster;
mod daemon_http;
mod dead_tokens;
mod devices;
mod fcm;
mod idempotency;
mod metrics;
mod misconfigured;
mod openapi;
mod overload;
mod receive_rules;
mod retries;
mod rotation;
mod rotation_admin;
mod rotation_daemon;
mod seed_rules;
mod settings;
mod shutdown;
mod store;
mod store_batch;
mod store_postgres;
mod support;
mod tim;
mod webhook_receiver;
mod webhook_store;
mod webhook_tim;
mod webhooks;
