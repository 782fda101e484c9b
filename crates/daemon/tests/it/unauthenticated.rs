//! Connections that never say `hello` are capped: beyond the cap the oldest are shed, and a
//! real device still gets its welcome at once.

use std::time::Duration;

use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::protocol::ServerFrame;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::support::*;

const CAP: usize = 4;

#[tokio::test]
async fn beyond_the_cap_the_oldest_unauthenticated_connections_are_shed() {
    // An auth timeout far beyond the test's own waits: only shedding can close the idle ones.
    let t = TestHub::start(|b| {
        b.max_unauthenticated(CAP)
            .auth_timeout(Duration::from_secs(600))
    })
    .await;
    // The oldest: a bare TCP socket, still before its WebSocket handshake.
    let addr = t.server.local_addr();
    let mut bare = TcpStream::connect(addr).await.unwrap();
    eventually(async || t.hub.stats().awaiting_hello == 1).await;
    // Then WebSocket connections that never say hello.
    let mut idle = Vec::new();
    for i in 1..CAP + 4 {
        idle.push(raw(&t.url()).await);
        // The hub registers a connection before answering its handshake.
        let stats = t.hub.stats();
        assert_eq!(stats.awaiting_hello, (i + 1).min(CAP));
        assert_eq!(stats.shed as usize, (i + 1).saturating_sub(CAP));
    }

    // A real device gets its welcome (and sheds one more idle connection).
    let device = within(Connection::connect(
        &t.url(),
        &t.token("phone-1"),
        &ConnectOptions::default(),
    ))
    .await
    .unwrap();
    assert_eq!(device.device_id(), "phone-1");
    assert_eq!(t.hub.stats().shed, 5);

    // The shed ones, oldest first: the bare socket is just closed, the others hear why.
    let mut buf = [0u8; 64];
    assert_eq!(within(bare.read(&mut buf)).await.unwrap(), 0, "closed");
    for ws in &mut idle[..4] {
        assert_closed_with(ws, 1013, "try_again_later").await;
    }
    // The newest are still waiting, and can still authenticate.
    for (ws, name) in idle[4..].iter_mut().zip(["a", "b", "c"]) {
        send_text(
            ws,
            &format!(r#"{{"type":"hello","v":1,"token":"{}"}}"#, t.token(name)),
        )
        .await;
        assert!(matches!(
            next_frame(ws).await,
            Some(ServerFrame::Welcome { .. })
        ));
    }
    let stats = t.hub.stats();
    assert_eq!(
        (stats.awaiting_hello, stats.shed, stats.connected),
        (0, 5, 4)
    );
}

/// The environment variable that makes [`fd_limit_server`] run (in a child process).
const CHILD_ENV: &str = "PUSHWAY_DAEMON_FD_LIMIT_SERVER";
/// The child's file limit: a few dozen sockets.
const CHILD_FD_LIMIT: u64 = 64;

/// At the process's file limit, `accept` fails (EMFILE) while idle sockets hold every
/// descriptor: the hub sheds the oldest waiting one to free one, and a real device queued
/// behind the idle ones gets its welcome. The hub runs in a child process (this test binary,
/// running [`fd_limit_server`]) with a 64-descriptor limit, so the test's own sockets are not
/// counted and no other test shares the lowered limit; its unauthenticated cap is far above the
/// limit, so only the EMFILE path can make room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_file_limit_a_real_device_still_gets_its_welcome() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "unauthenticated::fd_limit_server",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port = within(async {
        loop {
            let line = lines.next_line().await.unwrap().expect("the child exited");
            if let Some(port) = line.strip_prefix("PORT=") {
                break port.parse::<u16>().unwrap();
            }
        }
    })
    .await;
    let url = format!("ws://127.0.0.1:{port}/");
    // Twice the child's file limit in idle sockets: it runs out of descriptors.
    let mut idle = Vec::new();
    for _ in 0..2 * CHILD_FD_LIMIT {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let token = auth()
        .issue(USER, "phone-1", 0, Duration::from_secs(600))
        .unwrap();
    let device = within(Connection::connect(
        &url,
        &token,
        &ConnectOptions::default(),
    ))
    .await
    .expect("a real device gets its welcome at the file limit");
    assert_eq!(device.device_id(), "phone-1");
    drop(child);
}

/// The hub of [`at_the_file_limit_a_real_device_still_gets_its_welcome`], in its child process;
/// it does nothing when run any other way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of at_the_file_limit_a_real_device_still_gets_its_welcome"]
async fn fd_limit_server() {
    if std::env::var_os(CHILD_ENV).is_none() {
        eprintln!("fd_limit_server is a helper of another test; nothing to do on its own");
        return;
    }
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, CHILD_FD_LIMIT, hard).unwrap();
    let hub = pushway_daemon::Hub::builder(auth())
        .max_unauthenticated(10_000)
        .auth_timeout(Duration::from_secs(600))
        .build();
    let server = hub.bind("127.0.0.1:0").await.unwrap();
    println!("PORT={}", server.local_addr().port());
    // Serve until the parent goes (its end of stdin closes).
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 16];
    while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
}
