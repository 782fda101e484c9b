//! Path parameters whose rejection (a segment that is not UTF-8 once percent-decoded) is a
//! problem answer like every other error, not axum's plain-text one; and the routes' parameters
//! as types, which the handlers extract and the OpenAPI document describes.

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use super::Problem;

/// The route's parameters, as `T`.
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Params(value)),
            Err(rejection) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-path",
                "Invalid path parameter",
            )
            .detail(rejection.body_text())),
        }
    }
}

/// `/v1/apps/{app}/...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AppPath {
    /// The app's id (from the configuration).
    #[param(min_length = 1, example = "demo")]
    pub(crate) app: String,
}

/// `/v1/apps/{app}/users/{user}/...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct UserPath {
    /// The app's id (from the configuration).
    #[param(min_length = 1, example = "demo")]
    pub(crate) app: String,
    /// The user's id in the IM system: 1 to 256 bytes of UTF-8, no control characters.
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "bob"
    )]
    pub(crate) user: String,
}

/// `/v1/apps/{app}/users/{user}/devices/{device}...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DevicePath {
    /// The app's id (from the configuration).
    #[param(min_length = 1, example = "demo")]
    pub(crate) app: String,
    /// The user's id in the IM system: 1 to 256 bytes of UTF-8, no control characters.
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "bob"
    )]
    pub(crate) user: String,
    /// The app-chosen device id, unique per user: 1 to 256 bytes of UTF-8, no control
    /// characters.
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "phone"
    )]
    pub(crate) device: String,
}

/// `/v1/apps/{app}/messages/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct MessagePath {
    /// The app's id (from the configuration).
    #[param(min_length = 1, example = "demo")]
    pub(crate) app: String,
    /// The message id `POST /messages` answered.
    #[param(min_length = 1)]
    pub(crate) id: String,
}
