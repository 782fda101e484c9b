//! Legal server behaviours a client must take in its stride: the exact outcome of each
//! notification, and the send after it.

use crate::conformance::*;
use crate::h2script::*;

use Class::*;

/// `{"reason":"BadDeviceToken"}`, the 400 body the scenarios answer with.
const BAD_TOKEN: &[u8] = br#"{"reason":"BadDeviceToken"}"#;

/// A simple one-stream scenario whose script answers the request `r` on connection `c`.
macro_rules! one {
    ($name:literal, $expect:expr, |$c:ident, $r:ident| $answer:expr) => {
        Scenario {
            name: $name,
            goaway: None,
            settings: &[],
            sends: 1,
            big: false,
            script: script!(|$c| {
                let $r = $c.request().await?;
                $answer;
                Some($c)
            }),
            expect: &[$expect],
        }
    };
}

/// The stream limit starts at 1 and is raised while the others wait.
pub const SETTINGS_MID_FLIGHT: Scenario = Scenario {
    name: "SETTINGS changed mid-flight",
    goaway: None,
    settings: &[(MAX_CONCURRENT_STREAMS, 1)],
    sends: 3,
    big: false,
    script: script!(|c| {
        let r = c.request().await?;
        assert_eq!(r.stream, 1);
        c.settings(&[(MAX_CONCURRENT_STREAMS, 10), (MAX_FRAME_SIZE, 32_768)])
            .await;
        for r in c.requests(2).await {
            c.ok(r.stream).await;
        }
        c.ok(1).await;
        Some(c)
    }),
    expect: &[Answered(200), Answered(200), Answered(200)],
};

/// Windows of 16 bytes: the 3.5 KB bodies go out as the server opens them, 100 bytes at a
/// time.
pub const TINY_WINDOWS: Scenario = Scenario {
    name: "tiny windows",
    goaway: None,
    settings: &[(INITIAL_WINDOW_SIZE, 16)],
    sends: 2,
    big: true,
    script: script!(|c| {
        c.opened(&[1, 3]).await;
        for _ in 0..40 {
            c.window_update(1, 100).await;
            c.window_update(3, 100).await;
        }
        c.request_on(1).await?;
        c.request_on(3).await?;
        c.ok(3).await;
        c.ok(1).await;
        Some(c)
    }),
    expect: &[Answered(200), Answered(200)],
};

pub const CONTINUATION_FRAMES: Scenario = one!("CONTINUATION", Answered(200), |c, r| {
    let block = head(200, r.stream);
    c.send(HEADERS, END_STREAM, r.stream, &block[..3]).await;
    c.send(CONTINUATION, 0, r.stream, &block[3..8]).await;
    c.send(CONTINUATION, END_HEADERS, r.stream, &block[8..])
        .await
});

pub const PADDING: Scenario = one!("padding", Answered(400), |c, r| {
    let mut p = vec![10];
    p.extend(head(400, r.stream));
    p.extend([0; 10]);
    c.send(HEADERS, END_HEADERS | PADDED, r.stream, &p).await;
    let mut p = vec![255];
    p.extend(BAD_TOKEN);
    p.extend([0; 255]);
    c.send(DATA, END_STREAM | PADDED, r.stream, &p).await
});

pub const PRIORITY_FRAMES: Scenario = one!("PRIORITY", Answered(200), |c, r| {
    c.send(PRIORITY, 0, r.stream, &[0, 0, 0, 0, 16]).await;
    c.send(PRIORITY, 0, 9, &[0, 0, 0, 1, 16]).await;
    let mut p = vec![0x80, 0, 0, 0, 255];
    p.extend(head(200, r.stream));
    c.send(
        HEADERS,
        END_HEADERS | END_STREAM | PRIORITY_FLAG,
        r.stream,
        &p,
    )
    .await
});

pub const UNKNOWN_FRAMES: Scenario = one!("unknown frame types", Answered(200), |c, r| {
    c.send(0xfa, 0xff, 0, b"ignore me").await;
    c.send(0x0b, 0, r.stream, b"ignore me too").await;
    c.ok(r.stream).await
});

/// Dynamic-table size updates (to 0, then back to 4,096) before the first field, and the
/// table used across blocks.
pub const TABLE_SIZE_UPDATES: Scenario = Scenario {
    name: "dynamic-table size updates",
    goaway: None,
    settings: &[],
    sends: 2,
    big: false,
    script: script!(|c| {
        let rs = c.requests(2).await;
        let mut block = vec![0x20, 0x3f, 0xe1, 0x1f];
        int(&mut block, 4, 0x00, 8);
        string(&mut block, b"200");
        literal_indexed(
            &mut block,
            "apns-id",
            format!("id-{}", rs[0].stream).as_bytes(),
        );
        c.send(HEADERS, END_HEADERS | END_STREAM, rs[0].stream, &block)
            .await;
        let mut block = vec![0x88]; // :status 200 (static)
        literal(
            &mut block,
            "apns-id",
            format!("id-{}", rs[1].stream).as_bytes(),
        );
        c.send(HEADERS, END_HEADERS | END_STREAM, rs[1].stream, &block)
            .await;
        Some(c)
    }),
    expect: &[Answered(200), Answered(200)],
};

/// GOAWAY with last-stream-id 3: streams 1 and 3 are answered, 5 was not processed; the
/// client closes with GOAWAY NO_ERROR once 1 and 3 are done.
pub const GOAWAY_LAST_ID: Scenario = Scenario {
    name: "GOAWAY with a last-stream-id",
    goaway: None,
    settings: &[],
    sends: 3,
    big: false,
    script: script!(|c| {
        c.requests(3).await;
        c.goaway(3, NO_ERROR, b"bye").await;
        c.ok(1).await;
        c.ok(3).await;
        assert_eq!(c.goaway_from_client().await, Some((0, NO_ERROR)));
        c.close().await;
        None
    }),
    expect: &[Answered(200), Answered(200), Refused],
};

pub const RESET: Scenario = one!("RST_STREAM CANCEL", Failed, |c, r| {
    c.rst(r.stream, CANCEL).await
});

pub const ABRUPT_CLOSE: Scenario = Scenario {
    name: "abrupt close",
    goaway: None,
    settings: &[],
    sends: 1,
    big: false,
    script: script!(|c| {
        c.request().await?;
        c.close().await;
        None
    }),
    expect: &[Failed],
};

pub const INFORMATIONAL: Scenario = one!("1xx before the answer", Answered(200), |c, r| {
    c.send(HEADERS, END_HEADERS, r.stream, &head(100, r.stream))
        .await;
    c.send(HEADERS, END_HEADERS, r.stream, &head(103, r.stream))
        .await;
    c.ok(r.stream).await
});

pub const TRAILERS: Scenario = one!("trailers", Answered(400), |c, r| {
    c.send(HEADERS, END_HEADERS, r.stream, &head(400, r.stream))
        .await;
    c.send(DATA, 0, r.stream, BAD_TOKEN).await;
    let mut trailer = Vec::new();
    literal(&mut trailer, "x-trailer", b"1");
    c.send(HEADERS, END_HEADERS | END_STREAM, r.stream, &trailer)
        .await
});

pub const BODY_OVER_SEVERAL_DATA_FRAMES: Scenario =
    one!("a body over several DATA frames", Answered(400), |c, r| {
        c.send(HEADERS, END_HEADERS, r.stream, &head(400, r.stream))
            .await;
        c.send(DATA, 0, r.stream, &BAD_TOKEN[..5]).await;
        c.send(DATA, 0, r.stream, b"").await;
        c.send(DATA, 0, r.stream, &BAD_TOKEN[5..20]).await;
        c.send(DATA, END_STREAM, r.stream, &BAD_TOKEN[20..]).await
    });

/// PINGs among the answers, all acknowledged in order.
pub const PINGS: Scenario = one!("PINGs", Answered(200), |c, r| {
    for i in 0..100u64 {
        c.send(PING, 0, 0, &i.to_be_bytes()).await;
    }
    c.ok(r.stream).await
});

fn bad_token() -> pushway_core::Outcome {
    pushway_core::Outcome::InvalidToken {
        reason: pushway_core::Reason::new("BadDeviceToken"),
        since: None,
    }
}

/// A test that scenario `$s` gives `$outcomes` (and the next send works).
macro_rules! legal {
    ($test:ident, $s:expr, $outcomes:expr) => {
        #[tokio::test]
        async fn $test() {
            let run = check(&$s).await;
            assert_eq!(run.outcomes, $outcomes);
            assert_eq!(run.connections, 1, "the connection was kept");
        }
    };
}

legal!(
    settings_changed_mid_flight,
    SETTINGS_MID_FLIGHT,
    [delivered(1), delivered(3), delivered(5)]
);
legal!(tiny_windows, TINY_WINDOWS, [delivered(1), delivered(3)]);
legal!(continuation_frames, CONTINUATION_FRAMES, [delivered(1)]);
legal!(padding, PADDING, [bad_token()]);
legal!(priority_frames_and_fields, PRIORITY_FRAMES, [delivered(1)]);
legal!(
    unknown_frame_types_are_ignored,
    UNKNOWN_FRAMES,
    [delivered(1)]
);
legal!(
    dynamic_table_size_updates,
    TABLE_SIZE_UPDATES,
    [delivered(1), delivered(3)]
);
legal!(informational_answers_first, INFORMATIONAL, [delivered(1)]);
legal!(trailers, TRAILERS, [bad_token()]);
legal!(
    a_body_over_several_data_frames,
    BODY_OVER_SEVERAL_DATA_FRAMES,
    [bad_token()]
);
legal!(pings_among_the_answers, PINGS, [delivered(1)]);

#[tokio::test]
async fn goaway_with_a_last_stream_id_refuses_the_streams_above_and_the_close_is_clean() {
    let run = check(&GOAWAY_LAST_ID).await;
    assert_eq!(
        run.outcomes,
        [
            delivered(1),
            delivered(3),
            refused("GOAWAY (error code 0x0): bye")
        ]
    );
    assert_eq!(run.goaways, [NO_ERROR]);
    assert_eq!(run.connections, 2);
}

#[tokio::test]
async fn a_reset_stream_is_retry_and_keeps_the_connection() {
    let run = check(&RESET).await;
    assert_eq!(run.outcomes, [reset(CANCEL)]);
    assert_eq!(run.connections, 1);
}

#[tokio::test]
async fn an_abrupt_close_is_retry_and_the_slot_reconnects() {
    let run = check(&ABRUPT_CLOSE).await;
    assert_eq!(run.outcomes, [lost("the server closed the connection")]);
    assert_eq!(run.connections, 2);
}
