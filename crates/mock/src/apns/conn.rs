//! One HTTP/2 connection of the simulator: reads requests, runs the checks, answers, records.
//!
//! Everything runs in the connection's task — stream bodies are polled beside the connection
//! instead of in a task per stream — so a request costs no task spawn and no cross-thread wake-up.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{FuturesUnordered, Stream};
use h2::server::{Connection, SendResponse};
use h2::{Reason, RecvStream};
use http::{HeaderName, HeaderValue, Response, StatusCode, Version, request};
use tokio::io::{AsyncRead, AsyncWrite};

use super::ApnsEnvironment;
use super::checks::{self, ConnAuth};
use super::log::{ApnsOutcome, ApnsRequest};
use super::reason::ApnsReason;
use super::script::{ApnsFault, GoAway, Shared, State};
use super::tap::{Tap, TapControl};
use crate::RecordedRequest;

static APNS_ID: HeaderName = HeaderName::from_static("apns-id");
static APNS_UNIQUE_ID: HeaderName = HeaderName::from_static("apns-unique-id");
static JSON: HeaderValue = HeaderValue::from_static("application/json");
/// Body bytes kept per request; the rest is only counted (all we need is "over 5120").
const BODY_KEEP: usize = 64 * 1024;
/// How long a connection lingers after our GOAWAY for the answered streams to be flushed.
const GOAWAY_GRACE: Duration = Duration::from_secs(2);

/// Connection settings fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct ConnConfig {
    pub max_concurrent_streams: u32,
    /// Advertise 1 stream until the first 200, then `max_concurrent_streams` (§2.1, [A1]).
    pub token_start: bool,
    /// Advertise 1 stream after a rejected push, back to `max_concurrent_streams` after an
    /// accepted one (§4 *Penalties*, observed in pushy issue #476).
    pub reject_penalty: bool,
}

type Delayed = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// Serves one connection until it closes.
pub(crate) async fn serve<T>(io: T, shared: Arc<Shared>, config: Arc<ConnConfig>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let id = shared
        .next_connection
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let control = Arc::new(TapControl::default());
    let tap = Tap::new(io, control.clone(), config.token_start.then_some(1));
    let mut builder = h2::server::Builder::new();
    // The SETTINGS APNs was observed to send (§5), in h2's order.
    builder
        .header_table_size(4096)
        .max_concurrent_streams(config.max_concurrent_streams)
        .initial_window_size(65_535)
        .max_frame_size(16_384)
        .max_header_list_size(8000);
    let Ok(mut conn) = builder.handshake::<_, Bytes>(tap).await else {
        return;
    };
    let version = shared.version();
    let mut c = Conn {
        id,
        state: shared.snapshot(),
        version,
        shared,
        control,
        auth: ConnAuth::default(),
        advertised: if config.token_start {
            1
        } else {
            config.max_concurrent_streams
        },
        config,
        active: 0,
        handled: 0,
        goaway_last: None,
        close_at: None,
        ids: IdGen::new(id),
    };
    c.run(&mut conn).await;
}

struct Conn {
    id: u64,
    shared: Arc<Shared>,
    state: Arc<State>,
    version: u64,
    config: Arc<ConnConfig>,
    control: Arc<TapControl>,
    auth: ConnAuth,
    advertised: u32,
    /// Streams accepted and not yet answered.
    active: u32,
    /// Requests handled (answered or faulted) on this connection.
    handled: u64,
    /// Last stream id of the GOAWAY we sent.
    goaway_last: Option<u32>,
    /// After our GOAWAY: when to close even if the client never answers h2's PING.
    close_at: Option<Pin<Box<tokio::time::Sleep>>>,
    ids: IdGen,
}

enum Event {
    Stream(Completed),
    Answer(Answer),
    Closed,
}

impl Conn {
    async fn run<T: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut Connection<T, Bytes>) {
        let mut bodies: FuturesUnordered<BodyRead> = FuturesUnordered::new();
        let mut delayed: FuturesUnordered<Delayed> = FuturesUnordered::new();
        loop {
            let event =
                std::future::poll_fn(|cx| next_event(cx, conn, &mut bodies, &mut delayed, self))
                    .await;
            match event {
                Event::Closed if self.close_at.is_some() => return,
                Event::Closed => break,
                Event::Answer(answer) => self.send(answer),
                Event::Stream(done) => {
                    if self.handle(done, conn, &mut delayed).is_break() {
                        return;
                    }
                }
            }
        }
        let closed = std::future::poll_fn(|cx| conn.poll_closed(cx));
        let _ = tokio::time::timeout(Duration::from_secs(5), closed).await;
    }

    /// A new stream: refused, or its body is read (synchronously when it has arrived already).
    fn accept(
        &mut self,
        req: http::Request<RecvStream>,
        mut respond: SendResponse<Bytes>,
        cx: &mut Context<'_>,
        bodies: &mut FuturesUnordered<BodyRead>,
    ) -> Option<Completed> {
        let stream_id = u32::from(respond.stream_id());
        let over_limit = self.active >= self.advertised;
        let after_goaway = self.goaway_last.is_some_and(|last| stream_id > last);
        let (parts, body) = req.into_parts();
        if over_limit || after_goaway {
            respond.send_reset(Reason::REFUSED_STREAM);
            self.record_with_jwt(&parts, Bytes::new(), stream_id, None, ApnsOutcome::Refused);
            return None;
        }
        self.active += 1;
        let mut read = BodyRead {
            parts: Some(parts),
            body,
            first: Bytes::new(),
            more: None,
            len: 0,
            respond: Some(respond),
            stream_id,
        };
        match Pin::new(&mut read).poll(cx) {
            Poll::Ready(done) => Some(done),
            Poll::Pending => {
                bodies.push(read);
                None
            }
        }
    }

    fn handle<T: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        done: Completed,
        conn: &mut Connection<T, Bytes>,
        delayed: &mut FuturesUnordered<Delayed>,
    ) -> std::ops::ControlFlow<()> {
        let Completed {
            parts,
            body,
            body_len,
            mut respond,
            stream_id,
        } = done;
        self.handled += 1;
        let version = self.shared.version();
        if version != self.version {
            self.state = self.shared.snapshot();
            self.version = version;
        }
        let now_ms = self.shared.now_ms();
        let verdict = checks::check(
            &parts,
            body_len,
            &mut self.auth,
            &self.state,
            &self.shared,
            version,
            now_ms,
        );
        let token = checks::device_token(parts.uri.path());
        let decision = self
            .shared
            .faults
            .decide(|t| token.is_some_and(|own| own.eq_ignore_ascii_case(t)));
        let mut reason = verdict.reason;
        let mut timestamp_ms = verdict.timestamp_ms;
        let mut goaway = None;
        match decision.action {
            Some(ApnsFault::RefusedStream) => {
                respond.send_reset(Reason::REFUSED_STREAM);
                self.active = self.active.saturating_sub(1);
                self.record_with_jwt(&parts, body, stream_id, verdict.jwt, ApnsOutcome::Refused);
                return std::ops::ControlFlow::Continue(());
            }
            Some(ApnsFault::DropConnection) => {
                self.record_with_jwt(&parts, body, stream_id, verdict.jwt, ApnsOutcome::Dropped);
                return std::ops::ControlFlow::Break(());
            }
            Some(ApnsFault::GoAway(g)) => goaway = Some(g),
            Some(ApnsFault::Reason(r)) if reason.is_none() => {
                reason = Some(r);
                timestamp_ms = u64::try_from(now_ms).unwrap_or(0);
            }
            _ => {}
        }
        if let Some((n, g)) = &self.state.goaway_after
            && self.handled == *n
            && goaway.is_none()
        {
            goaway = Some(g.clone());
        }
        let apns_id = match parts.headers.get(&APNS_ID) {
            Some(v) if reason != Some(ApnsReason::BadMessageId) => v.clone(),
            _ => self.ids.next_header(),
        };
        let unique_id = (self.state.opts.environment == ApnsEnvironment::Development)
            .then(|| self.ids.next_header());
        let status = reason.map_or(200, ApnsReason::status);
        let outcome = ApnsOutcome::Answered {
            status,
            reason,
            apns_id: apns_id.to_str().unwrap_or_default().to_owned(),
        };
        self.record_with_jwt(&parts, body, stream_id, verdict.jwt, outcome);
        let answer = Answer {
            respond,
            status,
            apns_id,
            unique_id,
            body: reason.map(|r| r.body(timestamp_ms)),
        };
        if decision.delay.is_zero() {
            self.send(answer);
        } else {
            let delay = decision.delay;
            delayed.push(Box::pin(async move {
                tokio::time::sleep(delay).await;
                answer
            }));
        }
        if let Some(g) = goaway {
            self.send_goaway(stream_id, &g, conn);
        }
        std::ops::ControlFlow::Continue(())
    }

    /// Sends an answer; in "token start" mode the first 200 raises the stream limit.
    fn send(&mut self, answer: Answer) {
        self.active = self.active.saturating_sub(1);
        let status = answer.status;
        answer.send();
        let max = self.config.max_concurrent_streams;
        let limited = self.config.token_start || self.config.reject_penalty;
        if status == 200 && limited && self.advertised == 1 && max != 1 {
            self.advertised = max;
            self.control.advertise_max_streams(max);
        } else if (400..500).contains(&status) && self.config.reject_penalty && self.advertised != 1
        {
            self.advertised = 1;
            self.control.advertise_max_streams(1);
        }
    }

    fn send_goaway<T: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        last: u32,
        g: &GoAway,
        conn: &mut Connection<T, Bytes>,
    ) {
        if self.goaway_last.is_some() {
            return;
        }
        self.goaway_last = Some(last);
        self.control.goaway(last, g.error_code, &g.debug_data);
        self.close_at = Some(Box::pin(tokio::time::sleep(GOAWAY_GRACE)));
        // h2 then closes once the answered streams are flushed; its own GOAWAYs are dropped.
        conn.graceful_shutdown();
    }

    fn record_with_jwt(
        &self,
        parts: &request::Parts,
        body: Bytes,
        stream_id: u32,
        jwt: Option<Arc<super::jwt::DecodedJwt>>,
        outcome: ApnsOutcome,
    ) {
        self.shared.log.record_with(|| ApnsRequest {
            request: RecordedRequest {
                method: parts.method.clone(),
                path: parts
                    .uri
                    .path_and_query()
                    .map_or_else(String::new, |p| p.as_str().to_owned()),
                version: Version::HTTP_2,
                headers: parts.headers.clone(),
                body,
            },
            connection_id: self.id,
            stream_id,
            device_token: checks::device_token(parts.uri.path()).map(str::to_owned),
            jwt,
            binding: self.auth.binding(),
            outcome,
        });
    }
}

fn next_event<T: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    conn: &mut Connection<T, Bytes>,
    bodies: &mut FuturesUnordered<BodyRead>,
    delayed: &mut FuturesUnordered<Delayed>,
    c: &mut Conn,
) -> Poll<Event> {
    loop {
        match conn.poll_accept(cx) {
            Poll::Ready(Some(Ok((req, respond)))) => {
                if let Some(done) = c.accept(req, respond, cx, bodies) {
                    return Poll::Ready(Event::Stream(done));
                }
            }
            Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(Event::Closed),
            Poll::Pending => break,
        }
    }
    if let Poll::Ready(Some(done)) = Pin::new(&mut *bodies).poll_next(cx) {
        return Poll::Ready(Event::Stream(done));
    }
    if let Poll::Ready(Some(answer)) = Pin::new(&mut *delayed).poll_next(cx) {
        return Poll::Ready(Event::Answer(answer));
    }
    if let Some(deadline) = &mut c.close_at
        && deadline.as_mut().poll(cx).is_ready()
    {
        return Poll::Ready(Event::Closed);
    }
    Poll::Pending
}

/// A response ready to go.
struct Answer {
    respond: SendResponse<Bytes>,
    status: u16,
    apns_id: HeaderValue,
    unique_id: Option<HeaderValue>,
    body: Option<Bytes>,
}

impl Answer {
    /// Success: HEADERS only. Error: HEADERS with `content-type`, then one DATA frame (§8.3).
    fn send(mut self) {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let headers = response.headers_mut();
        headers.insert(APNS_ID.clone(), self.apns_id);
        if let Some(u) = self.unique_id {
            headers.insert(APNS_UNIQUE_ID.clone(), u);
        }
        match self.body {
            None => {
                let _ = self.respond.send_response(response, true);
            }
            Some(body) => {
                headers.insert(http::header::CONTENT_TYPE, JSON.clone());
                if let Ok(mut stream) = self.respond.send_response(response, false) {
                    let _ = stream.send_data(body, true);
                }
            }
        }
    }
}

/// A request whose body has been read.
struct Completed {
    parts: request::Parts,
    /// The body, cut at 64 KiB.
    body: Bytes,
    /// The body's full length.
    body_len: usize,
    respond: SendResponse<Bytes>,
    stream_id: u32,
}

/// Reads a request body to its end (zero-copy when it came in one DATA frame).
struct BodyRead {
    parts: Option<request::Parts>,
    body: RecvStream,
    first: Bytes,
    more: Option<BytesMut>,
    len: usize,
    respond: Option<SendResponse<Bytes>>,
    stream_id: u32,
}

impl Future for BodyRead {
    type Output = Completed;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completed> {
        let this = &mut *self;
        while !this.body.is_end_stream() {
            match this.body.poll_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None | Some(Err(_))) => break,
                Poll::Ready(Some(Ok(chunk))) => {
                    let _ = this.body.flow_control().release_capacity(chunk.len());
                    this.len += chunk.len();
                    if this.first.is_empty() && this.more.is_none() {
                        this.first = chunk;
                    } else if this.len <= BODY_KEEP {
                        let more = this.more.get_or_insert_with(|| {
                            let mut b = BytesMut::with_capacity(this.first.len() + chunk.len());
                            b.extend_from_slice(&this.first);
                            b
                        });
                        more.extend_from_slice(&chunk);
                    }
                }
            }
        }
        let body = match this.more.take() {
            Some(b) => b.freeze(),
            None => std::mem::take(&mut this.first),
        };
        Poll::Ready(Completed {
            parts: this.parts.take().expect("a BodyRead completes once"),
            body,
            body_len: this.len,
            respond: this.respond.take().expect("a BodyRead completes once"),
            stream_id: this.stream_id,
        })
    }
}

/// Fast ids for generated `apns-id` / `apns-unique-id`: random v4 UUIDs from a per-connection
/// SplitMix64 seeded once from the system RNG, written in upper case (as APNs was seen to, §8.3).
struct IdGen(u64);

impl IdGen {
    fn new(connection: u64) -> IdGen {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0;
        IdGen(seed ^ connection.rotate_left(32))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_header(&mut self) -> HeaderValue {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut buf = [0u8; 36];
        let text = id.hyphenated().encode_upper(&mut buf);
        HeaderValue::from_str(text).expect("a UUID is a valid header value")
    }
}
