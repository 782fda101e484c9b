//! Reading JSON bodies: syntax errors are 400, anything that does not fit the type is 422 with
//! the field's path, an oversized body is 413, another media type 415.
//!
//! Two rules hold for every body, before its type is read:
//! - it is a JSON object: an array is 422, though serde's derived types would take one as
//!   their fields in order (`[]` would have been settings with every field unset);
//! - no object in it repeats a key: 422 `duplicate field`, at any depth. Derived types refuse a
//!   repeated field, but maps (a message kept as JSON, the receive rules' peers and groups)
//!   keep the last value without a word, so a proxy that read the first one would see another
//!   request than the gateway stores.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
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
    // Each pass runs plainly first: tracking the path costs an allocation per key read, and
    // only a failing body needs it, so only a failing body is read again to say where.
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let unique = UniqueKeys::deserialize(&mut de).and_then(|_| de.end());
    if unique.is_err() {
        // Also the syntax check, to the body's end: a malformed body is 400 here, whatever
        // its first byte.
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize::<_, UniqueKeys>(&mut de)
            .map_err(path_problem)
            .and_then(|_| de.end().map_err(|e| problem(e, None)))?;
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Problem::invalid(
            ".",
            "invalid type: sequence, expected an object",
        ));
    }
    if let Ok(value) = T::deserialize(&mut serde_json::Deserializer::from_slice(&bytes)) {
        return Ok((value, bytes));
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_problem)?;
    Ok((value, bytes))
}

/// A JSON value read only to check that no object in it repeats a key (keys are borrowed
/// from the body when they have no escapes, so the check allocates little).
struct UniqueKeys;

impl<'de> de::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if let Some(repeated) = seen.replace(key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate field `{repeated}`"
                )));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(self)
    }
}

/// An object's key, borrowed from the body when it can be.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

fn path_problem(e: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let field = e.path().to_string();
    problem(e.into_inner(), Some(field))
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

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, HeaderValue, header};
    use serde::Deserialize;

    use super::{UniqueKeys, parse};

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        count: u32,
    }

    fn read(text: &str) -> Result<Body, serde_json::Value> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        parse::<Body>(&headers, Ok(Bytes::from(text.to_owned())))
            .map(|(body, _)| body)
            .map_err(|problem| serde_json::to_value(problem).expect("a problem is JSON"))
    }

    #[test]
    fn a_body_that_fits_is_read_and_one_that_does_not_says_where() {
        assert_eq!(
            read(r#"{"name": "a", "inner": {"count": 2}}"#),
            Ok(Body {
                name: "a".to_owned(),
                inner: Inner { count: 2 },
            })
        );
        let problem = read(r#"{"name": "a", "inner": {"count": -2}}"#).expect_err("negative");
        assert_eq!(
            (&problem["type"], &problem["field"]),
            (&"/problems/invalid-field".into(), &"inner.count".into())
        );
        let problem =
            read(r#"{"name": "a", "inner": {"count": 2, "count": 3}}"#).expect_err("repeated");
        assert_eq!(problem["field"], "inner");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("duplicate field `count`")),
            "{problem}"
        );
        let problem = read(r#"{"name": "a", "inner": {"count": 2}} x"#).expect_err("trailing");
        assert_eq!(problem["type"], "/problems/malformed-json");
    }

    fn check(text: &str) -> Result<(), (String, String)> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize::<_, UniqueKeys>(&mut de)
            .map(|_| ())
            .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_with_its_path() {
        check(r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}, "c": 1}], "b": {"a": 1}}"#)
            .expect("no key repeated in one object");
        check("[]").expect("not an object");
        assert_eq!(
            check(r#"{"a": 1, "a": 2}"#),
            Err((
                ".".to_owned(),
                "duplicate field `a` at line 1 column 12".to_owned()
            ))
        );
        let (path, error) = check(r#"{"m": {"s": {"u": "x", "u": "y"}}}"#).expect_err("nested");
        assert_eq!(path, "m.s");
        assert!(error.starts_with("duplicate field `u`"), "{error}");
        let (path, _) = check(r#"{"x": [{}, {"\u0061": 1, "a": 1}]}"#).expect_err("escaped");
        assert_eq!(path, "x[1]");
    }
}
