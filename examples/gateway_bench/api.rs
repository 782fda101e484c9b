//! The bench's side of the gateway's HTTP API (as an IM back end calls it), and the devices it
//! registers.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::Res;
use super::procs::{API_KEY, APP, CREDENTIAL};

/// The channels, in the order device `j` of recipient `i` takes them: `(i + j) % 4`.
pub const CHANNELS: [&str; 4] = ["apns", "xiaomi", "huawei", "daemon"];

/// A client of the bench app.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base: &str) -> Res<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `/v1/apps/bench/<rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v1/apps/{APP}/{rest}", self.base)
    }

    /// A request whose answer must have status `expected`; its JSON body.
    pub async fn call(
        &self,
        method: Method,
        rest: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
        expected: &[StatusCode],
    ) -> Res<Value> {
        let mut request = self
            .http
            .request(method.clone(), self.url(rest))
            .bearer_auth(API_KEY);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !expected.contains(&status) {
            return Err(format!("{method} {rest}: {status}: {text}").into());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Registers device `device` of `user` on `channel` (one of [`CHANNELS`]); `n` makes its
    /// token unique.
    pub async fn register(&self, user: &str, device: &str, channel: &str, n: usize) -> Res<()> {
        let body = match channel {
            "apns" => json!({"kind": "apns", "apns_env": "sandbox", "credential": CREDENTIAL,
                             "token": apns_token(n)}),
            "xiaomi" => json!({"kind": "xiaomi", "credential": CREDENTIAL, "token": regid(n)}),
            "huawei" => json!({"kind": "huawei", "credential": CREDENTIAL,
                               "token": format!("IQAAAACy0kYkAABwsc{n:0112x}")}),
            _ => json!({"kind": "daemon"}),
        };
        self.call(
            Method::PUT,
            &format!("users/{user}/devices/{device}"),
            &[],
            Some(&body),
            &[StatusCode::CREATED, StatusCode::OK],
        )
        .await?;
        Ok(())
    }

    /// A daemon device's token.
    pub async fn daemon_token(&self, user: &str, device: &str) -> Res<String> {
        let answer = self
            .call(
                Method::POST,
                &format!("users/{user}/devices/{device}/daemon-token"),
                &[],
                None,
                &[StatusCode::OK],
            )
            .await?;
        Ok(answer["token"].as_str().ok_or("no token")?.to_owned())
    }

    /// The WebSocket URL of the app's daemon channel.
    pub fn daemon_url(&self) -> String {
        format!(
            "{}/v1/apps/{APP}/daemon",
            self.base.replacen("http://", "ws://", 1)
        )
    }

    /// Posts a message under `key` (`?wait=` when given); its 202 answer.
    pub async fn post_message(&self, key: &str, body: &Value, wait: Option<&str>) -> Res<Value> {
        let rest = match wait {
            Some(wait) => format!("messages?wait={wait}"),
            None => "messages".to_owned(),
        };
        self.call(
            Method::POST,
            &rest,
            &[("Idempotency-Key", key)],
            Some(body),
            &[StatusCode::ACCEPTED],
        )
        .await
    }

    /// A message's status.
    pub async fn summary(&self, id: &str) -> Res<Value> {
        self.call(
            Method::GET,
            &format!("messages/{id}/summary"),
            &[],
            None,
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn status(&self, id: &str) -> Res<Value> {
        self.call(
            Method::GET,
            &format!("messages/{id}"),
            &[],
            None,
            &[StatusCode::OK],
        )
        .await
    }
}

/// Runs `jobs` with at most `width` in flight; the first error stops the rest.
pub async fn in_parallel<T, F, Fut>(jobs: Vec<T>, width: usize, job: F) -> Res<()>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Res<()>> + Send + 'static,
{
    let queue = Arc::new(std::sync::Mutex::new(jobs));
    let job = Arc::new(job);
    let mut set = JoinSet::new();
    for _ in 0..width.max(1) {
        let queue = queue.clone();
        let job = job.clone();
        set.spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| "queue lock poisoned")?.pop();
                let Some(next) = next else { return Res::Ok(()) };
                job(next).await?;
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(())
}

/// An APNs token: 64 hex digits.
fn apns_token(n: usize) -> String {
    let h = (n as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) | 1;
    format!("{h:032x}{:032x}", h.rotate_left(64))
}

/// A regid shaped like a real one: 43 base64 characters (with `+` and `/`) and `=`.
fn regid(n: usize) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = String::with_capacity(44);
    for _ in 0..43 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(char::from(B64[(state >> 58) as usize]));
    }
    out.push('=');
    out
}

/// Tokens of the store-filled rows (memory bench), shaped like the registered ones.
pub fn token(channel: &str, n: usize) -> String {
    match channel {
        "apns" => apns_token(n),
        "xiaomi" => regid(n),
        _ => format!("IQAAAACy0kYkAABwsc{n:0112x}"),
    }
}
