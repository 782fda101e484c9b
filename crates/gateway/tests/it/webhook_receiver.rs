//! A local webhook receiver: records every request (headers and raw body) and answers from a
//! script (the first answers fail as scripted, the rest are `200`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// This status at once.
    Status(u16),
    /// No answer for a minute: the gateway's post times out.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request's query string (without `?`), as sent.
    pub query: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: Bytes,
    pub reply: Reply,
}

impl Received {
    /// The events of the body.
    pub fn events(&self) -> Vec<Value> {
        let body: Value = serde_json::from_slice(&self.body).expect("a JSON body");
        body["events"].as_array().expect("an events array").clone()
    }

    /// Whether the gateway got a 2xx for it.
    pub fn succeeded(&self) -> bool {
        matches!(self.reply, Reply::Status(s) if (200..300).contains(&s))
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    received: Vec<Received>,
}

/// The receiver; clones share it.
#[derive(Clone, Default)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    always: Option<Reply>,
}

impl Receiver {
    /// Starts a receiver answering `script` first, then `then` to every request.
    pub async fn start(script: &[Reply], then: Reply) -> (Receiver, SocketAddr) {
        let receiver = Receiver {
            inner: Arc::new(Mutex::new(Inner {
                script: script.iter().copied().collect(),
                received: Vec::new(),
            })),
            always: Some(then),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(handle))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, addr)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    /// Polls until `done` holds for the requests received (at most 30 s).
    pub async fn until(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..1500 {
            let received = self.received();
            if done(&received) {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the receiver never got what was expected: {:#?}",
            self.received()
        );
    }
}

async fn handle(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let reply = {
        let mut inner = receiver.inner.lock().expect("lock");
        let reply = inner
            .script
            .pop_front()
            .or(receiver.always)
            .unwrap_or(Reply::Status(200));
        inner.received.push(Received {
            query: uri.query().unwrap_or("").to_owned(),
            timestamp: header("pushway-timestamp"),
            signature: header("pushway-signature"),
            content_type: header("content-type"),
            body,
            reply,
        });
        reply
    };
    match reply {
        Reply::Status(status) => StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::OK
        }
    }
}
