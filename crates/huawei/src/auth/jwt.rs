//! Service-account JWTs (protocols/huawei.md §1b): signed locally with PS256 and sent as the
//! bearer of the push request itself, not exchanged at the token endpoint.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pushway_core::Reason;
use pushway_core::credential::{AuthFailure, CredentialSource, Fresh, Secret};
use serde::{Deserialize, Serialize};

use super::FAILURE_HOLD;
use crate::Error;

/// The fixed `aud` claim: Huawei's token URI, whatever OAuth base URL is configured (§1b).
pub const JWT_AUDIENCE: &str = "https://oauth-login.cloud.huawei.com/oauth2/v3/token";

/// Validity of a signed JWT: Huawei recommends 3600 s (v3 refuses more than a day).
const LIFETIME: Duration = Duration::from_secs(3600);

/// Re-signed this long before `exp` (§1b).
const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// A service-account key file, as downloaded from the HUAWEI Developers API Console (§1b).
///
/// Only `project_id`, `key_id`, `private_key` (PKCS#8 PEM) and `sub_account` are used; the URI
/// fields are ignored. `Debug` never shows the private key.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    project_id: String,
    key_id: String,
    sub_account: String,
    private_key: String,
}

impl ServiceAccountKey {
    /// Parses the key file's JSON and checks that the private key is a usable RSA key.
    pub fn from_json(json: &str) -> Result<ServiceAccountKey, Error> {
        let key: ServiceAccountKey = serde_json::from_str(json).map_err(|e| {
            // serde's message names the missing field; it never quotes a value of this file.
            Error::key(format!("key file: {e}"))
        })?;
        for (name, value) in [
            ("project_id", &key.project_id),
            ("key_id", &key.key_id),
            ("sub_account", &key.sub_account),
        ] {
            if value.trim().is_empty() {
                return Err(Error::key(format!("key file: `{name}` is empty")));
            }
        }
        key.encoding_key()?;
        Ok(key)
    }

    /// The project the key belongs to: the `projectId` of v2 URLs.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The key id: the JWT's `kid`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The service account: the JWT's `iss`.
    pub fn sub_account(&self) -> &str {
        &self.sub_account
    }

    fn encoding_key(&self) -> Result<EncodingKey, Error> {
        EncodingKey::from_rsa_pem(self.private_key.as_bytes())
            .map_err(|e| Error::key(format!("private_key is not an RSA PKCS#8 PEM key: {e}")))
    }
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("project_id", &self.project_id)
            .field("key_id", &self.key_id)
            .field("sub_account", &self.sub_account)
            .field("private_key", &Secret::new(""))
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'static str,
    iss: &'a str,
    iat: u64,
    exp: u64,
}

/// Signs JWTs for one service account.
pub(crate) struct JwtSource {
    key: EncodingKey,
    header: Header,
    sub_account: String,
}

impl JwtSource {
    pub fn new(account: &ServiceAccountKey) -> Result<Self, Error> {
        let mut header = Header::new(Algorithm::PS256);
        header.kid = Some(account.key_id.clone());
        header.typ = Some("JWT".to_owned());
        let source = JwtSource {
            key: account.encoding_key()?,
            header,
            sub_account: account.sub_account.clone(),
        };
        // Sign once now, so a key that parses but cannot sign fails at build time.
        source
            .sign(SystemTime::now())
            .map_err(|_| Error::key("private_key cannot sign PS256"))?;
        Ok(source)
    }

    fn sign(&self, now: SystemTime) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = Claims {
            aud: JWT_AUDIENCE,
            iss: &self.sub_account,
            iat,
            exp: iat + LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
    }
}

#[async_trait]
impl CredentialSource for JwtSource {
    type Credential = String;

    async fn fetch(&self) -> Result<Fresh<String>, AuthFailure> {
        let jwt = self.sign(SystemTime::now()).map_err(|e| {
            AuthFailure::Refused(Reason::new("jwt_sign").with_detail(e.to_string()))
        })?;
        Ok(Fresh {
            credential: jwt,
            lifetime: LIFETIME,
        })
    }

    fn refresh_ahead(&self) -> Duration {
        REFRESH_AHEAD
    }

    fn failure_hold(&self) -> Duration {
        FAILURE_HOLD
    }
}
