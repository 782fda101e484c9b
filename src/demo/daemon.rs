//! The demo's daemon devices: real WebSocket clients of the gateway's daemon endpoint
//! (`GET /v1/apps/demo/daemon`), pushway-daemon's [`DeviceClient`], each connected with a token
//! from `POST …/daemon-token`. The client acks every push it hands over; the demo records what
//! each device received, with the fields that decide what the phone shows.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use pushway::daemon::client::{DeviceClient, Event, Push};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::api::Api;
use super::received::Received;

/// How long a device may take to connect, or a push to reach it once the gateway reported it.
const PATIENCE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);

/// Every push received so far: (`user/device`, push).
type Log = Arc<Mutex<Vec<(String, Push)>>>;

/// The connected daemon devices and what they received.
pub(super) struct DaemonDevices {
    url: String,
    log: Log,
    clients: Vec<JoinHandle<()>>,
}

impl DaemonDevices {
    /// No device connected yet; `base` is the gateway's `http://host:port`.
    pub(super) fn new(base: &str, api: &Api) -> DaemonDevices {
        DaemonDevices {
            url: format!(
                "{}{}",
                base.replacen("http://", "ws://", 1),
                api.path("daemon")
            ),
            log: Log::default(),
            clients: Vec::new(),
        }
    }

    /// Gets a token for `device` of `user` through the API, connects it, and returns once the
    /// gateway has authenticated it. The token is never printed.
    pub(super) async fn connect(
        &mut self,
        api: &Api,
        user: &str,
        device: &str,
    ) -> anyhow::Result<()> {
        let path = api.path(&format!("users/{user}/devices/{device}/daemon-token"));
        let answer = api
            .call(Method::POST, &path, &[], None, StatusCode::OK)
            .await?;
        let token = answer["token"]
            .as_str()
            .context("the daemon-token answer has no token")?;
        let mut client = DeviceClient::builder(&self.url, token).spawn();
        match tokio::time::timeout(PATIENCE, client.next_event()).await {
            Ok(Some(Event::Connected { .. })) => {}
            Ok(Some(Event::Disconnected { error, .. } | Event::Stopped { error })) => {
                bail!("daemon device {user}/{device} could not connect: {error}")
            }
            Ok(other) => bail!("daemon device {user}/{device}: unexpected first event {other:?}"),
            Err(_) => bail!("daemon device {user}/{device} did not connect within {PATIENCE:?}"),
        }
        println!("   POST {path} → 200  (its token, not shown)");
        println!("        {user}/{device} connected to {}", self.url);
        let (log, label) = (self.log.clone(), format!("{user}/{device}"));
        self.clients.push(tokio::spawn(async move {
            while let Some(event) = client.next_event().await {
                if let Event::Push(push) = event {
                    lock(&log).push((label.clone(), push));
                }
            }
        }));
        Ok(())
    }

    /// How many pushes the devices have received so far.
    pub(super) fn count(&self) -> usize {
        lock(&self.log).len()
    }

    /// Waits until `label` (`user/device`) has received the push of message `id`; whether it
    /// did within the patience (the gateway reports `delivered` once the device acked, which
    /// it does after handing the push over, so this is only the client task catching up).
    pub(super) async fn wait_for(&self, label: &str, id: &str) -> bool {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if lock(&self.log)
                .iter()
                .any(|(l, p)| l == label && p.id == id)
            {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        false
    }

    /// What the devices received after the first `from` pushes, one entry per push.
    pub(super) fn since(&self, from: usize) -> Vec<Received> {
        let log = lock(&self.log);
        log.iter()
            .skip(from)
            .map(|(label, push)| Received {
                vendor: "daemon",
                device: label.clone(),
                fields: fields(push),
            })
            .collect()
    }
}

impl Drop for DaemonDevices {
    fn drop(&mut self) {
        for client in &self.clients {
            // The task owns its client: aborting it drops the client, which closes the socket.
            client.abort();
        }
    }
}

/// Title (Android's), body, sound (when set), badge and the conversation it opens.
fn fields(push: &Push) -> Vec<(String, Value)> {
    let n = &push.notification;
    let mut fields = vec![
        ("title".to_owned(), json!(n.android_title())),
        ("body".to_owned(), json!(n.body)),
    ];
    if let Some(sound) = &n.android_sound {
        fields.push(("sound".to_owned(), json!(sound.uri())));
    }
    if let Some(badge) = n.badge {
        fields.push(("badge".to_owned(), json!(badge)));
    }
    fields.push((
        "conversation_id".to_owned(),
        json!(n.app_data.conversation_id),
    ));
    fields
}

fn lock(log: &Log) -> std::sync::MutexGuard<'_, Vec<(String, Push)>> {
    // Pushes are only appended: a poisoned log is still consistent.
    log.lock().unwrap_or_else(PoisonError::into_inner)
}
