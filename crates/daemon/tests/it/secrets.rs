//! Secrets (the device JWT, the HS256 signing secret) never appear in `Debug` output nor in
//! logs, down to TRACE, including the logs of the libraries underneath (tungstenite logs
//! through the `log` facade, which the fmt subscriber bridges).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pushway_core::{Outcome, PushProvider};
use pushway_daemon::client::{ConnectOptions, Connection, DeviceClient, Event};
use pushway_daemon::{Hub, MemoryStore, SqliteStore};

use crate::support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The forms a secret could take in a log line: as is, hex-encoded (tungstenite prints frame
/// payloads in hex), and for the JWT its signature alone.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned(), hex(secret.as_bytes())];
    if let Some((_, signature)) = secret.rsplit_once('.') {
        forms.push(signature.to_owned());
    }
    forms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_debug_output_or_trace_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test installs the global TRACE subscriber (and its log bridge) itself");

    let t = TestHub::start(|b| b).await;
    let token = t.token("phone-1");

    // A hello, a push and its ack, through the client and through a raw socket.
    let mut client = DeviceClient::builder(t.url(), token.clone()).spawn();
    assert!(matches!(
        within(client.next_event()).await,
        Some(Event::Connected { .. })
    ));
    let outcomes = within(t.provider.send(&notification("m1"), &[device("phone-1")])).await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    drop(client);
    let _raw = raw_authenticated(&t.url(), &t.token("tablet")).await;

    // Every builder and configuration, formatted.
    let path = crate::restart::temp_db("secrets");
    let sqlite = SqliteStore::open(&path).await.unwrap();
    let builder = DeviceClient::builder(t.url(), token.clone())
        .connect_timeout(Duration::from_secs(5))
        .tls(Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ));
    let connection = Connection::connect(&t.url(), &token, &ConnectOptions::default())
        .await
        .unwrap();
    let debug = [
        format!("{builder:?}"),
        format!("{:?}", builder.clone().spawn()),
        format!("{:?}", ConnectOptions::default()),
        format!("{connection:?}"),
        format!("{:?}", auth()),
        format!("{:?}", Hub::builder(auth()).store(MemoryStore::new())),
        format!("{:?}", t.hub),
        format!("{:?}", t.server),
        format!("{:?}", t.provider),
        format!("{sqlite:?}"),
    ];
    sqlite.close().await;
    crate::restart::remove_db(&path);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let logs = capture.text();
    assert!(
        logs.contains("daemon device authenticated"),
        "the capture holds the hub's own debug lines"
    );
    let secret = std::str::from_utf8(SECRET).unwrap();
    for (what, text) in debug.iter().map(|d| ("Debug", d)).chain([("logs", &logs)]) {
        for form in forms(&token).into_iter().chain(forms(secret)) {
            assert!(
                !text.contains(&form),
                "a secret ({form:.12}…) appears in the {what}:\n{text:.2000}"
            );
        }
    }
}
