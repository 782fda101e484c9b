//! The conformance scenarios through the `h2` crate's client, set up as ours is (push off, a
//! 64 KB header list limit, a 1 MB window), compared by class per notification: answered with
//! status X, not processed, or failed. Where the two differ on purpose, the difference is
//! listed with its reason in [`INTENDED`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use crate::conformance::*;
use crate::h2script::*;
use crate::{legal, violations};

/// Every scenario, by name.
fn all() -> Vec<&'static Scenario> {
    vec![
        &MANY_FIELDS,
        &DYNAMIC_BOMB,
        &HOL_WINDOW_UPDATE,
        &HOL_RESET,
        &violations::ENABLE_PUSH_FROM_SERVER,
        &violations::DATA_ON_IDLE,
        &violations::HEADERS_ON_IDLE,
        &violations::RST_ON_ZERO,
        &violations::PING_ON_STREAM,
        &violations::SETTINGS_ACK_WITH_PAYLOAD,
        &violations::INITIAL_WINDOW_OVERFLOW,
        &violations::PUSH_PROMISE_FRAME,
        &violations::STATUS_101,
        &violations::TRAILERS_WITHOUT_END_STREAM,
        &violations::REFUSED,
        &legal::SETTINGS_MID_FLIGHT,
        &legal::TINY_WINDOWS,
        &legal::CONTINUATION_FRAMES,
        &legal::PADDING,
        &legal::PRIORITY_FRAMES,
        &legal::UNKNOWN_FRAMES,
        &legal::TABLE_SIZE_UPDATES,
        &legal::GOAWAY_LAST_ID,
        &legal::RESET,
        &legal::ABRUPT_CLOSE,
        &legal::INFORMATIONAL,
        &legal::TRAILERS,
        &legal::BODY_OVER_SEVERAL_DATA_FRAMES,
        &legal::PINGS,
    ]
}

/// Scenarios where `h2` 0.4 differs from us on purpose: (name, what h2 does — None when
/// the script waited in vain for h2's GOAWAY —, why).
const INTENDED: &[(&str, Option<Theirs<'static>>, &str)] = &[
    (
        "dynamic-table entry referenced 14,000 times",
        Some((&[Class::Failed, Class::Failed], None)),
        "h2 ends the connection (ENHANCE_YOUR_CALM) when a block decodes to over twice its \
         header list limit; we decode such a block to its end without keeping anything (the \
         cost is bounded by its encoded size) and fail that stream only, so the streams the \
         server processed keep their answers",
    ),
    (
        "SETTINGS_ENABLE_PUSH=1",
        None,
        "h2 accepts a server's SETTINGS_ENABLE_PUSH=1 (RFC 7540 allowed it); RFC 9113 §6.5.2 \
         makes it a connection error of type PROTOCOL_ERROR",
    ),
    (
        "SETTINGS ACK with a payload",
        Some((&[Class::Failed], Some(PROTOCOL_ERROR))),
        "h2 sends PROTOCOL_ERROR; RFC 9113 §6.5 asks for FRAME_SIZE_ERROR",
    ),
    (
        "INITIAL_WINDOW_SIZE overflow",
        None,
        "h2 skips the windows of streams whose sending side is closed (the stream here sent its \
         whole body) when it applies an INITIAL_WINDOW_SIZE change, so it sees no overflow; \
         RFC 9113 §6.9.2 makes a change that takes any window past 2^31-1 a FLOW_CONTROL_ERROR",
    ),
];

/// One notification through `h2`: POST with `body`, the answer read to its end.
async fn one(client: h2::client::SendRequest<Bytes>, body: Bytes) -> Class {
    let Ok(mut client) = client.ready().await else {
        return Class::Failed;
    };
    let request = http::Request::post("http://apns.test/3/device/x")
        .body(())
        .unwrap();
    let Ok((response, mut stream)) = client.send_request(request, false) else {
        return Class::Failed;
    };
    if stream.send_data(body, true).is_err() {
        return Class::Failed;
    }
    let response = match response.await {
        Ok(r) => r,
        Err(e) => return error_class(&e),
    };
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        match chunk {
            Ok(c) => {
                let _ = body.flow_control().release_capacity(c.len());
            }
            Err(e) => return error_class(&e),
        }
    }
    match body.trailers().await {
        Ok(_) => Class::Answered(status),
        Err(e) => error_class(&e),
    }
}

/// Not processed: REFUSED_STREAM, or the server's GOAWAY cut the stream (above its
/// last-stream-id; `h2` fails the streams at or below it as "connection lost" otherwise).
fn error_class(e: &h2::Error) -> Class {
    if e.reason() == Some(h2::Reason::REFUSED_STREAM) && e.is_remote()
        || e.is_go_away() && e.is_remote()
    {
        Class::Refused
    } else {
        Class::Failed
    }
}

/// What `h2` made of a scenario: the classes, and the code of its first GOAWAY when the
/// scenario draws one from us.
type Theirs<'a> = (&'a [Class], Option<u32>);

/// Runs `s` through `h2`; None if the script did not finish (a behaviour `h2` does not
/// share with ours, shown as a difference).
async fn theirs(s: &Scenario) -> Option<(Vec<Class>, Option<u32>)> {
    let server = Arc::new(Server::start().await);
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let play = async {
        let conn = server.accept(s.settings).await;
        let conn = tokio::time::timeout(Duration::from_secs(3), (s.script)(conn))
            .await
            .ok()?;
        if let Some(conn) = conn {
            tokio::spawn(conn.serve());
        }
        Some(())
    };
    let sends = async {
        let (client, connection) = h2::client::Builder::new()
            .enable_push(false)
            .max_header_list_size(64 * 1024)
            .initial_window_size(1 << 20)
            .handshake::<_, Bytes>(tcp)
            .await
            .unwrap();
        tokio::spawn(connection);
        let body = Bytes::from(vec![b'x'; if s.big { 3600 } else { 300 }]);
        // Opened in order (stream 2i + 1), answered in any order.
        let mut answers = Vec::new();
        for _ in 0..s.sends {
            answers.push(tokio::spawn(one(client.clone(), body.clone())));
            tokio::task::yield_now().await;
        }
        let mut classes = Vec::new();
        for a in answers {
            classes.push(
                tokio::time::timeout(Duration::from_secs(10), a)
                    .await
                    .map_or(Class::Failed, Result::unwrap),
            );
        }
        classes
    };
    let (classes, played) = tokio::join!(sends, play);
    let goaway = s.goaway.and(server.goaways().first().copied());
    played.map(|()| (classes, goaway))
}

#[tokio::test]
async fn h2_gives_the_same_class_of_outcome_per_notification() {
    let mut differences = Vec::new();
    for s in all() {
        let got = theirs(s).await;
        let intended = INTENDED.iter().find(|(name, ..)| *name == s.name);
        match (got, intended) {
            (Some((classes, goaway)), None) if classes == s.expect && goaway == s.goaway => {}
            (got, Some((_, intended, _)))
                if got == intended.map(|(classes, goaway)| (classes.to_vec(), goaway)) => {}
            (got, _) => differences.push(format!(
                "{}: ours {:?} {:?}, h2 {:?}",
                s.name, s.expect, s.goaway, got
            )),
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
}
