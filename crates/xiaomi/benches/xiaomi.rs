//! CPU cost of the pure parts per 1,000-regid batch: building the form, classifying a success,
//! and spreading it over the batch. The end-to-end comparison with a limit tool and a peer
//! library is `bench/xiaomi.sh`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pushway_xiaomi::{Safeguard, XiaomiProvider, classify};

fn regids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{:0>40}+/{:02}==", format!("{i:x}"), i % 100))
        .collect()
}

fn bench(c: &mut Criterion) {
    let provider = XiaomiProvider::builder()
        .app_secret("secret")
        .package("com.example.app")
        .channel_id("108790")
        .build()
        .unwrap();
    let notification = pushway_core::testing::sample_notification();
    let owned = regids(1000);
    let batch: Vec<&str> = owned.iter().map(String::as_str).collect();
    c.bench_function("build_request/1000", |b| {
        b.iter(|| provider.build_request(black_box(&notification), black_box(&batch)))
    });
    let body = r#"{"result":"ok","trace_id":"Xdm00000000000000001aa","code":0,"data":{"id":"sdm00000000000000001bb"},"description":"成功","info":"Received push messages for 1000 REGID"}"#.as_bytes();
    let headers = http::HeaderMap::new();
    c.bench_function("classify+outcomes/1000", |b| {
        b.iter(|| classify(200, &headers, black_box(body)).outcomes(&batch, Safeguard::default()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
