//! The gateway's logic, free of HTTP types: accept (validate, render, commit), status, and the
//! registry of devices, settings and logins. Handlers call it; tests can too.

mod accept;
mod commit;
mod credentials;
mod daemon;
mod dead_letters;
mod error;
mod input;
mod lookup;
mod overview;
mod preview;
mod registry;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

pub use accept::{MAX_RECIPIENTS, NO_CREDENTIAL, NO_DEVICES};
pub use credentials::{Change, ChangeError, ChangeReport, Changed, Refused};
pub use daemon::DaemonToken;
pub use dead_letters::MAX_REPLAY;
pub use error::ServiceError;
pub use input::{ApnsEnvSchema, DeviceIn, KindIn, MessageRequest, RecipientIn};
pub use overview::RECENT_DELIVERIES;
pub use preview::{MAX_TEST_TEXT, Preview, Shown, TestPush};
pub use registry::MAX_RECEIVE_ENTRIES;
pub(crate) use registry::is_locale_tag;

use self::commit::Committer;
use self::lookup::Lookups;
use crate::app::{App, Factory, LiveApps};
use crate::config::WorkerConfig;
use crate::store::{DeadTokenEntry, MessageStatus, MessageSummary, Store};
use crate::worker::Handoff;

/// The clock the service and workers read (Unix milliseconds); tests may fake it.
pub trait Clock: Send + Sync + 'static {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The service: shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct Service {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) apps: Arc<LiveApps>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) worker: WorkerConfig,
    /// Wakes the workers when rows were committed.
    pub(crate) wake: Arc<Notify>,
    /// Bumped by the writer after each commit of outcomes.
    pub(crate) recorded: watch::Receiver<u64>,
    /// Commits accepted messages in groups.
    committer: Committer,
    /// Where the committer hands rows leased at accept to this process's worker.
    pub(crate) handoff: Arc<Handoff>,
    /// Reads what accepts need in groups.
    lookups: Lookups,
    /// Builds credentials changed while running; `None`: changes are refused.
    factory: Option<Factory>,
    /// Serialises changes of apps, credentials and keys (each reads, builds, then swaps).
    changing: Arc<tokio::sync::Mutex<()>>,
}

impl Service {
    /// A service over `store` for `apps`; starts its accept committer (call inside a runtime).
    pub fn new(
        store: Arc<dyn Store>,
        apps: Arc<LiveApps>,
        clock: Arc<dyn Clock>,
        worker: WorkerConfig,
        wake: Arc<Notify>,
        recorded: watch::Receiver<u64>,
    ) -> Self {
        let handoff = Arc::new(Handoff::default());
        Service {
            handoff: handoff.clone(),
            committer: Committer::spawn(
                store.clone(),
                clock.clone(),
                handoff.clone(),
                wake.clone(),
            ),
            lookups: Lookups::spawn(store.clone()),
            store,
            apps,
            clock,
            worker,
            wake,
            recorded,
            factory: None,
            changing: Arc::default(),
        }
    }

    /// Lets credentials and keys change while running, built by `factory`.
    #[must_use]
    pub fn with_factory(mut self, factory: Factory) -> Self {
        self.factory = Some(factory);
        self
    }

    /// The app called `id`, as it is now (a later change does not alter this one).
    pub fn app(&self, id: &str) -> Result<Arc<App>, ServiceError> {
        self.apps
            .load()
            .get(id)
            .cloned()
            .ok_or(ServiceError::UnknownApp)
    }

    /// The running apps.
    pub fn apps(&self) -> &Arc<LiveApps> {
        &self.apps
    }

    /// Whether the store answers.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping().await?)
    }

    /// A message's status.
    pub async fn status(&self, app: &str, message: &str) -> Result<MessageStatus, ServiceError> {
        self.app(app)?;
        self.store
            .status(app, message, self.clock.now_ms())
            .await?
            .ok_or(ServiceError::UnknownMessage)
    }

    /// A message's status in counts.
    pub async fn summary(&self, app: &str, message: &str) -> Result<MessageSummary, ServiceError> {
        self.app(app)?;
        self.store
            .summary(app, message)
            .await?
            .ok_or(ServiceError::UnknownMessage)
    }

    /// The app's dead-token feed after `cursor`.
    pub async fn dead_tokens(
        &self,
        app: &str,
        cursor: i64,
        limit: u32,
    ) -> Result<Vec<DeadTokenEntry>, ServiceError> {
        self.app(app)?;
        Ok(self.store.dead_tokens(app, cursor, limit).await?)
    }

    /// A message's status once every delivery's first outcome is known, or as it is after
    /// `wait`.
    pub async fn status_within(
        &self,
        app: &str,
        message: &str,
        wait: Duration,
    ) -> Result<MessageStatus, ServiceError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut recorded = self.recorded.clone();
        loop {
            // Mark the current version seen before reading, so a commit in between wakes us.
            recorded.borrow_and_update();
            let status = self.status(app, message).await?;
            if status.is_known() {
                return Ok(status);
            }
            match tokio::time::timeout_at(deadline, recorded.changed()).await {
                Ok(Ok(())) => continue,
                // Timed out, or the writer is gone: answer with what is known.
                _ => return self.status(app, message).await,
            }
        }
    }
}
