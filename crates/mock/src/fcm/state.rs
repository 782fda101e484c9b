//! The shared state of a running FCM simulator and the request routing: the token endpoint, and
//! `messages:send` in the order of protocols/fcm.md §8 (S1 path, faults, S2–S4 auth, S5–S10
//! body, S11 token registry, S13 `validate_only`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, header, request};
use http_body_util::Full;

use super::TokenState;
use super::account::Verifier;
use super::fault::{Action, FcmFault, errors};
use super::log::{FcmOutcome, FcmRequest, Log};
use super::oauth::{self, AccessTokens, TokenCheck};
use super::quota::Limiter;
use super::response::{self, ApiError};
use super::validate::{self, Target};
use crate::fault::FaultRules;
use crate::http_server::Reply;
use crate::{RecordedRequest, Recorder};

/// The token endpoint's path on the simulator (`token_uri` of a key file pointed at it).
pub const TOKEN_PATH: &str = "/token";

/// What the connection does with one request.
pub(crate) enum Outcome {
    Respond {
        response: Response<Full<Bytes>>,
        delay: Duration,
        goaway: bool,
    },
    Refuse,
    Drop,
}

/// One connection's bookkeeping, shared with its requests.
#[derive(Debug, Default)]
pub(crate) struct ConnCtx {
    pub id: u64,
    pub handled: AtomicU64,
    pub in_flight: AtomicU32,
    /// Set once a GOAWAY was asked for: later requests are refused.
    pub closing: AtomicBool,
    pub goaway: tokio::sync::Notify,
    pub drop: tokio::sync::Notify,
    /// A request started or ended (restarts the idle timer).
    pub activity: tokio::sync::Notify,
}

/// The device-token registry (S11), on top of the rule the other simulators share: a token is
/// malformed when empty or when it holds whitespace (`crate::tokens`).
#[derive(Debug)]
pub(crate) struct Registry {
    pub accept_any: bool,
    pub states: HashMap<String, TokenState>,
}

/// Shared state of one simulator.
#[derive(Debug)]
pub(crate) struct State {
    pub verifier: Verifier,
    pub access: AccessTokens,
    /// `<base_url>/token`, an accepted assertion `aud`.
    pub token_url: String,
    pub registry: RwLock<Registry>,
    pub faults: FaultRules<FcmFault>,
    pub oauth_faults: FaultRules<FcmFault>,
    pub log: Log<FcmRequest>,
    pub oauth_log: Recorder,
    pub strict_size: AtomicBool,
    pub quota: Limiter,
    /// GOAWAY after this many requests on a connection; 0 = never.
    pub goaway_after: AtomicU64,
    pub accepted: AtomicU64,
    pub seq: AtomicU64,
    pub id_salt: u64,
    pub peak_streams: AtomicU32,
    pub next_connection: AtomicU64,
}

fn recorded(parts: &request::Parts, body: &Bytes) -> RecordedRequest {
    RecordedRequest {
        method: parts.method.clone(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(String::new, |p| p.as_str().to_owned()),
        version: parts.version,
        headers: parts.headers.clone(),
        body: body.clone(),
    }
}

/// `/v1/projects/{p}/messages:send` → `p`.
fn send_project(path: &str) -> Option<&str> {
    let project = path
        .strip_prefix("/v1/projects/")?
        .strip_suffix("/messages:send")?;
    (!project.is_empty() && !project.contains('/')).then_some(project)
}

impl State {
    pub(crate) async fn handle(
        &self,
        ctx: &ConnCtx,
        parts: request::Parts,
        body: Bytes,
    ) -> Outcome {
        if parts.uri.path() == TOKEN_PATH {
            return self.token(&parts, &body);
        }
        // Decided by the request's number on the connection, not by `closing` alone: requests
        // run in parallel, and the (n+1)-th may get here before the n-th set `closing`.
        let handled = ctx.handled.fetch_add(1, Ordering::AcqRel) + 1;
        let goaway_after = self.goaway_after.load(Ordering::Relaxed);
        let past_limit = goaway_after != 0 && handled > goaway_after;
        if past_limit || ctx.closing.load(Ordering::Acquire) {
            // The limit may have been lowered on a busy connection: make sure a GOAWAY goes out.
            if !ctx.closing.swap(true, Ordering::AcqRel) {
                ctx.goaway.notify_one();
            }
            self.record(ctx, &parts, &body, FcmOutcome::Refused);
            return Outcome::Refuse;
        }
        let mut goaway = goaway_after != 0 && handled == goaway_after;

        // S1: an unknown path or method gets Google's HTML 404.
        let project = match send_project(parts.uri.path()) {
            Some(p) if parts.method == Method::POST => p,
            _ => {
                let page = response::not_found_html(parts.uri.path());
                let response = response::raw(404, "text/html; charset=UTF-8", page);
                return self.answer(ctx, &parts, &body, response, Duration::ZERO, goaway, None);
            }
        };

        let decision = self
            .faults
            .decide(|token| target_token(&body).as_deref() == Some(token));
        let (error, name) = match decision
            .action
            .as_ref()
            .map(|f| f.action(parts.uri.path(), project))
        {
            Some(Action::Refuse) => {
                self.record(ctx, &parts, &body, FcmOutcome::Refused);
                return Outcome::Refuse;
            }
            Some(Action::Drop) => {
                self.record(ctx, &parts, &body, FcmOutcome::Dropped);
                return Outcome::Drop;
            }
            Some(Action::Raw(response)) => {
                return self.answer(ctx, &parts, &body, response, decision.delay, goaway, None);
            }
            Some(Action::Respond { error, goaway: g }) => {
                goaway |= g;
                match error {
                    Some(e) => (Some(e), None),
                    None => self.send(&parts.headers, project, &body),
                }
            }
            None => self.send(&parts.headers, project, &body),
        };
        let response = match error {
            Some(error) => error.into_response(),
            None => response::sent(name.as_deref().unwrap_or_default()),
        };
        self.answer(ctx, &parts, &body, response, decision.delay, goaway, name)
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        ctx: &ConnCtx,
        parts: &request::Parts,
        body: &Bytes,
        response: Response<Full<Bytes>>,
        delay: Duration,
        goaway: bool,
        name: Option<String>,
    ) -> Outcome {
        let status = response.status().as_u16();
        let accepted = status == 200
            && name
                .as_deref()
                .is_some_and(|n| !n.ends_with("/fake_message_id"));
        if accepted {
            self.accepted.fetch_add(1, Ordering::Relaxed);
        }
        self.record(
            ctx,
            parts,
            body,
            FcmOutcome::Answered {
                status,
                accepted,
                name,
            },
        );
        if goaway {
            ctx.closing.store(true, Ordering::Release);
        }
        Outcome::Respond {
            response,
            delay,
            goaway,
        }
    }

    fn record(&self, ctx: &ConnCtx, parts: &request::Parts, body: &Bytes, outcome: FcmOutcome) {
        self.log.record_with(|| FcmRequest {
            request: recorded(parts, body),
            connection_id: ctx.id,
            outcome,
        });
    }

    /// S2–S13 for a request no fault answered: `Ok` name or the error.
    fn send(
        &self,
        headers: &HeaderMap,
        project: &str,
        body: &Bytes,
    ) -> (Option<ApiError>, Option<String>) {
        match self.check_send(headers, project, body) {
            Ok(name) => (None, Some(name)),
            Err(error) => (Some(error), None),
        }
    }

    fn check_send(
        &self,
        headers: &HeaderMap,
        project: &str,
        body: &Bytes,
    ) -> Result<String, ApiError> {
        // S2, S3: the bearer access token.
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .filter(|v| !v.is_empty())
            .ok_or_else(errors::missing_credential)?;
        let TokenCheck::Valid { account, fcm_scope } = self.access.check(bearer) else {
            return Err(errors::unauthenticated());
        };
        if !fcm_scope {
            return Err(errors::insufficient_scopes());
        }
        // S4: the project of the URL is the account's.
        let own = self.verifier.account(account).is_some_and(|a| {
            a.project_id == project || a.project_number.as_deref() == Some(project)
        });
        if !own {
            return Err(errors::permission_denied(project));
        }
        // S5–S10.
        let checked = validate::check(body, self.strict_size.load(Ordering::Relaxed))?;
        // S11.
        let device = match &checked.target {
            Target::Token(token) | Target::Fid(token) => {
                let ios = self.check_token(token)?;
                // S9, known only once the registry says the token is Apple's.
                if ios && checked.apple_data_only_high {
                    return Err(ApiError::invalid_argument(
                        "Data-only messages to iOS devices must be sent with apns-priority 5.",
                    ));
                }
                Some(token.as_str())
            }
            _ => None,
        };
        // S12.
        self.quota.admit(device).map_err(errors::quota_exceeded)?;
        // S13.
        if checked.validate_only {
            return Ok(format!("projects/{project}/messages/fake_message_id"));
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(format!(
            "projects/{project}/messages/0:{:016}%{:016x}",
            1_700_000_000_000_000 + seq,
            self.id_salt
        ))
    }

    /// S11; `Ok(true)` for a valid iOS token.
    fn check_token(&self, token: &str) -> Result<bool, ApiError> {
        if token.is_empty() || token.chars().any(char::is_whitespace) {
            return Err(errors::invalid_token());
        }
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        let state = match registry.states.get(token) {
            Some(state) => *state,
            None if registry.accept_any => TokenState::Valid,
            None => TokenState::Invalid,
        };
        match state {
            TokenState::Valid => Ok(false),
            TokenState::Ios => Ok(true),
            TokenState::Invalid => Err(errors::invalid_token()),
            TokenState::Unregistered => Err(errors::unregistered()),
            TokenState::OtherProject => Err(errors::sender_id_mismatch()),
            TokenState::ApnsUnregistered => Err(errors::apns_unregistered()),
            TokenState::ThirdPartyAuthError => Err(errors::third_party_auth_error()),
        }
    }

    fn token(&self, parts: &request::Parts, body: &Bytes) -> Outcome {
        self.oauth_log.record_with(|| recorded(parts, body));
        if parts.method != Method::POST {
            let response = response::raw(405, "", Bytes::new());
            return Outcome::Respond {
                response,
                delay: Duration::ZERO,
                goaway: false,
            };
        }
        let decision = self.oauth_faults.decide(|_| false);
        let reply = match decision.action {
            Some(FcmFault::DropConnection | FcmFault::RefusedStream) => return Outcome::Drop,
            Some(FcmFault::Internal { .. }) => {
                response::oauth_status(500, "internal_failure", "Backend Error")
            }
            Some(FcmFault::Unavailable { .. }) => response::oauth_status(
                503,
                "temporarily_unavailable",
                "The service is currently unavailable.",
            ),
            Some(fault) => match fault.action(TOKEN_PATH, "") {
                Action::Raw(response) => Reply::Response(response),
                Action::Respond { error: Some(e), .. } => Reply::Response(e.into_response()),
                _ => oauth::token_endpoint(&self.verifier, &self.access, &self.token_url, body),
            },
            None => oauth::token_endpoint(&self.verifier, &self.access, &self.token_url, body),
        };
        match reply {
            Reply::Response(response) => Outcome::Respond {
                response,
                delay: decision.delay,
                goaway: false,
            },
            Reply::Drop => Outcome::Drop,
        }
    }
}

/// `message.token` of a body, for token-triggered fault rules.
fn target_token(body: &Bytes) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["message"]["token"].as_str().map(str::to_owned)
}
