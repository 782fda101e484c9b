//! Servers that break RFC 9113, and stream errors that must stay stream errors: the exact
//! outcome of each notification, the client's GOAWAY code where the connection must end, and
//! the send after it.

use crate::conformance::*;
use crate::h2script::*;

use Class::*;

macro_rules! violation {
    ($name:literal, $code:expr, |$c:ident, $r:ident| $frames:expr) => {
        Scenario {
            name: $name,
            goaway: Some($code),
            settings: &[],
            sends: 1,
            big: false,
            script: script!(|$c| {
                let $r = $c.request().await?;
                $frames;
                $c.goaway_from_client().await?;
                $c.close().await;
                None
            }),
            expect: &[Failed],
        }
    };
}

pub const ENABLE_PUSH_FROM_SERVER: Scenario =
    violation!("SETTINGS_ENABLE_PUSH=1", PROTOCOL_ERROR, |c, _r| {
        c.settings(&[(ENABLE_PUSH, 1)]).await
    });

pub const DATA_ON_IDLE: Scenario = violation!("DATA on an idle stream", PROTOCOL_ERROR, |c, _r| {
    c.send(DATA, END_STREAM, 5, b"x").await
});

pub const HEADERS_ON_IDLE: Scenario =
    violation!("HEADERS on an idle stream", PROTOCOL_ERROR, |c, _r| {
        c.send(HEADERS, END_HEADERS | END_STREAM, 5, &head(200, 5))
            .await
    });

pub const RST_ON_ZERO: Scenario = violation!("RST_STREAM on stream 0", PROTOCOL_ERROR, |c, _r| {
    c.rst(0, CANCEL).await
});

pub const PING_ON_STREAM: Scenario = violation!("PING on a stream", PROTOCOL_ERROR, |c, r| {
    c.send(PING, 0, r.stream, b"12345678").await
});

pub const SETTINGS_ACK_WITH_PAYLOAD: Scenario =
    violation!("SETTINGS ACK with a payload", FRAME_SIZE_ERROR, |c, _r| {
        c.send(SETTINGS, ACK, 0, &[0, 4, 0, 0, 0, 1]).await
    });

/// The stream's window raised to 2^31-1 by WINDOW_UPDATE, then INITIAL_WINDOW_SIZE raised by
/// one: the open stream's window would pass the maximum.
pub const INITIAL_WINDOW_OVERFLOW: Scenario = violation!(
    "INITIAL_WINDOW_SIZE overflow",
    FLOW_CONTROL_ERROR,
    |c, r| {
        // The stream opened with 65,535 and sent its body.
        let window = 65_535 - r.body.len() as u32;
        c.window_update(r.stream, 0x7fff_ffff - window).await;
        c.settings(&[(INITIAL_WINDOW_SIZE, 65_536)]).await
    }
);

pub const PUSH_PROMISE_FRAME: Scenario =
    violation!("PUSH_PROMISE with push disabled", PROTOCOL_ERROR, |c, r| {
        let mut p = 2u32.to_be_bytes().to_vec();
        p.extend(head(200, 2));
        c.send(PUSH_PROMISE, END_HEADERS, r.stream, &p).await
    });

/// 101 does not exist in HTTP/2: that stream is malformed, the connection stays.
pub const STATUS_101: Scenario = Scenario {
    name: "101 Switching Protocols",
    goaway: None,
    settings: &[],
    sends: 1,
    big: false,
    script: script!(|c| {
        let r = c.request().await?;
        c.send(HEADERS, END_HEADERS, r.stream, &head(101, r.stream))
            .await;
        Some(c)
    }),
    expect: &[Failed],
};

/// A second header block (trailers) without END_STREAM: malformed, failed at once rather
/// than left to the timeout.
pub const TRAILERS_WITHOUT_END_STREAM: Scenario = Scenario {
    name: "trailers without END_STREAM",
    goaway: None,
    settings: &[],
    sends: 1,
    big: false,
    script: script!(|c| {
        let r = c.request().await?;
        c.send(HEADERS, END_HEADERS, r.stream, &head(200, r.stream))
            .await;
        let mut trailer = Vec::new();
        literal(&mut trailer, "x-trailer", b"1");
        c.send(HEADERS, END_HEADERS, r.stream, &trailer).await;
        Some(c)
    }),
    expect: &[Failed],
};

/// REFUSED_STREAM: not processed, and the connection stays in use.
pub const REFUSED: Scenario = Scenario {
    name: "RST_STREAM REFUSED_STREAM",
    goaway: None,
    settings: &[],
    sends: 1,
    big: false,
    script: script!(|c| {
        let r = c.request().await?;
        c.rst(r.stream, REFUSED_STREAM).await;
        Some(c)
    }),
    expect: &[Refused],
};

/// A test that scenario `$s` ends the connection with its GOAWAY code, the notification
/// lost with `$why`, and that the slot reconnects.
macro_rules! connection_error {
    ($test:ident, $s:expr, $why:literal) => {
        #[tokio::test]
        async fn $test() {
            let run = check(&$s).await;
            assert_eq!(run.outcomes, [protocol_error($why)]);
            assert_eq!(run.goaways, [$s.goaway.unwrap()]);
            assert_eq!(run.connections, 2, "the slot reconnected");
        }
    };
}

connection_error!(
    enable_push_from_a_server_is_protocol_error,
    ENABLE_PUSH_FROM_SERVER,
    "SETTINGS_ENABLE_PUSH from a server"
);
connection_error!(
    data_on_an_idle_stream_is_protocol_error,
    DATA_ON_IDLE,
    "DATA on an idle stream"
);
connection_error!(
    headers_on_an_idle_stream_is_protocol_error,
    HEADERS_ON_IDLE,
    "HEADERS on an idle stream"
);
connection_error!(
    rst_stream_on_stream_0_is_protocol_error,
    RST_ON_ZERO,
    "RST_STREAM on stream 0"
);
connection_error!(
    ping_on_a_stream_is_protocol_error,
    PING_ON_STREAM,
    "PING on a stream"
);
connection_error!(
    settings_ack_with_a_payload_is_frame_size_error,
    SETTINGS_ACK_WITH_PAYLOAD,
    "SETTINGS ACK with a payload"
);
connection_error!(
    an_initial_window_change_overflowing_a_stream_is_flow_control_error,
    INITIAL_WINDOW_OVERFLOW,
    "initial window change overflows a stream window"
);
connection_error!(
    push_promise_is_protocol_error,
    PUSH_PROMISE_FRAME,
    "PUSH_PROMISE with push disabled"
);

#[tokio::test]
async fn a_101_is_a_malformed_answer_and_the_connection_stays() {
    let run = check(&STATUS_101).await;
    assert_eq!(run.outcomes, [malformed("101 in HTTP/2")]);
    assert_eq!(run.connections, 1);
}

#[tokio::test]
async fn trailers_without_end_stream_fail_the_stream_at_once() {
    let run = check(&TRAILERS_WITHOUT_END_STREAM).await;
    assert_eq!(run.outcomes, [malformed("trailers without END_STREAM")]);
    assert_eq!(run.connections, 1);
}

#[tokio::test]
async fn refused_stream_is_not_processed_and_keeps_the_connection() {
    let run = check(&REFUSED).await;
    assert_eq!(run.outcomes, [refused("REFUSED_STREAM")]);
    assert_eq!(
        run.connections, 1,
        "one stream's error keeps the connection"
    );
}
