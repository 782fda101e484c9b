//! The state of a running Huawei simulator and its request routing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};

use crate::fault::FaultRules;
use crate::http_server::{Handler, Reply};
use crate::record::{RecordedRequest, Recorder};
use crate::tokens::TokenBook;

use super::fault::HuaweiFault;
use super::jwt::Verifier;
use super::oauth::{self, AccessTokens, Client};
use super::response::{self, Code};
use super::send::{self, MAX_MESSAGE_BYTES, MAX_TOKENS, Version};
use super::{ErrorStatus, IllegalTokensShape};

/// Shared state of one simulator.
#[derive(Debug)]
pub(crate) struct State {
    /// The accepted client; its secret can change while running ([`super::HuaweiSimulator::set_client_secret`]).
    pub client: RwLock<Client>,
    pub project_id: Option<String>,
    pub access: AccessTokens,
    pub jwt: Option<Verifier>,
    /// `true`: every result code is served with HTTP 200 ([`ErrorStatus::AlwaysOk`]).
    pub always_ok: AtomicBool,
    pub shape: RwLock<IllegalTokensShape>,
    pub tokens: TokenBook,
    pub faults: FaultRules<HuaweiFault>,
    pub oauth_faults: FaultRules<HuaweiFault>,
    pub recorder: Recorder,
    /// Sends answered (numbers `requestId`).
    pub seq: AtomicU64,
    /// Tokens a send was accepted for (validation-only sends excluded).
    pub delivered: AtomicU64,
}

impl Handler for State {
    async fn handle(&self, request: Request<Bytes>) -> (Duration, Reply) {
        self.recorder.record_with(|| RecordedRequest {
            method: request.method().clone(),
            path: request
                .uri()
                .path_and_query()
                .map_or_else(String::new, |p| p.to_string()),
            version: request.version(),
            headers: request.headers().clone(),
            body: request.body().clone(),
        });
        let path = request.uri().path();
        if path == "/oauth2/v3/token" || path == "/oauth2/v2/token" {
            if request.method() != Method::POST {
                return (Duration::ZERO, Reply::empty(StatusCode::METHOD_NOT_ALLOWED));
            }
            let decision = self.oauth_faults.decide(|_| false);
            if let Some(fault) = decision.action {
                return (decision.delay, fault.reply(false, 0, self.error_status()));
            }
            let client = self
                .client
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let reply = oauth::token_endpoint(&client, &self.access, request.body());
            return (decision.delay, reply);
        }
        let Some((version, path_id)) = send_path(path) else {
            return (Duration::ZERO, Reply::empty(StatusCode::NOT_FOUND));
        };
        if request.method() != Method::POST {
            return (Duration::ZERO, Reply::empty(StatusCode::METHOD_NOT_ALLOWED));
        }
        self.send(version, path_id, &request)
    }
}

/// `/v1/<id>/messages:send` or `/v2/<id>/messages:send`.
fn send_path(path: &str) -> Option<(Version, &str)> {
    let (version, rest) = if let Some(rest) = path.strip_prefix("/v1/") {
        (Version::V1, rest)
    } else {
        (Version::V2, path.strip_prefix("/v2/")?)
    };
    let id = rest.strip_suffix("/messages:send")?;
    (!id.is_empty() && !id.contains('/')).then_some((version, id))
}

impl State {
    pub(crate) fn error_status(&self) -> ErrorStatus {
        if self.always_ok.load(Ordering::Relaxed) {
            ErrorStatus::AlwaysOk
        } else {
            ErrorStatus::Documented
        }
    }

    fn send(&self, version: Version, path_id: &str, request: &Request<Bytes>) -> (Duration, Reply) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let mode = self.error_status();
        let parsed = send::parse(request.body());

        let decision = self.faults.decide(|token| {
            parsed
                .as_ref()
                .is_ok_and(|p| p.tokens.iter().any(|t| t.0 == token))
        });
        if let Some(fault) = decision.action {
            return (decision.delay, fault.reply(true, seq, mode));
        }
        let reply = match self.authorize(version, path_id, request.headers()) {
            Err(code) => response::send(code, seq, mode),
            Ok(()) => match parsed {
                Err(code) => response::send(code, seq, mode),
                Ok(parsed) => self.deliver(&parsed, seq, mode),
            },
        };
        (decision.delay, reply)
    }

    fn deliver(&self, parsed: &send::Parsed<'_>, seq: u64, mode: ErrorStatus) -> Reply {
        if parsed.size_without_tokens > MAX_MESSAGE_BYTES {
            return response::send(Code::MessageTooBig, seq, mode);
        }
        if parsed.to_topic {
            return response::send(Code::Success, seq, mode);
        }
        if parsed.tokens.is_empty() || parsed.tokens.len() > MAX_TOKENS {
            return response::send(Code::TokenCount, seq, mode);
        }
        let (valid, invalid) = self
            .tokens
            .partition(parsed.tokens.iter().map(|t| t.0.as_ref()));
        if !parsed.validate_only {
            self.delivered.fetch_add(valid as u64, Ordering::Relaxed);
        }
        if invalid.is_empty() {
            return response::send(Code::Success, seq, mode);
        }
        let shape = self.shape.read().unwrap_or_else(PoisonError::into_inner);
        response::invalid_tokens(valid, &invalid, &shape, seq, mode)
    }
}
