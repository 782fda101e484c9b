//! The committed TEST-ONLY service account, with helpers to sign assertions for tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;

use super::account::{MAX_ASSERTION_SECS, SCOPE_FIREBASE_MESSAGING, ServiceAccountKey, unix_now};

const TEST_KEY_FILE: &str = include_str!("../../fixtures/fcm/test-service-account.json");
const TEST_PUBLIC_KEY: &str = include_str!("../../fixtures/fcm/test-service-account.pub.pem");

/// The committed TEST-ONLY service account `crates/mock/fixtures/fcm/test-service-account.json`
/// (Google's key-file format, RSA 2048, project `pushway-test`), with helpers to sign
/// assertions. Its private key is public: never trust it outside tests.
#[derive(Debug, Clone)]
pub struct TestServiceAccount {
    file: Value,
}

impl Default for TestServiceAccount {
    fn default() -> Self {
        TestServiceAccount::new()
    }
}

impl TestServiceAccount {
    /// The fixture key.
    pub fn new() -> TestServiceAccount {
        let file = serde_json::from_str(TEST_KEY_FILE).unwrap_or(Value::Null);
        TestServiceAccount { file }
    }

    fn field(&self, name: &str) -> &str {
        self.file[name].as_str().unwrap_or_default()
    }

    /// `client_email`.
    pub fn client_email(&self) -> &str {
        self.field("client_email")
    }

    /// `project_id`.
    pub fn project_id(&self) -> &str {
        self.field("project_id")
    }

    /// `private_key_id` (the `kid` google-auth puts in the assertion header).
    pub fn private_key_id(&self) -> &str {
        self.field("private_key_id")
    }

    /// `private_key`: RSA PKCS#8 PEM.
    pub fn private_key_pem(&self) -> &str {
        self.field("private_key")
    }

    /// The public key, SPKI PEM.
    pub fn public_key_pem(&self) -> &str {
        TEST_PUBLIC_KEY
    }

    /// What a simulator must trust to accept this account's assertions.
    pub fn key(&self) -> ServiceAccountKey {
        ServiceAccountKey {
            client_email: self.client_email().to_owned(),
            project_id: self.project_id().to_owned(),
            project_number: None,
            public_key_pem: TEST_PUBLIC_KEY.to_owned(),
        }
    }

    /// The key file as JSON text, exactly as committed (`token_uri` is Google's).
    pub fn key_file_json(&self) -> &'static str {
        TEST_KEY_FILE
    }

    /// The key file with `token_uri` replaced (e.g. by [`super::FcmSimulator::token_url`]), as a
    /// client under test reads it.
    pub fn key_file_json_with_token_uri(&self, token_uri: &str) -> String {
        let mut file = self.file.clone();
        file["token_uri"] = Value::String(token_uri.to_owned());
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Signs `header.claims` (any JSON, unpadded base64url) with RS256: for well-formed and
    /// deliberately bad assertions alike.
    pub fn sign(&self, header_json: &str, claims_json: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header_json),
            URL_SAFE_NO_PAD.encode(claims_json)
        );
        let signature = EncodingKey::from_rsa_pem(self.private_key_pem().as_bytes())
            .and_then(|key| jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::RS256))
            .unwrap_or_default();
        format!("{input}.{signature}")
    }

    /// A valid assertion for `aud` as google-auth builds it: header with `kid`, `iss`, `scope`
    /// `firebase.messaging`, `iat` = now, `exp` = now + 3600.
    pub fn assertion(&self, aud: &str) -> String {
        let now = unix_now();
        self.sign(
            &format!(
                r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#,
                self.private_key_id()
            ),
            &serde_json::json!({
                "iss": self.client_email(),
                "scope": SCOPE_FIREBASE_MESSAGING,
                "aud": aud,
                "iat": now,
                "exp": now + MAX_ASSERTION_SECS,
            })
            .to_string(),
        )
    }
}
