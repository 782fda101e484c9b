//! The bodies the FCM simulator answers with (protocols/fcm.md §5 and §8): Google's
//! `google.rpc.Status` envelope, pretty-printed as Google does, with FCM's code in `details[]`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

/// What every JSON answer of the send and token endpoints carries (§8).
pub const JSON_UTF8: &str = "application/json; charset=UTF-8";
/// The `www-authenticate` of a 401 without credentials (S2).
pub const WWW_AUTHENTICATE_MISSING: &str = r#"Bearer realm="https://accounts.google.com/""#;
/// The `www-authenticate` of a 401 with a bad or expired token (S3).
pub const WWW_AUTHENTICATE_INVALID: &str =
    r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#;

pub(crate) const INVALID_SIGNATURE: &str = "Invalid JWT Signature.";
/// [model]: Google's wording for a wrong `aud` is unverified.
pub(crate) const INVALID_AUDIENCE: &str =
    "Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token";
pub(crate) const INVALID_TIMEFRAME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

pub(crate) const MISSING_CREDENTIAL: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
pub(crate) const INVALID_CREDENTIAL: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
pub(crate) const INSUFFICIENT_SCOPES: &str = "Request had insufficient authentication scopes.";
pub(crate) const INVALID_TOKEN: &str =
    "The registration token is not a valid FCM registration token";
pub(crate) const NOT_FOUND: &str = "Requested entity was not found.";
pub(crate) const TOO_BIG: &str = "Android message is too big";

/// The HTML page Google's front end serves for an unknown path (S1, \[I7\]).
pub(crate) fn not_found_html(path: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  \
         <title>Error 404 (Not Found)!!1</title>\n  \
         <p><b>404.</b> <ins>That’s an error.</ins>\n  \
         <p>The requested URL <code>{}</code> was not found on this server.  \
         <ins>That’s all we know.</ins>\n",
        path.replace('<', "&lt;")
    )
}

/// One entry of `error.details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "@type")]
pub(crate) enum Detail {
    #[serde(rename = "type.googleapis.com/google.firebase.fcm.v1.FcmError")]
    FcmError {
        #[serde(rename = "errorCode")]
        error_code: &'static str,
    },
    #[serde(rename = "type.googleapis.com/google.firebase.fcm.v1.ApnsError")]
    ApnsError {
        #[serde(rename = "statusCode")]
        status_code: u16,
        reason: &'static str,
    },
    #[serde(rename = "type.googleapis.com/google.rpc.BadRequest")]
    BadRequest {
        #[serde(rename = "fieldViolations", skip_serializing_if = "Vec::is_empty")]
        field_violations: Vec<FieldViolation>,
    },
    #[serde(rename = "type.googleapis.com/google.rpc.QuotaFailure")]
    QuotaFailure { violations: Vec<QuotaViolation> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct QuotaViolation {
    pub subject: String,
    pub description: String,
}

pub(crate) fn fcm(code: &'static str) -> Detail {
    Detail::FcmError { error_code: code }
}

/// One error answer of the send endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
    pub details: Vec<Detail>,
    /// `retry-after` in seconds.
    pub retry_after: Option<u64>,
    pub www_authenticate: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: u16, status: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
            www_authenticate: None,
        }
    }

    pub fn detail(mut self, detail: Detail) -> ApiError {
        self.details.push(detail);
        self
    }

    pub fn retry_after(mut self, secs: Option<u64>) -> ApiError {
        self.retry_after = secs;
        self
    }

    /// 400 INVALID_ARGUMENT with a BadRequest field violation whose description is the message.
    pub fn bad_field(field: &str, message: String) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", message.clone()).detail(Detail::BadRequest {
            field_violations: vec![FieldViolation {
                field: field.to_owned(),
                description: message,
            }],
        })
    }

    /// 400 INVALID_ARGUMENT with FcmError INVALID_ARGUMENT (texts of rows S7–S9 are [model]).
    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", message).detail(fcm("INVALID_ARGUMENT"))
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Status<'a>,
        }
        #[derive(Serialize)]
        struct Status<'a> {
            code: u16,
            message: &'a str,
            status: &'a str,
            #[serde(skip_serializing_if = "<[Detail]>::is_empty")]
            details: &'a [Detail],
        }
        let envelope = Envelope {
            error: Status {
                code: self.code,
                message: &self.message,
                status: self.status,
                details: &self.details,
            },
        };
        let mut response = json(self.code, &envelope);
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(value) = self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        response
    }
}

/// 200 `{"name": …}`.
pub(crate) fn sent(name: &str) -> Response<Full<Bytes>> {
    #[derive(Serialize)]
    struct Sent<'a> {
        name: &'a str,
    }
    json(200, &Sent { name })
}

/// The token endpoint's success (§2).
pub(crate) fn access_token(token: &str, expires_in: u64) -> crate::http_server::Reply {
    #[derive(Serialize)]
    struct TokenBody<'a> {
        access_token: &'a str,
        expires_in: u64,
        token_type: &'static str,
    }
    crate::http_server::Reply::Response(json(
        200,
        &TokenBody {
            access_token: token,
            expires_in,
            token_type: "Bearer",
        },
    ))
}

/// A token endpoint error: 400 `{"error": …, "error_description": …}` (§2, T1–T5).
pub(crate) fn oauth_error(error: &str, description: &str) -> crate::http_server::Reply {
    oauth_status(400, error, description)
}

/// A token endpoint error with another status (scripted 500/503; bodies are [model]).
pub(crate) fn oauth_status(
    status: u16,
    error: &str,
    description: &str,
) -> crate::http_server::Reply {
    #[derive(Serialize)]
    struct OAuthError<'a> {
        error: &'a str,
        error_description: &'a str,
    }
    crate::http_server::Reply::Response(json(
        status,
        &OAuthError {
            error,
            error_description: description,
        },
    ))
}

/// A pretty-printed JSON response (2-space indent, as Google answers).
pub(crate) fn json(status: u16, body: &impl Serialize) -> Response<Full<Bytes>> {
    let (status, bytes) = match serde_json::to_vec_pretty(body) {
        Ok(bytes) => (status, bytes),
        Err(_) => (500, Vec::new()),
    };
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

/// A response with a body of any content type (HTML pages, scripted raw answers).
pub(crate) fn raw(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(content_type)
        && !content_type.is_empty()
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
