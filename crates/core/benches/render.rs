//! Render micro-benchmark: a group text message with three elements.
//!
//! Target (issue 2): at least 1,000,000 renders per second on one core. The `floor` case is the
//! limit in the same run: it only clones the strings a notification is made of, which any
//! renderer has to do, so `render / floor` says how much the rules themselves cost.
//!
//! The `fit_payload` group shortens over-long bodies into a 4096-byte JSON payload (issue 13):
//! 26 KB of pasted code (escapes on every line) and 10 KB of short lines. Its floor builds the
//! whole body's payload (to learn it does not fit) and the fitted one, which any fitting has to
//! do.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pushway_core::{Message, Recipient, fit_payload, render};

fn sample() -> (Message, Recipient) {
    let message: Message = pushway_core::json::from_str(
        r#"{
        "id": "7f1c2a9e-msg",
        "conversation": {"type": "group", "id": "g-1024", "name": "周末登山队"},
        "sender": {"user_id": "u-100", "nickname": "Alice", "name_card": "队长 Alice"},
        "elements": [
            {"type": "text", "text": "明天早上七点在北门集合，"},
            {"type": "image"},
            {"type": "text", "text": "记得带水和雨衣！"}
        ]
    }"#,
    )
    .expect("valid sample");
    let mut recipient = Recipient::new("u-200");
    recipient.unread = 5;
    (message, recipient)
}

fn bench(c: &mut Criterion) {
    let (message, recipient) = sample();
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    group.bench_function("group_text_3_elements", |b| {
        b.iter(|| render(black_box(&message), black_box(&recipient)))
    });
    group.bench_function("floor_clone_strings", |b| {
        b.iter(|| {
            let m = black_box(&message);
            let mut body = String::new();
            for e in &m.elements {
                if let pushway_core::Element::Text { text } = e {
                    body.push_str(text);
                }
            }
            (
                m.id.clone(),
                m.sender.user_id.clone(),
                m.sender.name_card.clone(),
                body,
                m.sender.user_id.clone(),
            )
        })
    });
    group.finish();

    let payload = |body: &str| {
        serde_json::to_vec(
            &serde_json::json!({"aps": {"alert": {"title": "周末登山队", "body": body}}}),
        )
        .expect("serialisable")
    };
    let mut group = c.benchmark_group("fit_payload");
    group.throughput(Throughput::Elements(1));
    let code = "\tlet path = \"C:\\\\Users\\\\ann\\\\config.json\";\n".repeat(26 * 1024 / 40);
    let lines = "ok\nsee you at 8\n".repeat(10 * 1024 / 16);
    for (name, body) in [("pasted_code_26k", &code), ("short_lines_10k", &lines)] {
        group.bench_function(name, |b| {
            b.iter(|| fit_payload(black_box(body), 4096, payload))
        });
        let fitted = fit_payload(body, 4096, payload).expect("fits");
        let value: serde_json::Value = serde_json::from_slice(&fitted.payload).expect("json");
        let kept = value["aps"]["alert"]["body"]
            .as_str()
            .expect("body")
            .to_owned();
        group.bench_function(format!("{name}_floor_two_builds"), |b| {
            b.iter(|| (payload(black_box(body)), payload(black_box(&kept))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
