//! One device connection: connect, `hello`, receive pushes, ack them.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pushway_core::Notification;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::error::{ClientError, Kind};
use crate::protocol::{DeviceFrame, MAX_PUSH_FRAME_BYTES, PROTOCOL_VERSION, ServerFrame};

/// The default time for TCP connect, TLS, the WebSocket handshake and the `welcome`, together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many ping intervals of silence mean the server (or the path to it) is gone.
const SILENT_PINGS: u32 = 3;

/// How long one write may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A push as the device receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The push id (the message id); ack it with this.
    pub id: String,
    /// The notification to show.
    pub notification: Notification,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The time for TCP connect, TLS, handshake and `welcome` together.
    pub connect_timeout: Duration,
    /// The TLS configuration for `wss://` URLs (required for them).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: None,
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One authenticated connection. It answers the server's pings itself while [`next`] waits.
///
/// [`next`]: Connection::next
pub struct Connection {
    ws: WebSocketStream<Box<dyn Io>>,
    device_id: String,
    silence_limit: Duration,
    error_frame: Option<(u16, String, Option<String>)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `url` (`ws://host:port/path` or `wss://…`), says `hello` with `token`, and
    /// waits for the `welcome`. A refused token is an error whose
    /// [`close_reason`](ClientError::close_reason) says why.
    pub async fn connect(
        url: &str,
        token: &str,
        options: &ConnectOptions,
    ) -> Result<Connection, ClientError> {
        match timeout(
            options.connect_timeout,
            Self::connect_inner(url, token, options),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(ClientError::new(Kind::Timeout("connect"))),
        }
    }

    async fn connect_inner(
        url: &str,
        token: &str,
        options: &ConnectOptions,
    ) -> Result<Connection, ClientError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| ClientError::new(Kind::Url(format!("{e}"))))?;
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => {
                return Err(ClientError::new(Kind::Url(
                    "the scheme must be ws or wss".into(),
                )));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| ClientError::new(Kind::Url("no host".into())))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(ClientError::transport)?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Io> = if secure {
            let config = options.tls.clone().ok_or_else(|| {
                ClientError::new(Kind::Url("a wss:// URL needs a TLS configuration".into()))
            })?;
            let name = ServerName::try_from(host).map_err(ClientError::transport)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(ClientError::transport)?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .max_message_size(Some(MAX_PUSH_FRAME_BYTES))
            .max_frame_size(Some(MAX_PUSH_FRAME_BYTES));
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .map_err(ClientError::transport)?;
        let mut connection = Connection {
            ws,
            device_id: String::new(),
            // Until the welcome names the interval, allow the connect timeout.
            silence_limit: options.connect_timeout,
            error_frame: None,
        };
        connection
            .send(&DeviceFrame::Hello {
                v: PROTOCOL_VERSION,
                token: token.to_owned(),
            })
            .await?;
        match connection.next_frame().await? {
            ServerFrame::Welcome {
                device_id,
                ping_interval_ms,
                ..
            } => {
                connection.device_id = device_id;
                connection.silence_limit = Duration::from_millis(ping_interval_ms) * SILENT_PINGS;
                Ok(connection)
            }
            other => Err(ClientError::new(Kind::Protocol(format!(
                "expected welcome, got {other:?}"
            )))),
        }
    }

    /// The device id the server authenticated (from the token).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The next push. Answers pings meanwhile; fails when the server closes (with its code),
    /// the transport breaks, or nothing is heard for three ping intervals.
    pub async fn next(&mut self) -> Result<Push, ClientError> {
        loop {
            match self.next_frame().await? {
                ServerFrame::Push { id, notification } => {
                    return Ok(Push {
                        id,
                        notification: *notification,
                    });
                }
                ServerFrame::Welcome { .. } => {
                    return Err(ClientError::new(Kind::Protocol("a second welcome".into())));
                }
                // Handled in next_frame.
                ServerFrame::Ping | ServerFrame::Pong | ServerFrame::Error { .. } => {}
            }
        }
    }

    /// Acks the push `id` (after showing it, or on seeing it again).
    pub async fn ack(&mut self, id: &str) -> Result<(), ClientError> {
        self.send(&DeviceFrame::Ack { id: id.to_owned() }).await
    }

    /// Sends a `ping`; the server's `pong` is consumed by [`next`](Connection::next).
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.send(&DeviceFrame::Ping).await
    }

    /// Closes the connection normally.
    pub async fn close(mut self) {
        let _ = timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }

    async fn send(&mut self, frame: &DeviceFrame) -> Result<(), ClientError> {
        let text = serde_json::to_string(frame).map_err(ClientError::transport)?;
        match timeout(WRITE_TIMEOUT, self.ws.send(Message::text(text))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.closed_or(e)),
            Err(_) => Err(ClientError::new(Kind::Timeout("write"))),
        }
    }

    /// The next frame that is not a ping; pings are answered here, error frames remembered for
    /// the close that follows.
    async fn next_frame(&mut self) -> Result<ServerFrame, ClientError> {
        loop {
            let message = match timeout(self.silence_limit, self.ws.next()).await {
                Err(_) => return Err(ClientError::new(Kind::Timeout("heartbeat"))),
                Ok(None) => return Err(self.closed(None)),
                Ok(Some(Err(e))) => return Err(self.closed_or(e)),
                Ok(Some(Ok(message))) => message,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(frame) => {
                    return Err(
                        self.closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                    );
                }
                Message::Binary(_) => {
                    return Err(ClientError::new(Kind::Protocol("a binary frame".into())));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            let frame: ServerFrame = serde_json::from_str(&text)
                .map_err(|e| ClientError::new(Kind::Protocol(e.to_string())))?;
            match frame {
                ServerFrame::Ping => self.send(&DeviceFrame::Pong).await?,
                ServerFrame::Pong => {}
                ServerFrame::Error {
                    code,
                    reason,
                    detail,
                } => self.error_frame = Some((code, reason, detail)),
                other => return Ok(other),
            }
        }
    }

    fn closed(&mut self, frame: Option<(u16, String)>) -> ClientError {
        let from_error = self.error_frame.take();
        match (frame, from_error) {
            (Some((code, reason)), error) => ClientError::new(Kind::Closed {
                code,
                reason,
                detail: error.and_then(|(_, _, detail)| detail),
            }),
            (None, Some((code, reason, detail))) => ClientError::new(Kind::Closed {
                code,
                reason,
                detail,
            }),
            (None, None) => ClientError::transport("the connection closed without a close frame"),
        }
    }

    fn closed_or(&mut self, error: tokio_tungstenite::tungstenite::Error) -> ClientError {
        // A close announced by an error frame may arrive as a reset: keep the announced code.
        if self.error_frame.is_some() {
            self.closed(None)
        } else {
            ClientError::transport(error)
        }
    }
}
