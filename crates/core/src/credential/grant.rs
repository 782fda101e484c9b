//! The successful answer of an OAuth 2.0 token endpoint (RFC 6749 §5.1):
//! `{"access_token": "…", "expires_in": 3600, "token_type": "Bearer"}`. Its error answers differ
//! by vendor (Huawei's numeric `sub_error`, Google's retryable `error` values) and are read by
//! each channel.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{AuthFailure, Fresh};
use crate::Reason;

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    #[serde(default)]
    expires_in: Value,
}

/// Reads a token endpoint's 200 answer: the access token and its lifetime.
///
/// `expires_in` is a number in the RFC and in Huawei's and Google's answers; a numeric string is
/// accepted too (Huawei's demos and some Google services send one; google-auth accepts both).
/// Without a usable `expires_in`, the token lives `default_lifetime` (the vendor's documented
/// one). An answer that is not JSON or has no `access_token` is the endpoint's trouble, not a
/// refusal: [`AuthFailure::Unavailable`] with the reason `oauth_bad_answer`.
///
/// The token is checked to be what RFC 6749 (appendix A.12) allows, `1*VSCHAR` (printable
/// ASCII), so `Bearer <token>` is always a valid `Authorization` header value; another token is
/// [`AuthFailure::Refused`] with the reason `oauth_bad_token` (the sends get `Auth`: no resend
/// could carry it).
pub fn parse_access_token(
    body: &[u8],
    default_lifetime: Duration,
) -> Result<Fresh<String>, AuthFailure> {
    let granted: Granted = serde_json::from_slice(body).map_err(|_| AuthFailure::Unavailable {
        reason: Reason::new("oauth_bad_answer")
            .with_detail("the token answer is not JSON with an access_token"),
        after: None,
    })?;
    let printable = |b: u8| (0x20..=0x7e).contains(&b);
    if granted.access_token.is_empty() || !granted.access_token.bytes().all(printable) {
        return Err(AuthFailure::Refused(
            Reason::new("oauth_bad_token")
                .with_detail("the issued token is not printable ASCII (RFC 6749 A.12)"),
        ));
    }
    let secs = match &granted.expires_in {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(Fresh {
        credential: granted.access_token,
        lifetime: secs.map_or(default_lifetime, Duration::from_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn lifetime(body: &str) -> Duration {
        parse_access_token(body.as_bytes(), HOUR).unwrap().lifetime
    }

    #[test]
    fn the_token_and_its_lifetime_as_a_number_or_a_numeric_string() {
        let body = br#"{"access_token":"DAEBAGx2Tk9mZ3Vh\/Q0fake+token==","expires_in":3599,"token_type":"Bearer"}"#;
        let fresh = parse_access_token(body, HOUR).unwrap();
        assert_eq!(fresh.credential, "DAEBAGx2Tk9mZ3Vh/Q0fake+token==");
        assert_eq!(fresh.lifetime, Duration::from_secs(3599));
        assert_eq!(
            lifetime(r#"{"access_token":"x","expires_in":" 120 "}"#),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn without_a_usable_expires_in_the_default_lifetime() {
        assert_eq!(lifetime(r#"{"access_token":"x"}"#), HOUR);
        assert_eq!(lifetime(r#"{"access_token":"x","expires_in":null}"#), HOUR);
        assert_eq!(lifetime(r#"{"access_token":"x","expires_in":-5}"#), HOUR);
        assert_eq!(
            lifetime(r#"{"access_token":"x","expires_in":"soon"}"#),
            HOUR
        );
    }

    #[test]
    fn a_token_that_cannot_be_a_header_value_is_refused() {
        let bad_token = AuthFailure::Refused(
            Reason::new("oauth_bad_token")
                .with_detail("the issued token is not printable ASCII (RFC 6749 A.12)"),
        );
        for token in ["", "line\\nbreak", "tab\\there", "caf\u{e9}", "del\\u007f"] {
            let body = format!(r#"{{"access_token":"{token}","expires_in":3600}}"#);
            assert_eq!(
                parse_access_token(body.as_bytes(), HOUR).unwrap_err(),
                bad_token,
                "{token:?}"
            );
        }
        // Every printable character, the space included, is a valid token character.
        let body = br#"{"access_token":" !~a.b-c_d/e+f=","expires_in":3600}"#;
        assert_eq!(
            parse_access_token(body, HOUR).unwrap().credential,
            " !~a.b-c_d/e+f="
        );
    }

    #[test]
    fn an_answer_without_a_token_is_unavailable() {
        let bad_answer = AuthFailure::Unavailable {
            reason: Reason::new("oauth_bad_answer")
                .with_detail("the token answer is not JSON with an access_token"),
            after: None,
        };
        assert_eq!(parse_access_token(b"<html>", HOUR).unwrap_err(), bad_answer);
        assert_eq!(
            parse_access_token(br#"{"expires_in":3600}"#, HOUR).unwrap_err(),
            bad_answer
        );
    }
}
