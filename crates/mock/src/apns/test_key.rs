//! Test signing keys, so tests of an APNs client can sign provider tokens the simulator verifies.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::ApnsError;
use super::jwt::{ApnsKey, SignatureEncoding};

/// A freshly generated P-256 key pair, for tests only: the private half as the PKCS#8 PEM Apple
/// issues (`AuthKey_<KeyID>.p8`), the public half as SPKI PEM, and signing helpers.
pub struct TestKey {
    private_pem: String,
    public_pem: String,
    raw: EcdsaKeyPair,
    der: EcdsaKeyPair,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// Generates a new key pair.
    pub fn generate() -> TestKey {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .expect("P-256 key generation only fails if the system RNG does");
        TestKey::from_pkcs8_pem(&pair.serialize_pem()).expect("rcgen writes valid P-256 PKCS#8")
    }

    /// Loads a PKCS#8 PEM P-256 private key (for instance a committed TEST ONLY fixture).
    pub fn from_pkcs8_pem(pem: &str) -> Result<TestKey, ApnsError> {
        let bad = |reason: String| ApnsError::InvalidKey {
            key_id: "test".into(),
            reason,
        };
        let (label, der) = super::jwt::pem_decode(pem).ok_or_else(|| bad("not PEM".into()))?;
        if label != "PRIVATE KEY" {
            return Err(bad(format!("expected PRIVATE KEY, got {label}")));
        }
        let raw = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|e| bad(e.to_string()))?;
        let der_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
            .map_err(|e| bad(e.to_string()))?;
        let point = aws_lc_rs::signature::KeyPair::public_key(&raw)
            .as_ref()
            .to_vec();
        // SubjectPublicKeyInfo of an uncompressed P-256 point: this fixed prefix, then the point.
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        spki.extend_from_slice(&point);
        Ok(TestKey {
            private_pem: super::jwt::pem_encode("PRIVATE KEY", &der),
            public_pem: super::jwt::pem_encode("PUBLIC KEY", &spki),
            raw,
            der: der_pair,
        })
    }

    /// The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn private_key_pem(&self) -> &str {
        &self.private_pem
    }

    /// The public key, SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    /// The simulator-side key for this pair, owned by `team_id`, with id `key_id`.
    pub fn apns_key(&self, team_id: &str, key_id: &str) -> ApnsKey {
        ApnsKey::from_pem(team_id, key_id, &self.public_pem).expect("our own SPKI PEM parses")
    }

    /// A provider token as APNs documents it: header `{"alg":"ES256","kid":…}`, claims
    /// `{"iss":…,"iat":…}`, base64url without padding, 64-byte r‖s signature.
    pub fn provider_token(&self, key_id: &str, team_id: &str, iat: i64) -> String {
        self.sign_parts(
            &format!(r#"{{"alg":"ES256","kid":"{key_id}"}}"#),
            &format!(r#"{{"iss":"{team_id}","iat":{iat}}}"#),
            SignatureEncoding::Raw,
        )
    }

    /// Signs arbitrary header and claims JSON (to build malformed or unusual tokens) with the given
    /// signature encoding; parts are base64url without padding.
    pub fn sign_parts(
        &self,
        header_json: &str,
        claims_json: &str,
        encoding: SignatureEncoding,
    ) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header_json),
            URL_SAFE_NO_PAD.encode(claims_json)
        );
        let signature = self.sign(input.as_bytes(), encoding);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// An ES256 signature of `input` (the JWS signing input `header.claims` as it will be sent),
    /// for tokens encoded some other way (padding, standard base64).
    pub fn sign(&self, input: &[u8], encoding: SignatureEncoding) -> Vec<u8> {
        let pair = match encoding {
            SignatureEncoding::Raw => &self.raw,
            SignatureEncoding::Der => &self.der,
        };
        pair.sign(&SystemRandom::new(), input)
            .expect("ECDSA signing only fails if the system RNG does")
            .as_ref()
            .to_vec()
    }
}
