//! OAuth 2.0 client credentials (protocols/huawei.md §1a): `POST <oauth base>/oauth2/v3/token`
//! with a form `grant_type=client_credentials&client_id=…&client_secret=…`, answered with
//! `{"access_token","expires_in","token_type"}` or HTTP 400 `{"error":1101,"sub_error":…}`.

use std::time::Duration;

use async_trait::async_trait;
use pushway_core::Reason;
use pushway_core::credential::{AuthFailure, CredentialSource, Fresh, Secret, parse_access_token};
use serde_json::Value;

use super::FAILURE_HOLD;

/// The token path under the OAuth base URL.
pub(crate) const TOKEN_PATH: &str = "/oauth2/v3/token";

/// Access tokens live 3600 s; Huawei's Python demo replaces them 300 s early (§1a).
const REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// The lifetime assumed when the answer has no usable `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Fetches access tokens for one OAuth client.
pub(crate) struct OAuthSource {
    pub http: reqwest::Client,
    pub url: String,
    pub client_id: String,
    pub secret: Secret,
}

#[async_trait]
impl CredentialSource for OAuthSource {
    type Credential = String;

    async fn fetch(&self) -> Result<Fresh<String>, AuthFailure> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.expose()),
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
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|e| AuthFailure::no_answer(e.is_timeout()))?;
        token_answer(status, retry_after, &body)
    }

    fn refresh_ahead(&self) -> Duration {
        REFRESH_AHEAD
    }

    fn failure_hold(&self) -> Duration {
        FAILURE_HOLD
    }
}

/// Classifies the token endpoint's answer. Pure.
pub(crate) fn token_answer(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Fresh<String>, AuthFailure> {
    if status == 200 {
        return parse_access_token(body, DEFAULT_LIFETIME);
    }
    // `error`/`sub_error` are numbers in Huawei's docs and strings in its Go demo.
    let error: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| match &error[key] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    let code = text("sub_error")
        .or_else(|| text("error"))
        .map_or_else(|| format!("oauth_http_{status}"), |c| format!("oauth_{c}"));
    let mut reason = Reason::new(code);
    if let Some(description) = text("error_description") {
        reason = reason.with_detail(description);
    }
    match status {
        429 | 500..=599 => Err(AuthFailure::Unavailable {
            reason,
            after: retry_after,
        }),
        _ => Err(AuthFailure::Refused(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_answer_gives_the_token_and_its_lifetime() {
        let body = br#"{"access_token":"DAEBAGx2Tk9mZ3Vh\/Q0fake+token==","expires_in":3600,"token_type":"Bearer"}"#;
        let fresh = token_answer(200, None, body).unwrap();
        assert_eq!(fresh.credential, "DAEBAGx2Tk9mZ3Vh/Q0fake+token==");
        assert_eq!(fresh.lifetime, Duration::from_secs(3600));
        let fresh = token_answer(200, None, br#"{"access_token":"x"}"#).unwrap();
        assert_eq!(fresh.lifetime, DEFAULT_LIFETIME);
    }

    #[test]
    fn a_wrong_secret_is_refused_with_its_sub_code() {
        let body =
            br#"{"error":1101,"sub_error":12304,"error_description":"invalid client_secret"}"#;
        let Err(AuthFailure::Refused(reason)) = token_answer(400, None, body) else {
            panic!("refused expected");
        };
        assert_eq!(reason.code(), "oauth_12304");
        assert_eq!(reason.detail(), Some("invalid client_secret"));
        let Err(AuthFailure::Refused(reason)) =
            token_answer(400, None, br#"{"error":"1101","sub_error":"20003"}"#)
        else {
            panic!("refused expected");
        };
        assert_eq!(reason.code(), "oauth_20003");
    }

    #[test]
    fn server_trouble_is_unavailable_and_keeps_retry_after() {
        let failure = token_answer(503, Some(Duration::from_secs(7)), b"").unwrap_err();
        assert_eq!(
            failure,
            AuthFailure::Unavailable {
                reason: Reason::new("oauth_http_503"),
                after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            token_answer(200, None, b"<html>"),
            Err(AuthFailure::Unavailable { .. })
        ));
    }
}
