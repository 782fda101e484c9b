//! A `LISTEN` connection kept open for as long as a node runs: its notifications handed to a
//! [`Listen`] handler, the connection made again with exponential backoff when it is lost.
//! Postgres delivers a notification only to the sessions listening when it commits, so those
//! sent while no connection listened are lost for good: the handler is told each time the loop
//! listens ([`Listen::listening`]) and catches up then. The daemon's cluster and the gateway's
//! outbox wake-ups both run on it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};
use tokio::sync::watch;

/// What a [`listen`] loop serves.
pub trait Listen: Send + Sync + 'static {
    /// What the loop's log lines call it.
    const NAME: &'static str;

    /// A new connection, listening on the handler's channels (after the previous one was lost).
    fn connect(&self) -> impl Future<Output = Result<PgListener, sqlx::Error>> + Send;

    /// The loop listens (on its first connection, and again after each reconnect): what was
    /// notified while no connection listened is to be caught up on now.
    fn listening(&self) -> impl Future<Output = ()> + Send;

    /// One notification.
    fn notified(&self, notification: &PgNotification);
}

/// Serves `handler` from `first` until `stop` holds `true` (or its sender is gone). Failed
/// connects wait `min`, doubling up to `max`; a lost connection waits the current backoff
/// before its first reconnect too (a restarting server refuses at once).
pub async fn listen<L: Listen>(
    handler: Arc<L>,
    first: PgListener,
    mut stop: watch::Receiver<bool>,
    min: Duration,
    max: Duration,
) {
    let mut listener = Some(first);
    let mut backoff = min;
    loop {
        let mut current = match listener.take() {
            Some(listener) => listener,
            None => {
                let result = tokio::select! {
                    () = stopped(&mut stop) => return,
                    result = handler.connect() => result,
                };
                match result {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::warn!(%error, ?backoff, listener = L::NAME, "listener cannot connect");
                        tokio::select! {
                            () = stopped(&mut stop) => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(max);
                        continue;
                    }
                }
            }
        };
        backoff = min;
        handler.listening().await;
        loop {
            let next = tokio::select! {
                () = stopped(&mut stop) => return,
                next = current.try_recv() => next,
            };
            match next {
                Ok(Some(notification)) => handler.notified(&notification),
                Ok(None) => {
                    tracing::warn!(
                        listener = L::NAME,
                        "listener's connection lost; reconnecting"
                    );
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, listener = L::NAME, "listener failed; reconnecting");
                    break;
                }
            }
        }
        tokio::select! {
            () = stopped(&mut stop) => return,
            () = tokio::time::sleep(backoff) => {}
        }
    }
}

/// A listener on a connection of its own, named `application_name` (so operators find it in
/// `pg_stat_activity`), listening on `channels`. A lost connection is reported to [`listen`]
/// (which catches up after reconnecting) rather than silently replaced.
pub async fn connect(
    options: &PgConnectOptions,
    application_name: &str,
    channels: &[&str],
) -> Result<PgListener, sqlx::Error> {
    let options = options.clone().application_name(application_name);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.eager_reconnect(false);
    listener.listen_all(channels.iter().copied()).await?;
    Ok(listener)
}

/// Resolves once `stop` holds `true`, or its sender is gone.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
