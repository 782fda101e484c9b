//! Render micro-benchmark: a group text message with three elements.
//!
//! Target (issue 2): at least 1,000,000 renders per second on one core. The `floor` case is the
//! limit in the same run: it only clones the strings a notification is made of, which any
//! renderer has to do, so `render / floor` says how much the rules themselves cost.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pushway_core::{Message, Recipient, render};

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
