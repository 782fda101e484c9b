//! The JWT-bearer grant (protocols/fcm.md §2): `POST <token url>` with the form
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`, answered with
//! `{"access_token","expires_in","token_type"}` or `{"error","error_description"}`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::HeaderValue;
use pushway_core::Reason;
use pushway_core::credential::{AuthFailure, CredentialSource, Fresh, parse_access_token};
use serde_json::Value;

use super::FAILURE_HOLD;
use super::account::Signer;

/// The grant type of a service-account assertion.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Access tokens live about an hour (`expires_in: 3599`); replaced 5 minutes early (fcm.md §2:
/// google-auth uses 3 min 45 s), so no send ever carries a token about to expire.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// The lifetime assumed when the answer has no usable `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// `error` values google-auth retries: the endpoint's own trouble, not a refused assertion.
const RETRYABLE_ERRORS: [&str; 3] = [
    "internal_failure",
    "server_error",
    "temporarily_unavailable",
];

/// Exchanges signed assertions for access tokens.
pub(crate) struct OAuthSource {
    pub http: reqwest::Client,
    pub url: String,
    pub signer: Signer,
}

#[async_trait]
impl CredentialSource for OAuthSource {
    type Credential = HeaderValue;

    async fn fetch(&self) -> Result<Fresh<HeaderValue>, AuthFailure> {
        let assertion = self.signer.sign(SystemTime::now()).map_err(|e| {
            AuthFailure::Refused(Reason::new("jwt_sign").with_detail(e.to_string()))
        })?;
        let form = [
            ("grant_type", GRANT_TYPE),
            ("assertion", assertion.as_str()),
        ];
        // The client's timeout bounds the whole exchange.
        let response = self
            .http
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .map_err(|e| AuthFailure::no_answer(e.is_timeout()))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::classify::parse_retry_after(v, SystemTime::now()));
        let body = response
            .bytes()
            .await
            .map_err(|e| AuthFailure::no_answer(e.is_timeout()))?;
        let fresh = token_answer(status, retry_after, &body)?;
        Ok(Fresh {
            credential: bearer_header(&fresh.credential)?,
            lifetime: fresh.lifetime,
        })
    }

    fn refresh_ahead(&self) -> Duration {
        REFRESH_AHEAD
    }

    fn failure_hold(&self) -> Duration {
        FAILURE_HOLD
    }
}

/// `Bearer <token>`, built once per token (not per send) and marked sensitive so it is never
/// logged. `parse_access_token` has already refused tokens that are not printable ASCII.
fn bearer_header(token: &str) -> Result<HeaderValue, AuthFailure> {
    let mut value = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
        AuthFailure::Refused(
            Reason::new("oauth_bad_token").with_detail("the access token is not a header value"),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Classifies the token endpoint's answer. Pure.
///
/// 200 → the token; 429, 5xx and the retryable `error` values → `Unavailable` (the sends that
/// waited get `Retry`); any other answer → `Refused` with the `error` value as the reason code
/// (`invalid_grant`: a deleted key or a clock far off), so the sends get `Auth`.
pub(crate) fn token_answer(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Fresh<String>, AuthFailure> {
    if status == 200 {
        return parse_access_token(body, DEFAULT_LIFETIME);
    }
    let error: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| error[key].as_str().map(str::to_owned);
    let code = text("error");
    let retryable = matches!(status, 429 | 500..=599)
        || code
            .as_deref()
            .is_some_and(|c| RETRYABLE_ERRORS.contains(&c));
    let mut reason = Reason::new(code.unwrap_or_else(|| format!("oauth_http_{status}")));
    if let Some(description) = text("error_description") {
        reason = reason.with_detail(description);
    }
    if retryable {
        Err(AuthFailure::Unavailable {
            reason,
            after: retry_after,
        })
    } else {
        Err(AuthFailure::Refused(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn googles_answer_gives_the_token_and_its_lifetime() {
        let body = b"{\n  \"access_token\": \"ya29.c.b0Aaekm1K\",\n  \"expires_in\": 3599,\n  \"token_type\": \"Bearer\"\n}";
        let fresh = token_answer(200, None, body).unwrap();
        assert_eq!(fresh.credential, "ya29.c.b0Aaekm1K");
        assert_eq!(fresh.lifetime, Duration::from_secs(3599));
        let fresh = token_answer(200, None, br#"{"access_token":"x"}"#).unwrap();
        assert_eq!(fresh.lifetime, DEFAULT_LIFETIME);
    }

    #[test]
    fn a_refused_assertion_is_refused_with_the_error_value() {
        let body = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        assert_eq!(
            token_answer(400, None, body).unwrap_err(),
            AuthFailure::Refused(
                Reason::new("invalid_grant").with_detail("Invalid JWT Signature.")
            )
        );
        assert_eq!(
            token_answer(401, None, br#"{"error":"invalid_client"}"#).unwrap_err(),
            AuthFailure::Refused(Reason::new("invalid_client"))
        );
        assert_eq!(
            token_answer(403, None, b"<html>").unwrap_err(),
            AuthFailure::Refused(Reason::new("oauth_http_403"))
        );
    }

    #[test]
    fn endpoint_trouble_is_unavailable_and_keeps_retry_after() {
        let seven = Some(Duration::from_secs(7));
        assert_eq!(
            token_answer(503, seven, b"").unwrap_err(),
            AuthFailure::Unavailable {
                reason: Reason::new("oauth_http_503"),
                after: seven
            }
        );
        assert_eq!(
            token_answer(429, None, br#"{"error":"rate_limit_exceeded"}"#).unwrap_err(),
            AuthFailure::Unavailable {
                reason: Reason::new("rate_limit_exceeded"),
                after: None
            }
        );
        assert_eq!(
            token_answer(400, None, br#"{"error":"temporarily_unavailable"}"#).unwrap_err(),
            AuthFailure::Unavailable {
                reason: Reason::new("temporarily_unavailable"),
                after: None
            }
        );
        assert!(matches!(
            token_answer(200, None, b"<html>"),
            Err(AuthFailure::Unavailable { .. })
        ));
    }
}
