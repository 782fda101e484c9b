//! The HTTP/2 client side against a scripted raw-frame server ([`crate::h2script`]): one
//! scenario per server behaviour, legal or not, with the exact outcome of every notification
//! and, after it, a send that must work (the slot reconnects, or the connection was kept).
//! The same scenarios run through the `h2` crate in [`crate::differential`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use pushway_apns::ApnsProvider;
use pushway_core::{Outcome, Reason};

use crate::h2script::*;
use crate::*;

/// What a notification's outcome says of the stream, comparable between clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The server answered with this status.
    Answered(u16),
    /// The server did not process it (REFUSED_STREAM, above a GOAWAY's last-stream-id).
    Refused,
    /// No answer: reset, lost, malformed, timed out.
    Failed,
}

pub type Script = fn(Conn) -> BoxFuture<'static, Option<Conn>>;

/// One server behaviour.
pub struct Scenario {
    pub name: &'static str,
    /// The error code of the GOAWAY the client must send (a connection error).
    pub goaway: Option<u32>,
    /// The server's first SETTINGS.
    pub settings: &'static [(u16, u32)],
    /// Notifications sent at once (in order: notification `i` is stream `2i + 1`).
    pub sends: usize,
    /// Bodies of about 3.5 KB instead of a few hundred bytes.
    pub big: bool,
    /// Plays the first connection; Some = keep serving it (every request answered 200).
    pub script: Script,
    /// The class of each notification's outcome.
    pub expect: &'static [Class],
}

/// What pushway's provider made of a scenario.
pub struct Run {
    pub outcomes: Vec<Outcome>,
    /// The send after the scenario.
    pub next: Outcome,
    /// Connections the server accepted, the one of the next send included.
    pub connections: usize,
    /// The codes of the client's GOAWAY frames.
    pub goaways: Vec<u32>,
}

/// The notification number `i`, about 3.5 KB of alert when `big`.
pub fn notification(big: bool) -> Notification {
    let mut n = c2c();
    if big {
        n.body = "x".repeat(3500);
    }
    n
}

pub fn provider(server: &Server) -> ApnsProvider {
    let key = pushway_mock::apns::TestKey::generate();
    ApnsProvider::builder()
        .key_pem(key.private_key_pem().as_bytes().to_vec())
        .key_id(KID)
        .team_id(TEAM)
        .topic(TOPIC)
        .base_url(server.url())
        .insecure_h2c(true)
        .connections(1)
        .keep_alive(None)
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Runs `s` through pushway's provider: the notifications at once against the script, then
/// one more send.
pub async fn ours(s: &Scenario) -> Run {
    let server = Arc::new(Server::start().await);
    let provider = provider(&server);
    let n = notification(s.big);
    let tokens: Vec<DeviceToken> = (0..s.sends).map(|i| device(&token(i))).collect();
    let sends = futures_util::future::join_all(tokens.iter().map(|t| provider.send_one(&n, t)));
    let play = async {
        let conn = server.accept(s.settings).await;
        // A guard only: a script waiting for what never comes fails the test here.
        let conn = tokio::time::timeout(Duration::from_secs(20), (s.script)(conn))
            .await
            .unwrap_or_else(|_| panic!("{}: the script did not finish", s.name));
        if let Some(conn) = conn {
            tokio::spawn(conn.serve());
        }
    };
    let (outcomes, ()) = tokio::join!(sends, play);
    server.serve_next();
    let next = provider.send_one(&n, &device(&token(99))).await;
    Run {
        outcomes,
        next,
        connections: server.accepted(),
        goaways: server.goaways(),
    }
}

/// The class of one of pushway's outcomes.
pub fn class(o: &Outcome) -> Class {
    match o {
        Outcome::Delivered { .. } => Class::Answered(200),
        Outcome::Retry { reason, .. } if reason.code() == Reason::NOT_PROCESSED => Class::Refused,
        Outcome::Retry { .. } => Class::Failed,
        Outcome::InvalidToken { .. } => Class::Answered(400),
        other => panic!("unexpected outcome {other:?}"),
    }
}

pub fn delivered(stream: u32) -> Outcome {
    Outcome::Delivered {
        vendor_id: Some(format!("id-{stream}")),
    }
}

fn connection(detail: String) -> Outcome {
    Outcome::retry(Reason::new(Reason::CONNECTION).with_detail(detail))
}

/// The connection ended by our GOAWAY for the server's protocol error `why`.
pub fn protocol_error(why: &str) -> Outcome {
    connection(format!(
        "connection lost: protocol error from the server: {why}"
    ))
}

pub fn lost(why: &str) -> Outcome {
    connection(format!("connection lost: {why}"))
}

pub fn malformed(why: &str) -> Outcome {
    connection(format!("malformed response: {why}"))
}

pub fn reset(code: u32) -> Outcome {
    connection(format!("stream reset by the server: error code {code:#x}"))
}

pub fn refused(why: &str) -> Outcome {
    Outcome::retry(Reason::new(Reason::NOT_PROCESSED).with_detail(why))
}

/// Runs `s` through pushway and checks the classes, the next send, and returns the run.
pub async fn check(s: &Scenario) -> Run {
    let run = ours(s).await;
    let classes: Vec<Class> = run.outcomes.iter().map(class).collect();
    assert_eq!(classes, s.expect, "{}: {:?}", s.name, run.outcomes);
    assert!(
        run.next.is_delivered(),
        "{}: next send {:?}",
        s.name,
        run.next
    );
    if let Some(code) = s.goaway {
        assert_eq!(run.goaways.first(), Some(&code), "{}: GOAWAY code", s.name);
    }
    run
}

/// A [`Script`] from a block that plays connection `c` and returns it (to keep serving it)
/// or None (closed).
macro_rules! script {
    (|$c:ident| $body:expr) => {{
        fn play(
            mut $c: crate::h2script::Conn,
        ) -> futures_util::future::BoxFuture<'static, Option<crate::h2script::Conn>> {
            Box::pin(async move { $body })
        }
        play as crate::conformance::Script
    }};
}

use Class::*;

// ---- Point 1: a panic in the connection task; point 2: decoded size. ----

/// 25,000 one-byte fields (static `age`) over CONTINUATION frames: 875 KB decoded. Used to
/// panic in `HeaderMap::reserve` and leave a dead slot; now over the 64 KB list limit, so this
/// stream fails and the connection stays.
pub const MANY_FIELDS: Scenario = Scenario {
    name: "many one-byte header fields",
    goaway: None,
    settings: &[],
    sends: 1,
    big: false,
    script: script!(|c| {
        let r = c.request().await?;
        let mut block = head(200, r.stream);
        block.extend(std::iter::repeat_n(0x80 | 21, 25_000));
        let (first, rest) = block.split_at(10_000);
        c.send(HEADERS, 0, r.stream, first).await;
        let (second, third) = rest.split_at(10_000);
        c.send(CONTINUATION, 0, r.stream, second).await;
        c.send(CONTINUATION, END_HEADERS | END_STREAM, r.stream, third)
            .await;
        Some(c)
    }),
    expect: &[Failed],
};

/// A 4,000-byte dynamic-table entry referenced 14,000 times: 56 MB decoded from 18 KB. The
/// stream fails; the next answer refers to the entry, so the table stayed in step.
pub const DYNAMIC_BOMB: Scenario = Scenario {
    name: "dynamic-table entry referenced 14,000 times",
    goaway: None,
    settings: &[],
    sends: 2,
    big: false,
    script: script!(|c| {
        let rs = c.requests(2).await;
        let mut block = Vec::new();
        literal_indexed(&mut block, "x-big", &[b'v'; 4000]);
        block.extend(head(200, rs[0].stream));
        block.extend(std::iter::repeat_n(0xbe, 14_000));
        let (first, rest) = block.split_at(16_000);
        c.send(HEADERS, END_STREAM, rs[0].stream, first).await;
        c.send(CONTINUATION, END_HEADERS, rs[0].stream, rest).await;
        let mut block = head(200, rs[1].stream);
        block.push(0xbe);
        c.send(HEADERS, END_HEADERS | END_STREAM, rs[1].stream, &block)
            .await;
        Some(c)
    }),
    expect: &[Failed, Answered(200)],
};

#[tokio::test]
async fn a_response_of_25000_header_fields_fails_its_stream_not_the_slot() {
    let run = check(&MANY_FIELDS).await;
    assert_eq!(
        run.outcomes,
        [malformed(
            "response header list over SETTINGS_MAX_HEADER_LIST_SIZE"
        )]
    );
    assert_eq!(run.connections, 1, "the connection was kept");
}

#[tokio::test]
async fn a_dynamic_table_entry_referenced_thousands_of_times_is_bounded() {
    let run = check(&DYNAMIC_BOMB).await;
    assert_eq!(
        run.outcomes,
        [
            malformed("response header list over SETTINGS_MAX_HEADER_LIST_SIZE"),
            delivered(3)
        ]
    );
    assert_eq!(run.connections, 1);
}

// ---- Point 4: head-of-line blocking in flow control. ----
//
// The first stream goes out whole (it is written before the server's SETTINGS arrive); the
// next two open with windows of 1,024 bytes and 3.5 KB bodies.

/// A WINDOW_UPDATE for the third stream sends its body although the second has no window.
pub const HOL_WINDOW_UPDATE: Scenario = Scenario {
    name: "WINDOW_UPDATE for the second blocked stream",
    goaway: None,
    settings: &[(INITIAL_WINDOW_SIZE, 1024)],
    sends: 3,
    big: true,
    script: script!(|c| {
        c.opened(&[1, 3, 5]).await;
        c.window_update(5, 8192).await;
        c.request_on(5).await?;
        c.ok(5).await;
        c.window_update(3, 8192).await;
        c.request_on(3).await?;
        c.ok(3).await;
        c.window_update(1, 8192).await;
        c.request_on(1).await?;
        c.ok(1).await;
        Some(c)
    }),
    expect: &[Answered(200), Answered(200), Answered(200)],
};

/// The same, and the stream without window reset by the server.
pub const HOL_RESET: Scenario = Scenario {
    name: "reset of the first blocked stream",
    goaway: None,
    settings: &[(INITIAL_WINDOW_SIZE, 1024)],
    sends: 3,
    big: true,
    script: script!(|c| {
        c.opened(&[1, 3, 5]).await;
        c.window_update(5, 8192).await;
        c.rst(3, CANCEL).await;
        c.request_on(5).await?;
        c.ok(5).await;
        c.window_update(1, 8192).await;
        c.request_on(1).await?;
        c.ok(1).await;
        Some(c)
    }),
    expect: &[Answered(200), Failed, Answered(200)],
};

#[tokio::test]
async fn a_stream_without_window_does_not_block_the_next_one() {
    let run = check(&HOL_WINDOW_UPDATE).await;
    assert_eq!(run.outcomes, [delivered(1), delivered(3), delivered(5)]);
    let run = check(&HOL_RESET).await;
    assert_eq!(run.outcomes, [delivered(1), reset(CANCEL), delivered(5)]);
    assert_eq!(run.connections, 1, "a reset stream keeps the connection");
}
