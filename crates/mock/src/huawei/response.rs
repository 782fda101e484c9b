//! The bodies the Huawei simulator answers with (protocols/huawei.md §1a, §3, §6; see
//! `fixtures/huawei/`).

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use crate::http_server::Reply;

use super::{ErrorStatus, IllegalTokensShape};

/// The send API's content type (F5).
const SEND_JSON: &str = "application/json";
/// The OAuth server's content type (F1).
const OAUTH_JSON: &str = "application/json;charset=UTF-8";

/// A result code of the send API, with the HTTP status it is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    Success,
    PartialSuccess,
    ParameterError,
    StructureError,
    AuthError,
    TokenExpired,
    JwtExpired,
    AllTokensInvalid,
    MessageTooBig,
    TokenCount,
    InternalError,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::Success => "80000000",
            Code::PartialSuccess => "80100000",
            Code::ParameterError => "80100001",
            Code::StructureError => "80100003",
            Code::AuthError => "80200001",
            Code::TokenExpired => "80200003",
            Code::JwtExpired => "80200005",
            Code::AllTokensInvalid => "80300007",
            Code::MessageTooBig => "80300008",
            Code::TokenCount => "80300010",
            Code::InternalError => "81000001",
        }
    }

    /// The HTTP status. Which status goes with which code is undocumented for v1/v2 (§3.2, §7.1):
    /// `Documented` follows the v3 status table (401 auth, 400 parameters, 500 internal) and the
    /// fixtures (200 for 80300007, F8); `AlwaysOk` serves every code with 200.
    pub fn status(self, mode: ErrorStatus) -> StatusCode {
        if mode == ErrorStatus::AlwaysOk {
            return StatusCode::OK;
        }
        match self {
            Code::Success | Code::PartialSuccess | Code::AllTokensInvalid => StatusCode::OK,
            Code::AuthError | Code::TokenExpired | Code::JwtExpired => StatusCode::UNAUTHORIZED,
            Code::ParameterError
            | Code::StructureError
            | Code::MessageTooBig
            | Code::TokenCount => StatusCode::BAD_REQUEST,
            Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The fixed `msg` of a code that does not list tokens.
    fn message(self) -> &'static str {
        match self {
            Code::Success => "Success",
            Code::PartialSuccess => "Check Parameter Partial Success.",
            Code::ParameterError => "Parameter error",
            Code::StructureError => "Illegal payload, message structure error",
            Code::AuthError => "Oauth authentication error",
            Code::TokenExpired => "Oauth Token expired",
            Code::JwtExpired => "JWT token expired",
            Code::AllTokensInvalid => "All the tokens are invalid",
            Code::MessageTooBig => "Push message size is too long.",
            Code::TokenCount => "token count should within 1 and 1000.",
            Code::InternalError => "Inner Error.",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendBody<'a> {
    code: &'static str,
    msg: &'a str,
    request_id: String,
}

/// The `requestId` of the n-th send (24 digits, the shape of the fixtures).
fn request_id(seq: u64) -> String {
    format!("1700000000{seq:014}")
}

/// A send answer whose `msg` is the code's fixed text.
pub(crate) fn send(code: Code, seq: u64, mode: ErrorStatus) -> Reply {
    send_with_msg(code, code.message(), seq, mode)
}

fn send_with_msg(code: Code, msg: &str, seq: u64, mode: ErrorStatus) -> Reply {
    let body = SendBody {
        code: code.as_str(),
        msg,
        request_id: request_id(seq),
    };
    json(code.status(mode), SEND_JSON, &body)
}

#[derive(Serialize)]
struct SnakeDetail<'a> {
    success: usize,
    failure: usize,
    illegal_tokens: &'a [&'a str],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CamelDetail<'a> {
    failure: usize,
    illegal_tokens: std::collections::BTreeMap<&'a str, &'a [&'a str]>,
}

/// 80100000 (some tokens invalid) or 80300007 (all invalid), with the per-token detail in `msg`
/// as a JSON string of the configured shape (§3.4). The snake shape of 80300007 carries the
/// plain text of F8, as the v1 response quoted in the notes does.
pub(crate) fn invalid_tokens(
    valid: usize,
    invalid: &[&str],
    shape: &IllegalTokensShape,
    seq: u64,
    mode: ErrorStatus,
) -> Reply {
    let code = if valid == 0 {
        Code::AllTokensInvalid
    } else {
        Code::PartialSuccess
    };
    let msg = match shape {
        IllegalTokensShape::SnakeCase if valid == 0 => return send(code, seq, mode),
        IllegalTokensShape::SnakeCase => serde_json::to_string(&SnakeDetail {
            success: valid,
            failure: invalid.len(),
            illegal_tokens: invalid,
        }),
        IllegalTokensShape::CamelCase { reason } => serde_json::to_string(&CamelDetail {
            failure: invalid.len(),
            illegal_tokens: [(reason.as_str(), invalid)].into_iter().collect(),
        }),
    };
    match msg {
        Ok(msg) => send_with_msg(code, &msg, seq, mode),
        Err(_) => Reply::empty(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    expires_in: u64,
    token_type: &'static str,
}

/// The OAuth client-credentials success (F1).
pub(crate) fn access_token(token: &str, expires_in: u64) -> Reply {
    let body = TokenBody {
        access_token: token,
        expires_in,
        token_type: "Bearer",
    };
    json(StatusCode::OK, OAUTH_JSON, &body)
}

#[derive(Serialize)]
struct OAuthError {
    error: u32,
    sub_error: u32,
    error_description: &'static str,
}

/// An OAuth error: HTTP 400, main code 1101 and a sub-code (account-server-error-code page).
pub(crate) fn oauth_error(sub_error: u32, error_description: &'static str) -> Reply {
    let body = OAuthError {
        error: 1101,
        sub_error,
        error_description,
    };
    json(StatusCode::BAD_REQUEST, OAUTH_JSON, &body)
}

fn json(status: StatusCode, content_type: &'static str, body: &impl Serialize) -> Reply {
    match serde_json::to_vec(body) {
        Ok(bytes) => Reply::body(status, content_type, Bytes::from(bytes)),
        Err(_) => Reply::empty(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
