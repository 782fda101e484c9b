//! Shared helpers: a hub on 127.0.0.1:0, tokens, raw WebSocket devices.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pushway_core::testing::sample_notification;
use pushway_core::{DeviceToken, Notification, TokenKind};
use pushway_daemon::protocol::ServerFrame;
use pushway_daemon::{DaemonProvider, DeviceAuth, DeviceKey, Hub, HubBuilder, Server};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// The user every test device belongs to, unless a test says otherwise.
pub const USER: &str = "user-1";

/// A test-only HS256 secret.
pub const SECRET: &[u8] = b"test-only secret, 32 bytes long!";

/// The longest any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn auth() -> DeviceAuth {
    DeviceAuth::hs256(SECRET).unwrap()
}

pub struct TestHub {
    pub hub: Hub,
    pub server: Server,
    pub provider: DaemonProvider,
}

impl TestHub {
    pub async fn start(configure: impl FnOnce(HubBuilder) -> HubBuilder) -> TestHub {
        let hub = configure(Hub::builder(auth())).build();
        let server = hub.bind("127.0.0.1:0").await.unwrap();
        let provider = hub.provider();
        TestHub {
            hub,
            server,
            provider,
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A token for `device` of [`USER`], of generation 0.
    pub fn token(&self, device: &str) -> String {
        self.token_of(USER, device)
    }

    /// A token for `device` of `user`, of generation 0.
    pub fn token_of(&self, user: &str, device: &str) -> String {
        self.hub
            .auth()
            .issue(user, device, 0, Duration::from_secs(600))
            .unwrap()
    }
}

/// The daemon device token (address) of `id` of [`USER`].
pub fn device(id: &str) -> DeviceToken {
    device_of(USER, id)
}

/// The daemon device token (address) of `device` of `user`.
pub fn device_of(user: &str, device: &str) -> DeviceToken {
    DeviceToken::new(TokenKind::Daemon, "daemon", format!("{user}/{device}"))
}

/// The queue key of `device` of [`USER`].
pub fn key(device: &str) -> DeviceKey {
    DeviceKey::new(USER, device).unwrap()
}

pub fn notification(id: &str) -> Notification {
    let mut n = sample_notification();
    n.message_id = id.to_owned();
    n.body = format!("body of {id}");
    n
}

/// Fails the test if `future` takes longer than [`WAIT`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .expect("the test waited too long")
}

/// Polls `check` until it holds (within [`WAIT`]).
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    within(async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

pub type RawWs = WebSocketStream<TcpStream>;

/// A WebSocket connection with no protocol logic at all.
pub async fn raw(url: &str) -> RawWs {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    ws
}

/// Like [`raw_authenticated`], over a socket with a small fixed receive buffer, so a device
/// that stops reading stalls the server's writes after a few MB instead of tens (loopback
/// receive buffers autotune up to `tcp_rmem` max otherwise).
pub async fn raw_authenticated_small_buffer(url: &str, token: &str) -> RawWs {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    send_text(
        &mut ws,
        &format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#),
    )
    .await;
    match next_frame(&mut ws).await {
        Some(ServerFrame::Welcome { .. }) => ws,
        other => panic!("expected welcome, got {other:?}"),
    }
}

pub async fn send_text(ws: &mut RawWs, text: &str) {
    within(ws.send(Message::text(text))).await.unwrap();
}

/// A raw connection that said hello with `token` and got its welcome.
pub async fn raw_authenticated(url: &str, token: &str) -> RawWs {
    let mut ws = raw(url).await;
    send_text(
        &mut ws,
        &format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#),
    )
    .await;
    match next_frame(&mut ws).await {
        Some(ServerFrame::Welcome { .. }) => ws,
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// The next server frame, or `None` once a close frame arrives.
pub async fn next_frame(ws: &mut RawWs) -> Option<ServerFrame> {
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(_))) | None => return None,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("transport error: {e}"),
        }
    }
}

/// Reads until the close; returns the `error` frame's code and reason, and the close frame's.
pub async fn expect_close(ws: &mut RawWs) -> ((u16, String), (u16, String)) {
    let mut error = None;
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Text(text))) => {
                if let ServerFrame::Error { code, reason, .. } =
                    serde_json::from_str(&text).unwrap()
                {
                    error = Some((code, reason));
                }
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                let close = (u16::from(frame.code), frame.reason.to_string());
                return (error.expect("an error frame before the close"), close);
            }
            Some(Ok(Message::Close(None))) | None => panic!("closed without a close frame"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("transport error before the close frame: {e}"),
        }
    }
}

/// Asserts the connection closes with `code`/`reason`, announced by an error frame with the
/// same values.
pub async fn assert_closed_with(ws: &mut RawWs, code: u16, reason: &str) {
    let (error, close) = expect_close(ws).await;
    assert_eq!(error, (code, reason.to_owned()), "error frame");
    assert_eq!(close, (code, reason.to_owned()), "close frame");
}
