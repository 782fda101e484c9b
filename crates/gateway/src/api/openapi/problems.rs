//! The problem answers of each operation, for the document: every `/problems/<slug>` an
//! operation can answer, grouped by status, each status with a schema that pins `type` to the
//! slugs it can carry (so a client, and schemathesis, can check them).
//!
//! A handler's `#[utoipa::path]` names one set declared with [`problems!`], e.g.
//! `responses((status = 200, ...), DeleteDeviceProblems)`.

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Response, ResponseBuilder};

/// The media type of every error answer (RFC 9457).
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// One problem type: its status, its slug (`type` is `/problems/<slug>`) and when it is answered.
pub(crate) struct Kind {
    status: u16,
    slug: &'static str,
    when: &'static str,
}

const fn kind(status: u16, slug: &'static str, when: &'static str) -> Kind {
    Kind { status, slug, when }
}

// The catalogue; api/problem.rs makes each of them (its table documents the same list).
pub(crate) const MALFORMED_JSON: Kind = kind(400, "malformed-json", "the body is not JSON");
pub(crate) const INVALID_QUERY: Kind = kind(
    400,
    "invalid-query",
    "a query parameter does not parse, or is unknown",
);
pub(crate) const INVALID_PATH: Kind = kind(
    400,
    "invalid-path",
    "a path segment is not UTF-8 once percent-decoded",
);
pub(crate) const MISSING_IDEMPOTENCY_KEY: Kind = kind(
    400,
    "missing-idempotency-key",
    "no `Idempotency-Key` header (or one that is not visible ASCII)",
);
pub(crate) const UNAUTHORIZED: Kind = kind(
    401,
    "unauthorized",
    "no `Authorization: Bearer` key, or an unknown one",
);
pub(crate) const FORBIDDEN: Kind = kind(403, "forbidden", "the key belongs to another app");
pub(crate) const UNKNOWN_APP: Kind = kind(404, "unknown-app", "no app has this id");
pub(crate) const UNKNOWN_DEVICE: Kind = kind(404, "unknown-device", "the user has no such device");
pub(crate) const UNKNOWN_MESSAGE: Kind =
    kind(404, "unknown-message", "the app has no such message");
pub(crate) const KEY_REUSED: Kind = kind(
    409,
    "idempotency-key-reused",
    "the `Idempotency-Key` was used for a different request",
);
pub(crate) const PAYLOAD_TOO_LARGE: Kind = kind(
    413,
    "payload-too-large",
    "the body is over the server's limit",
);
pub(crate) const UNSUPPORTED_MEDIA_TYPE: Kind = kind(
    415,
    "unsupported-media-type",
    "the body is not `application/json`",
);
pub(crate) const INVALID_FIELD: Kind = kind(
    422,
    "invalid-field",
    "a field (or path segment, or header) is missing, unknown, repeated, of the wrong type or value, or the body is not a JSON object; `field` names it (`.`: the body)",
);
pub(crate) const UNKNOWN_CREDENTIAL: Kind = kind(
    422,
    "unknown-credential",
    "the app has no credential of that name and kind",
);
pub(crate) const UNSUPPORTED_TOKEN_KIND: Kind = kind(
    422,
    "unsupported-token-kind",
    "the kind is not served for this app (`daemon` without a daemon channel)",
);
pub(crate) const NO_DAEMON_CHANNEL: Kind = kind(
    404,
    "no-daemon-channel",
    "the app has no daemon channel (no `[apps.<app>.daemon]` section)",
);
pub(crate) const NOT_A_DAEMON_DEVICE: Kind = kind(
    409,
    "not-a-daemon-device",
    "the device is registered with another kind than `daemon`",
);
pub(crate) const DEVICE_NOT_LOGGED_IN: Kind = kind(
    409,
    "device-not-logged-in",
    "the device is logged out or was kicked: it gets no token until it logs in",
);
pub(crate) const INVALID_WEBSOCKET_UPGRADE: Kind = kind(
    400,
    "invalid-websocket-upgrade",
    "not a valid WebSocket opening handshake (HTTP/1.1, `Connection: upgrade`, `Upgrade: websocket`, a 16-byte `Sec-WebSocket-Key`)",
);
pub(crate) const UNSUPPORTED_WEBSOCKET_VERSION: Kind = kind(
    426,
    "unsupported-websocket-version",
    "`Sec-WebSocket-Version` is not 13",
);
pub(crate) const OVERLOADED: Kind = kind(
    503,
    "overloaded",
    "too many requests in progress; retry after `Retry-After` seconds",
);
pub(crate) const TIMEOUT: Kind = kind(
    503,
    "timeout",
    "the request took longer than the server's limit",
);
pub(crate) const UNAVAILABLE: Kind = kind(
    503,
    "unavailable",
    "the store failed; retry after `Retry-After` seconds",
);

/// The responses for `kinds`, one per status.
pub(crate) fn responses(kinds: &[Kind]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<&Kind>> = BTreeMap::new();
    for k in kinds {
        by_status.entry(k.status).or_default().push(k);
    }
    by_status
        .into_iter()
        .map(|(status, kinds)| (status.to_string(), response(status, &kinds).into()))
        .collect()
}

fn response(status: u16, kinds: &[&Kind]) -> Response {
    let description = kinds
        .iter()
        .map(|k| format!("`/problems/{}`: {}", k.slug, k.when))
        .collect::<Vec<_>>()
        .join("; ");
    let types: Vec<String> = kinds
        .iter()
        .map(|k| format!("/problems/{}", k.slug))
        .collect();
    let pinned = ObjectBuilder::new()
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(types)),
        )
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([status])),
        );
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(pinned);
    let mut builder = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new().schema(Some(schema)).build(),
    );
    if status == 401 {
        builder = builder.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["Bearer"])),
                )
                .description(Some("The scheme to authenticate with"))
                .build(),
        );
    }
    if status == 503 {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    builder.build()
}

/// Declares a set of problem answers for an operation's `responses(...)`.
macro_rules! problems {
    ($(#[$doc:meta])* $name:ident: $($kind:ident),+ $(,)?) => {
        $(#[$doc])*
        pub(crate) enum $name {}

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::Response>,
            > {
                use $crate::api::openapi::problems::*;
                responses(&[$($kind),+])
            }
        }
    };
}
pub(crate) use problems;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Problem;
    use crate::service::ServiceError;
    use crate::store::StoreError;

    const CATALOGUE: &[Kind] = &[
        MALFORMED_JSON,
        INVALID_QUERY,
        INVALID_PATH,
        MISSING_IDEMPOTENCY_KEY,
        UNAUTHORIZED,
        FORBIDDEN,
        UNKNOWN_APP,
        UNKNOWN_DEVICE,
        UNKNOWN_MESSAGE,
        KEY_REUSED,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        INVALID_FIELD,
        UNKNOWN_CREDENTIAL,
        UNSUPPORTED_TOKEN_KIND,
        NO_DAEMON_CHANNEL,
        NOT_A_DAEMON_DEVICE,
        DEVICE_NOT_LOGGED_IN,
        INVALID_WEBSOCKET_UPGRADE,
        UNSUPPORTED_WEBSOCKET_VERSION,
        OVERLOADED,
        TIMEOUT,
        UNAVAILABLE,
    ];

    #[test]
    fn every_service_error_is_a_catalogued_problem() {
        let errors = [
            ServiceError::UnknownApp,
            ServiceError::invalid("f", "bad"),
            ServiceError::UnknownCredential {
                kind: "xiaomi".to_owned(),
                credential: "c".to_owned(),
            },
            ServiceError::UnsupportedKind("daemon".to_owned()),
            ServiceError::UnknownDevice,
            ServiceError::UnknownMessage,
            ServiceError::NoDaemonChannel,
            ServiceError::NotDaemonDevice,
            ServiceError::NotLoggedIn(crate::store::Login::LoggedOut),
            ServiceError::Daemon("store".to_owned()),
            ServiceError::IdempotencyKeyReused,
            ServiceError::Store(StoreError::new("disk full")),
        ];
        for error in errors {
            let what = format!("{error:?}");
            let body = serde_json::to_value(Problem::from(error)).unwrap_or_default();
            assert!(
                CATALOGUE
                    .iter()
                    .any(|k| body["type"] == format!("/problems/{}", k.slug)
                        && body["status"] == k.status),
                "{what} answers {body}, which the catalogue lacks"
            );
        }
    }

    #[test]
    fn responses_group_by_status_and_pin_the_types() {
        let map = responses(&[UNKNOWN_APP, UNAUTHORIZED, UNKNOWN_DEVICE]);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["401", "404"]);
        let json = serde_json::to_value(&map["404"]).unwrap_or_default();
        let schema = &json["content"][PROBLEM_JSON]["schema"];
        assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Problem");
        assert_eq!(
            schema["allOf"][1]["properties"]["type"]["enum"],
            serde_json::json!(["/problems/unknown-app", "/problems/unknown-device"])
        );
        let json = serde_json::to_value(&map["401"]).unwrap_or_default();
        assert!(json["headers"]["WWW-Authenticate"].is_object());
    }
}
