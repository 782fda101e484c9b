//! Render micro-benchmark: a group text message with three elements.
//!
//! Target (issue 2): at least 1,000,000 renders per second on one core. The `floor` case is the
//! limit in the same run: it only clones the strings a notification is made of, which any
//! renderer has to do, so `render / floor` says how much the rules themselves cost.
//!
//! `group_text_3_elements_receive_rules` is the same message for a recipient with receive
//! rules (issue 17): 50 peer and 50 group options (none for this group), a global option and a
//! daily do-not-disturb window in Asia/Shanghai that does not hold at render time, so every rule
//! is checked and the push still renders.
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

fn with_rules(recipient: &Recipient) -> Recipient {
    let peers: Vec<String> = (0..50)
        .map(|i| format!(r#""u-{i}":"receive_not_notify""#))
        .collect();
    let groups: Vec<String> = (0..50)
        .map(|i| format!(r#""g-{i}":"notify_only_when_mentioned""#))
        .collect();
    let rules = format!(
        r#"{{"global":"receive","peers":{{{}}},"groups":{{{}}},
            "dnd":{{"daily":{{"start":"22:00","duration_secs":28800,"time_zone":"Asia/Shanghai"}}}}}}"#,
        peers.join(","),
        groups.join(",")
    );
    let mut ruled = recipient.clone();
    ruled.receive = pushway_core::json::from_str(&rules).expect("valid rules");
    // 2026-12-06T04:00:00Z = 12:00 in Shanghai: outside the window.
    ruled.now_ms = Some(1_796_529_600_000);
    assert!(
        render(&sample().0, &ruled)
            .expect("renders")
            .notification()
            .is_some()
    );
    ruled
}

fn bench(c: &mut Criterion) {
    let (message, recipient) = sample();
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    group.bench_function("group_text_3_elements", |b| {
        b.iter(|| render(black_box(&message), black_box(&recipient)))
    });
    let ruled = with_rules(&recipient);
    group.bench_function("group_text_3_elements_receive_rules", |b| {
        b.iter(|| render(black_box(&message), black_box(&ruled)))
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
