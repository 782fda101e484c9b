//! `POST /v1/<appId>/messages:send` and `/v2/<projectId>/messages:send` (protocols/huawei.md §2, §3).
//!
//! Checks, in order: bearer credential (80200001 missing, unknown or for another app/project;
//! 80200003 expired access token; 80200005 expired JWT), JSON structure (80100003), exactly one
//! of `token`/`topic`/`condition` (none: 80300010, several: 80100001), body size without the
//! tokens (80300008 above 4096 bytes), token count 1..=1000 (80300010), then the tokens:
//! all invalid 80300007, some invalid 80100000 with the detail in `msg`, else 80000000.

use std::borrow::Cow;
use std::sync::PoisonError;

use bytes::Bytes;
use http::{HeaderMap, header};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::jwt::{JwtCheck, looks_like_jwt};
use super::oauth::TokenCheck;
use super::response::Code;
use super::state::State;

/// Most tokens one request may carry (§2.2).
pub const MAX_TOKENS: usize = 1000;
/// Largest body accepted, in bytes of JSON with the token list left out (§2.2).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Which URL version a send used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `/v1/<clientId>`: OAuth token of that client (or a service-account JWT).
    V1,
    /// `/v2/<projectId>`: OAuth token of a client of that project, or its service-account JWT.
    V2,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default)]
    validate_only: bool,
    #[serde(borrow)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    token: Option<&'a RawValue>,
    topic: Option<IgnoredAny>,
    condition: Option<IgnoredAny>,
}

/// One device token, borrowed from the body unless it had escapes.
#[derive(Deserialize)]
pub(crate) struct Token<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// A send body, parsed as far as the simulator needs it.
pub(crate) struct Parsed<'a> {
    pub validate_only: bool,
    /// Empty for a topic or condition send.
    pub tokens: Vec<Token<'a>>,
    pub to_topic: bool,
    /// Body length with the token array counted as `[]`.
    pub size_without_tokens: usize,
}

/// Parses a send body; `Err` is the result code a malformed body gets.
pub(crate) fn parse(body: &Bytes) -> Result<Parsed<'_>, Code> {
    let parsed: Body<'_> = serde_json::from_slice(body).map_err(|_| Code::StructureError)?;
    let message = parsed.message.ok_or(Code::TokenCount)?;
    let targets = [
        message.token.is_some(),
        message.topic.is_some(),
        message.condition.is_some(),
    ];
    match targets.iter().filter(|&&t| t).count() {
        0 => return Err(Code::TokenCount),
        1 => {}
        _ => return Err(Code::ParameterError),
    }
    let Some(raw) = message.token else {
        return Ok(Parsed {
            validate_only: parsed.validate_only,
            tokens: Vec::new(),
            to_topic: true,
            size_without_tokens: body.len(),
        });
    };
    let tokens: Vec<Token<'_>> =
        serde_json::from_str(raw.get()).map_err(|_| Code::StructureError)?;
    Ok(Parsed {
        validate_only: parsed.validate_only,
        tokens,
        to_topic: false,
        size_without_tokens: body.len() - raw.get().len() + 2,
    })
}

impl State {
    /// Checks the `Authorization: Bearer …` header against the URL.
    pub(crate) fn authorize(
        &self,
        version: Version,
        path_id: &str,
        headers: &HeaderMap,
    ) -> Result<(), Code> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|v| !v.is_empty())
            .ok_or(Code::AuthError)?;
        if looks_like_jwt(bearer) {
            let verifier = self.jwt.as_ref().ok_or(Code::AuthError)?;
            match verifier.check(bearer) {
                JwtCheck::Valid => {}
                JwtCheck::Expired => return Err(Code::JwtExpired),
                JwtCheck::Invalid => return Err(Code::AuthError),
            }
            let right_target = match version {
                Version::V2 => path_id == verifier.project_id(),
                Version::V1 => self
                    .client
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .id
                    .as_deref()
                    .is_none_or(|id| id == path_id),
            };
            return if right_target {
                Ok(())
            } else {
                Err(Code::AuthError)
            };
        }
        match self.access.check(bearer) {
            TokenCheck::Unknown => Err(Code::AuthError),
            TokenCheck::Expired => Err(Code::TokenExpired),
            // A token of app A used on app B's URL is 80200001 (Huawei FAQ, §3.3).
            TokenCheck::Valid(client_id) => {
                let right_target = match version {
                    Version::V1 => client_id == path_id,
                    Version::V2 => self.project_id.as_deref() == Some(path_id),
                };
                if right_target {
                    Ok(())
                } else {
                    Err(Code::AuthError)
                }
            }
        }
    }
}
