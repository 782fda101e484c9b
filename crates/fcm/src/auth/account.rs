//! The service-account key file and the JWT assertion signed with it (protocols/fcm.md §2).

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pushway_core::credential::Secret;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The OAuth scope of FCM sends.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// Google's token endpoint: the `aud` of every assertion, as google-auth sends it, whatever
/// `token_uri` the key file carries or which token URL is configured (old key files still carry
/// `https://accounts.google.com/o/oauth2/token`).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Validity of an assertion: Google refuses more than an hour (`exp - iat <= 3600`).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// A service-account key file, as downloaded from the Firebase console (Project settings →
/// Service accounts → Generate new private key).
///
/// Only `type` (must be `service_account`), `project_id`, `client_email`, `private_key` (RSA,
/// PKCS#8 PEM), the optional `private_key_id` (the JWT `kid`) and `token_uri` are used; the
/// other fields are ignored. `Debug` never shows the private key.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    #[serde(rename = "type")]
    kind: String,
    project_id: String,
    client_email: String,
    #[serde(default)]
    private_key_id: Option<String>,
    private_key: Secret,
    #[serde(default)]
    token_uri: Option<String>,
}

impl ServiceAccountKey {
    /// Parses the key file's JSON and checks that the private key is a usable RSA key.
    pub fn from_json(json: &str) -> Result<ServiceAccountKey, Error> {
        let key: ServiceAccountKey = serde_json::from_str(json).map_err(|e| {
            // serde's message names the missing field and a position; it quotes no value of a
            // string field, so the private key cannot leak through it.
            Error::key(format!("key file: {e}"))
        })?;
        if key.kind != "service_account" {
            return Err(Error::key(format!(
                "key file: `type` is {:?}, not \"service_account\"",
                key.kind
            )));
        }
        for (name, value) in [
            ("project_id", &key.project_id),
            ("client_email", &key.client_email),
        ] {
            if value.trim().is_empty() {
                return Err(Error::key(format!("key file: `{name}` is empty")));
            }
        }
        key.encoding_key()?;
        Ok(key)
    }

    /// Reads and parses a key file. Blocking file I/O: call it at start-up, not on a runtime
    /// thread in the middle of serving.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ServiceAccountKey, Error> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path)
            .map_err(|e| Error::key(format!("cannot read {}: {e}", path.display())))?;
        ServiceAccountKey::from_json(&json)
    }

    /// The Firebase project the key belongs to: the `{project_id}` of the send URL by default.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The service account's e-mail address: the JWT's `iss`.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The token endpoint named in the key file, if any.
    pub fn token_uri(&self) -> Option<&str> {
        self.token_uri.as_deref()
    }

    fn encoding_key(&self) -> Result<EncodingKey, Error> {
        // Key files carry the PEM with `\n` escapes, which JSON parsing already turned into
        // newlines.
        EncodingKey::from_rsa_pem(self.private_key.expose().as_bytes())
            .map_err(|e| Error::key(format!("private_key is not an RSA PKCS#8 PEM key: {e}")))
    }
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &self.private_key)
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'static str,
    aud: &'static str,
    iat: u64,
    exp: u64,
}

/// Signs JWT-bearer assertions for one service account (RS256, unpadded base64url).
pub(crate) struct Signer {
    key: EncodingKey,
    header: Header,
    client_email: String,
}

impl Signer {
    pub fn new(account: &ServiceAccountKey) -> Result<Self, Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_owned());
        header.kid = account.private_key_id.clone().filter(|k| !k.is_empty());
        let signer = Signer {
            key: account.encoding_key()?,
            header,
            client_email: account.client_email.clone(),
        };
        // Sign once now, so a key that parses but cannot sign fails at build time.
        signer
            .sign(SystemTime::now())
            .map_err(|_| Error::key("private_key cannot sign RS256"))?;
        Ok(signer)
    }

    /// The assertion for a token request made at `now`.
    pub fn sign(&self, now: SystemTime) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: GOOGLE_TOKEN_URL,
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
    }
}
