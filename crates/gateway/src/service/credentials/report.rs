//! What a change did, what was refused and why: answered by the admin API, summed up in the
//! log line of a reload. Nothing here holds a secret (reasons come from the vendor crates'
//! errors and the issuers' refusal codes, which name fields, not values).

use serde::Serialize;

use crate::store::StoreError;

/// What happened to one app, credential or API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// It is new.
    Added,
    /// It replaced one of the same name.
    Rotated,
    /// It is gone.
    Removed,
    /// It was given again exactly as it runs: nothing was rebuilt.
    Unchanged,
}

impl Change {
    /// `added`, `rotated`, `removed`, `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Rotated => "rotated",
            Change::Removed => "removed",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One change applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// The app.
    pub app: String,
    /// What changed: `app`, `<kind>/<name>` (`apns/main`), `daemon`, `api_key/<name>`.
    pub item: String,
    /// How.
    pub change: Change,
}

impl Changed {
    pub(crate) fn new(app: &str, item: String, change: Change) -> Changed {
        Changed {
            app: app.to_owned(),
            item,
            change,
        }
    }
}

/// One change refused: the running state of `item` is as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// The app.
    pub app: String,
    /// What was refused, named as in [`Changed::item`] (`api_keys` for the app's key list).
    pub item: String,
    /// Why, naming the configuration key at fault.
    pub reason: String,
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeReport {
    /// Changes applied (unchanged items are not listed).
    pub changed: Vec<Changed>,
    /// Changes refused.
    pub refused: Vec<Refused>,
    /// Sections that differ from the running ones but apply only at start (`server`, `store`,
    /// `worker`).
    pub needs_restart: Vec<String>,
}

impl ChangeReport {
    /// One line for the log: counts of apps, credentials and keys added, rotated and removed,
    /// refusals with their items, sections needing a restart; never a secret.
    pub fn summary(&self) -> String {
        let count = |kind: fn(&str) -> bool, change: Change| {
            self.changed
                .iter()
                .filter(|c| kind(&c.item) && c.change == change)
                .count()
        };
        let mut parts = Vec::new();
        for (label, kind) in [
            ("apps", (|i: &str| i == "app") as fn(&str) -> bool),
            ("credentials", |i: &str| {
                i != "app" && !i.starts_with("api_key")
            }),
            ("api keys", |i: &str| i.starts_with("api_key")),
        ] {
            parts.push(format!(
                "{label} added {} rotated {} removed {}",
                count(kind, Change::Added),
                count(kind, Change::Rotated),
                count(kind, Change::Removed)
            ));
        }
        let refused: Vec<String> = self
            .refused
            .iter()
            .map(|r| format!("{}:{}", r.app, r.item))
            .collect();
        parts.push(format!("refused {} [{}]", refused.len(), refused.join(" ")));
        if !self.needs_restart.is_empty() {
            parts.push(format!(
                "needs a restart: {}",
                self.needs_restart.join(", ")
            ));
        }
        parts.join("; ")
    }

    pub(crate) fn changed(&mut self, app: &str, item: String, change: Change) {
        if change != Change::Unchanged {
            self.changed.push(Changed::new(app, item, change));
        }
    }

    pub(crate) fn refused(&mut self, app: &str, item: String, reason: impl ToString) {
        self.refused.push(Refused {
            app: app.to_owned(),
            item,
            reason: reason.to_string(),
        });
    }
}

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// No app has this id.
    #[error("no such app")]
    UnknownApp,
    /// The app has no such credential or key.
    #[error("{what} is not configured")]
    NotConfigured {
        /// The item, as in [`Changed::item`].
        what: String,
    },
    /// A field of the request is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The new credential or key was refused; the old one keeps serving.
    #[error("{what} refused: {reason}")]
    Refused {
        /// The item, as in [`Changed::item`].
        what: String,
        /// Why, naming the configuration key at fault.
        reason: String,
    },
    /// This service was built without a factory (`Service::with_factory`): nothing can change
    /// while running.
    #[error("credentials cannot change while this service runs")]
    Disabled,
    /// The store failed (the change is live; the store's copy of the keys is not).
    #[error(transparent)]
    Store(StoreError),
}

impl ChangeError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        ChangeError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_by_category_and_names_refusals() {
        let mut r = ChangeReport::default();
        r.changed("chat", "app".to_owned(), Change::Added);
        r.changed("chat", "apns/main".to_owned(), Change::Rotated);
        r.changed("chat", "daemon".to_owned(), Change::Removed);
        r.changed("chat", "api_key/ci".to_owned(), Change::Added);
        r.changed("chat", "fcm/x".to_owned(), Change::Unchanged);
        r.refused("chat", "huawei/hw".to_owned(), "apps.chat.huawei.hw: nope");
        r.needs_restart.push("server".to_owned());
        assert_eq!(
            r.summary(),
            "apps added 1 rotated 0 removed 0; credentials added 0 rotated 1 removed 1; \
             api keys added 1 rotated 0 removed 0; refused 1 [chat:huawei/hw]; \
             needs a restart: server"
        );
        assert_eq!(r.changed.len(), 4);
    }
}
