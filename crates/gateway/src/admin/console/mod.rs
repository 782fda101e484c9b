//! The console: server-rendered HTML pages on the admin listener, behind a login with the
//! admin key (a session cookie, see `session`), every form with the session's CSRF token.
//! No script, no external assets; every outside value is escaped (`html`).
//!
//! | page | what |
//! |---|---|
//! | `GET/POST /console/login`, `POST /console/logout` | the session |
//! | `GET /console` | apps, channels, paused routes; outbox depth, due rows, oldest due age, dead letters |
//! | `GET /console/message?app=&id=` | a message's per-device timeline |
//! | `GET /console/user?app=&user=` | a user's devices, settings, login states, recent deliveries |
//! | `GET /console/dead-letters?app=&reason=&since_ms=&until_ms=&cursor=`, `POST …/replay` | dead letters, replay |
//! | `GET /console/test-push?app=&user=`, `POST /console/test-push` | preview, then send, a test push |

mod dead;
pub(crate) mod html;
mod lookup;
mod push;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use self::html::{esc, page};
use super::Shared;
use super::session::{Session, clear_cookie, csrf_ok};
use crate::service::ServiceError;

/// The console's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/console", get(lookup::overview))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", axum::routing::post(logout))
        .route("/console/message", get(lookup::message))
        .route("/console/user", get(lookup::user))
        .route("/console/dead-letters", get(dead::list))
        .route(
            "/console/dead-letters/replay",
            axum::routing::post(dead::replay),
        )
        .route("/console/test-push", get(push::form).post(push::post))
}

/// A page answer.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A page's open session: a handler taking it answers only a signed-in browser, and sends any
/// other to the login page.
pub(crate) struct Signed(pub(crate) Session);

impl FromRequestParts<Shared> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        session(state, &parts.headers).map(Signed).map_err(|r| *r)
    }
}

/// A page's query parameters, in order (see [`param`]).
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params(query(parts.uri.query())))
    }
}

/// The open session, or the answer that sends the browser to the login page.
/// (Boxed: a response is large, and this is the rare path.)
pub(crate) fn session(state: &Shared, headers: &HeaderMap) -> Result<Session, Box<Response>> {
    state
        .gate
        .session(headers)
        .map(|(_, s)| s)
        .ok_or_else(|| Box::new(Redirect::to("/console/login").into_response()))
}

/// A posted form's fields (`application/x-www-form-urlencoded`), in order.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a form body; refuses another media type.
    pub(crate) fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Form, Box<Response>> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(Box::new(failure_page(
                None,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a form is posted as application/x-www-form-urlencoded",
            )));
        }
        Ok(Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    /// The first value of `name`, or `""`.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A posted form of a signed-in page: parsed, and refused unless it carries the session's
    /// CSRF token.
    pub(crate) fn signed(
        headers: &HeaderMap,
        body: &Bytes,
        session: &Session,
    ) -> Result<Form, Box<Response>> {
        let form = Form::parse(headers, body)?;
        form.check_csrf(session)?;
        Ok(form)
    }

    /// Refuses the form unless it carries the session's CSRF token.
    pub(crate) fn check_csrf(&self, session: &Session) -> Result<(), Box<Response>> {
        if csrf_ok(session, self.get("csrf")) {
            Ok(())
        } else {
            Err(Box::new(failure_page(
                Some(session),
                StatusCode::FORBIDDEN,
                "this form is stale or was not sent by the console: reload the page and try again",
            )))
        }
    }
}

/// The query string's parameters, percent-decoded.
pub(crate) fn query(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in `params`, or `""`.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// An error page.
pub(crate) fn failure_page(session: Option<&Session>, status: StatusCode, what: &str) -> Response {
    let body = format!(
        "<p class=\"bad\" id=\"error\">{}</p><p><a href=\"/console\">Back to the overview</a></p>",
        esc(what)
    );
    html(
        status,
        page(
            status.canonical_reason().unwrap_or("Error"),
            session.map(|s| s.csrf.as_str()),
            &body,
        ),
    )
}

/// A service error as an error page (no store details: those go to the log).
pub(crate) fn service_failure(session: &Session, e: ServiceError) -> Response {
    let (status, what) = match &e {
        ServiceError::UnknownApp => (StatusCode::NOT_FOUND, "No such app.".to_owned()),
        ServiceError::UnknownMessage => (StatusCode::NOT_FOUND, "No such message.".to_owned()),
        ServiceError::Invalid { .. } | ServiceError::IdempotencyKeyReused => {
            (StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        ServiceError::Store(_) | ServiceError::Daemon(_) => {
            tracing::error!(error = %e, "console: store failure");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is unavailable; try again.".to_owned(),
            )
        }
        _ => (StatusCode::BAD_REQUEST, e.to_string()),
    };
    failure_page(Some(session), status, &what)
}

fn login_page(status: StatusCode, failed: bool) -> Response {
    let note = if failed {
        "<p class=\"bad\" id=\"login-failed\">Wrong admin key.</p>"
    } else {
        ""
    };
    let body = format!(
        "{note}<form method=\"post\" action=\"/console/login\">\
         <label>Admin key <input type=\"password\" name=\"key\" id=\"key\" autocomplete=\"current-password\" required autofocus></label>\
         <button type=\"submit\" id=\"login\">Log in</button></form>\
         <p class=\"note\">The key <code>pushway serve</code> printed, or the one whose SHA-256 is <code>[admin] key_sha256</code>.</p>"
    );
    html(status, page("Log in", None, &body))
}

async fn login_form(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if state.gate.session(&headers).is_some() {
        return Redirect::to("/console").into_response();
    }
    login_page(StatusCode::OK, false)
}

async fn login(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match Form::parse(&headers, &body) {
        Ok(form) => form,
        Err(response) => return *response,
    };
    if !state.gate.is_key(form.get("key")) {
        tracing::warn!("console: a login with a wrong admin key");
        return login_page(StatusCode::UNAUTHORIZED, true);
    }
    let token = state.gate.open();
    let mut response = Redirect::to("/console").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&state.gate.set_cookie(&token)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn logout(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((id, session)) = state.gate.session(&headers) else {
        return Redirect::to("/console/login").into_response();
    };
    if let Err(response) = Form::signed(&headers, &body, &session) {
        return *response;
    }
    state.gate.close(&id);
    let mut response = Redirect::to("/console/login").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
