//! Reading JSON bodies: syntax errors are 400, anything that does not fit the type is 422 with
//! the field's path, an oversized body is 413, another media type 415. Every body the API reads
//! is a JSON object: an array is 422 too, though serde's derived types would take one as their
//! fields in order (`[]` would have been settings with every field unset).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::Problem;

/// The body as a `T`, and its bytes.
pub(crate) fn parse<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(T, Bytes), Problem> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Body too large",
            )
            .detail(rejection.body_text())
        } else {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
                .detail(rejection.body_text())
        }
    })?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Body must be application/json",
        ));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        // Well-formed or not decides between 422 and 400, as for any other body.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                Ok(_) => Problem::invalid(".", "invalid type: sequence, expected an object"),
                Err(e) => problem(e, None),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| {
            let field = e.path().to_string();
            problem(e.into_inner(), Some(field))
        })
        .and_then(|value| de.end().map(|()| value).map_err(|e| problem(e, None)))?;
    Ok((value, bytes))
}

fn problem(e: serde_json::Error, field: Option<String>) -> Problem {
    match e.classify() {
        Category::Data => Problem::invalid(field.unwrap_or_else(|| ".".to_owned()), e.to_string()),
        Category::Syntax | Category::Eof | Category::Io => {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
                .detail(e.to_string())
        }
    }
}
