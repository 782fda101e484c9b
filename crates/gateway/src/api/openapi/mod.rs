//! The API's OpenAPI 3.1 document, generated from the code: each handler's `#[utoipa::path]`
//! (its success answers and a [`problems!`] set for its errors) and the types' `ToSchema`
//! derives. Served at `GET /v1/openapi.json` and committed as `openapi.json` at the repository
//! root; the test `openapi::committed_document_is_current` fails when they differ.
//!
//! To add an operation: annotate its handler with `#[utoipa::path]`, declare its problems with
//! [`problems!`], and list it in [`ApiDoc`]'s `paths(...)` below, the one list of every path.

pub(crate) mod message;
pub(crate) mod problems;
pub(crate) mod receive;

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub(crate) use problems::problems;

use super::{daemon, dead_tokens, devices, health, logins, messages, settings};

/// The document's description.
const DESCRIPTION: &str = "pushway's offline-push gateway: IM back ends tell it about devices, \
per-user push settings, logins and messages; it renders, persists, delivers and retries. \
Every `/v1/apps/{app}/...` call needs `Authorization: Bearer <API key>` (a key reaches its own \
app only). Errors are `application/problem+json` (RFC 9457) with a stable `type`.";

/// The document: every path of the API, its schemas and the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "pushway gateway API", description = DESCRIPTION),
    paths(
        devices::put,
        devices::delete,
        devices::list,
        settings::put,
        settings::get,
        logins::login,
        logins::logout,
        logins::kicked,
        logins::logout_all,
        messages::post,
        messages::get,
        messages::summary,
        dead_tokens::get,
        daemon::token,
        daemon::connect,
        document,
        health::livez,
        health::readyz,
    ),
    components(schemas(super::Problem)),
    modifiers(&BearerScheme, &TaggedVariantFields),
    tags(
        (name = "devices", description = "A user's devices and their tokens"),
        (name = "settings", description = "A user's push settings (seed: TIMOfflinePushSettings)"),
        (name = "logins", description = "Login state per device: logged-out and kicked devices get nothing"),
        (name = "messages", description = "Accepting messages and their delivery status"),
        (name = "dead-tokens", description = "Tokens the vendors reported dead, removed from the registry"),
        (name = "daemon", description = "The in-house daemon channel: device tokens and the devices' WebSocket endpoint"),
        (name = "meta", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// The security scheme every app operation names: `Authorization: Bearer <API key>`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// serde's internally tagged enums with `deny_unknown_fields` (the message's `Conversation`
/// and `Element`) refuse unknown fields in variants that have fields, and ignore them in unit
/// variants (`{"type": "sound", "x": 1}` is accepted); utoipa leaves every variant open, so this
/// closes the variants with fields, as the server reads them.
struct TaggedVariantFields;

/// The schemas of internally tagged enums with `deny_unknown_fields`.
const TAGGED_DENYING: [&str; 2] = ["Conversation", "Element"];

impl Modify for TaggedVariantFields {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in TAGGED_DENYING {
            let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(name) else {
                continue;
            };
            for variant in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = variant
                    && object.properties.len() > 1
                {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// The document as pretty JSON with a final newline, exactly as committed.
pub fn json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    text.push('\n');
    text
}

/// Built once: the document does not change while the process runs.
static DOCUMENT: LazyLock<String> = LazyLock::new(json);

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    responses(
        (status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object),
        DocumentProblems,
    )
)]
pub(super) async fn document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

problems!(
    /// `GET /v1/openapi.json` (no key needed).
    DocumentProblems: OVERLOADED, TIMEOUT
);
