//! The demo's side of the gateway's HTTP API: what an IM back end sends, with the demo app's
//! key. Every call checks the status the API documents for it, so a changed answer fails the
//! demo rather than passing unnoticed.

use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How long `POST /messages?wait=` may hold the answer.
const WAIT: &str = "10s";
/// How long to poll a message's status when `?wait=` answered before every outcome was final.
const SETTLE_POLLS: u32 = 200;
const SETTLE_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A client of one app of the gateway.
pub(super) struct Api {
    http: reqwest::Client,
    base: String,
    app: String,
    key: String,
}

impl Api {
    /// A client of `app` at `base` (`http://host:port`) with the API key `key`.
    pub(super) fn new(base: &str, app: &str, key: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            base: base.to_owned(),
            app: app.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The path of `rest` under the app: `/v1/apps/<app>/<rest>`.
    pub(super) fn path(&self, rest: &str) -> String {
        format!("/v1/apps/{}/{rest}", self.app)
    }

    /// Sends a request to `path` and returns the answer's body when its status is `expected`.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        if status != expected {
            bail!("{method} {path}: expected {expected}, got {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Posts a message with `?wait=` under `idempotency_key`, then polls its status until every
    /// delivery has a final outcome. Returns the message id and its status.
    pub(super) async fn send_message(
        &self,
        idempotency_key: &str,
        body: &Value,
    ) -> anyhow::Result<(String, Value)> {
        let path = format!("{}?wait={WAIT}", self.path("messages"));
        let answer = self
            .call(
                Method::POST,
                &path,
                &[("Idempotency-Key", idempotency_key)],
                Some(body),
                StatusCode::ACCEPTED,
            )
            .await?;
        let id = answer["message_id"]
            .as_str()
            .context("the 202 answer has no message_id")?
            .to_owned();
        if answer["settled"] == true {
            return Ok((id, answer));
        }
        // `?wait=` answers once every outcome is *known*, which includes a retry scheduled;
        // the demo reports final outcomes, so it asks again until they are.
        let status_path = self.path(&format!("messages/{id}"));
        for _ in 0..SETTLE_POLLS {
            tokio::time::sleep(SETTLE_POLL_INTERVAL).await;
            let status = self
                .call(Method::GET, &status_path, &[], None, StatusCode::OK)
                .await?;
            if is_settled(&status) {
                return Ok((id, status));
            }
        }
        let status = self
            .call(Method::GET, &status_path, &[], None, StatusCode::OK)
            .await?;
        Ok((id, status))
    }

    /// Polls message `id`'s status until the delivery of `label` (`user/device`) is no longer
    /// `queued` — a queued daemon push the device has since acked turns `delivered` — or the
    /// polls run out; returns the last status.
    pub(super) async fn settled_for(&self, id: &str, label: &str) -> anyhow::Result<Value> {
        let path = self.path(&format!("messages/{id}"));
        let mut status = Value::Null;
        for _ in 0..SETTLE_POLLS {
            status = self
                .call(Method::GET, &path, &[], None, StatusCode::OK)
                .await?;
            if state_of(&status, label).is_some_and(|s| s != "queued") {
                break;
            }
            tokio::time::sleep(SETTLE_POLL_INTERVAL).await;
        }
        Ok(status)
    }
}

/// The state of the delivery to `label` (`user/device`) in a status body.
fn state_of<'a>(status: &'a Value, label: &str) -> Option<&'a str> {
    let (user, device) = label.rsplit_once('/')?;
    status["recipients"]
        .as_array()?
        .iter()
        .filter(|r| r["user_id"] == user)
        .flat_map(|r| r["devices"].as_array().into_iter().flatten())
        .find(|d| d["device_id"] == device)?["state"]
        .as_str()
}

/// Whether every delivery of a status body is in a final state.
fn is_settled(status: &Value) -> bool {
    const FINAL: [&str; 4] = ["delivered", "queued", "failed", "dead"];
    status["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["devices"].as_array().into_iter().flatten())
        .all(|d| d["state"].as_str().is_some_and(|s| FINAL.contains(&s)))
}
