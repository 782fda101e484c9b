//! The accept path's reads, batched: what concurrent accepts need to know (the message an
//! idempotency key already names, and the recipients' settings, devices and logins) is read for
//! all of them at once, per app, like their commits (`commit.rs`).
//!
//! Why: every SQLite statement runs on its connection's own thread (sqlx), so a statement costs
//! two thread hand-offs whatever it reads; three reads per request made them most of an
//! accept's CPU. Batched, a burst of requests costs three statements per app.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{RecipientState, Store, StoreError};

/// Lookups answered by one batch at most.
const MAX_LOOKUPS: usize = 256;
/// Recipients read by one batch at most (one group message may bring 10,000).
const MAX_USERS: usize = 20_000;
/// Lookups waiting at most; more wait for room (backpressure).
const QUEUE: usize = 1024;

/// What one accept asks.
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) app: String,
    pub(crate) key: String,
    pub(crate) users: Vec<String>,
}

/// What it learns.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// The message accepted earlier under the key, and its request's hash.
    pub(crate) earlier: Option<(String, [u8; 32])>,
    /// The states of the recipients that have any (as [`Store::recipients`]).
    pub(crate) recipients: HashMap<String, RecipientState>,
}

type Reply = oneshot::Sender<Result<Found, StoreError>>;

/// Hands lookups to the batching task.
#[derive(Debug, Clone)]
pub(crate) struct Lookups {
    tx: mpsc::Sender<(Query, Reply)>,
}

impl Lookups {
    /// Starts the lookup task over `store`.
    pub(crate) fn spawn(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<(Query, Reply)>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut users = first.0.users.len();
                let mut batch = vec![first];
                while batch.len() < MAX_LOOKUPS && users < MAX_USERS {
                    match rx.try_recv() {
                        Ok(next) => {
                            users += next.0.users.len();
                            batch.push(next);
                        }
                        Err(_) => break,
                    }
                }
                answer(&*store, batch).await;
            }
        });
        Lookups { tx }
    }

    /// What the store knows for `query` (read together with other lookups arriving meanwhile).
    pub(crate) async fn lookup(&self, query: Query) -> Result<Found, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((query, reply))
            .await
            .map_err(|_| StoreError::new("the accept lookup task stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the accept lookup task stopped"))?
    }
}

/// Reads a batch per app (keys and recipients at once, on two reader connections) and answers
/// each lookup with its part.
async fn answer(store: &dyn Store, batch: Vec<(Query, Reply)>) {
    let mut by_app: HashMap<String, Vec<(Query, Reply)>> = HashMap::new();
    for (query, reply) in batch {
        by_app
            .entry(query.app.clone())
            .or_default()
            .push((query, reply));
    }
    for (app, lookups) in by_app {
        let mut keys = Vec::with_capacity(lookups.len());
        let mut users = Vec::new();
        let mut seen_keys = HashSet::new();
        let mut seen_users = HashSet::new();
        for (query, _) in &lookups {
            if seen_keys.insert(query.key.as_str()) {
                keys.push(query.key.clone());
            }
            for user in &query.users {
                if seen_users.insert(user.as_str()) {
                    users.push(user.clone());
                }
            }
        }
        let (earlier, states) = tokio::join!(
            store.find_idempotent_many(&app, &keys),
            store.recipients(&app, &users)
        );
        let (earlier, mut states) = match (earlier, states) {
            (Ok(earlier), Ok(states)) => (earlier, states),
            (Err(e), _) | (_, Err(e)) => {
                let message = e.to_string();
                for (_, reply) in lookups {
                    let _ = reply.send(Err(StoreError::new(&message)));
                }
                continue;
            }
        };
        // A lookup alone in its batch (a group message's, most often) takes the states as read;
        // lookups sharing a batch each get copies of their recipients'.
        let alone = lookups.len() == 1;
        for (query, reply) in lookups {
            let recipients = if alone {
                std::mem::take(&mut states)
            } else {
                query
                    .users
                    .iter()
                    .filter_map(|u| states.get(u).map(|s| (u.clone(), s.clone())))
                    .collect()
            };
            let _ = reply.send(Ok(Found {
                earlier: earlier.get(&query.key).cloned(),
                recipients,
            }));
        }
    }
}
