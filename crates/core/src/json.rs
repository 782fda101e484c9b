//! Reading the model from JSON with errors that name the offending field.

use serde::de::DeserializeOwned;

use crate::Error;

/// Parses `text` as a `T`; on failure the error's [`Error::field`] is the path of the field that
/// did not fit (such as `message.elements[1].type`).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    if let Ok(read) = serde_json::from_str(text) {
        return Ok(read);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    from_deserializer(de)
}

/// Like [`from_str`], from bytes.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if let Ok(read) = serde_json::from_slice(bytes) {
        return Ok(read);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    from_deserializer(de)
}

/// Like [`from_str`], from a parsed value (no text to parse again).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    // Read plainly first, by reference (see `from_deserializer`).
    if let Ok(read) = T::deserialize(&value) {
        return Ok(read);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        Error::invalid_input(field, e.into_inner().to_string())
    })
}

/// The path-aware read, for input a plain read refused: tracking the path allocates for every key
/// passed, so input that fits is read without it and only a failure is read again to say where.
fn from_deserializer<'de, T: DeserializeOwned, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
) -> Result<T, Error> {
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let field = e.path().to_string();
        Error::invalid_input(field, e.into_inner().to_string())
    })?;
    de.end()
        .map_err(|e| Error::invalid_input(".", e.to_string()))?;
    Ok(value)
}
