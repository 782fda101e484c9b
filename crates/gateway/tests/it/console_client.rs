//! A client of the console as a browser uses it: forms posted, no redirects followed, the
//! session cookie kept by hand.

use reqwest::{Method, StatusCode};

use crate::admin::ADMIN_KEY;
use crate::support::Harness;

/// A browser of the console: no redirects followed, the session cookie kept by hand.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    cookie: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub text: String,
}

impl Browser {
    pub fn new(h: &Harness) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: h.admin_base().expect("admin listener"),
            cookie: None,
        }
    }

    pub async fn request(&self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(form) = form {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.expect("request");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (status, location, set_cookie) =
            (response.status(), header("location"), header("set-cookie"));
        if status == StatusCode::OK {
            assert_eq!(
                header("content-type").as_deref(),
                Some("text/html; charset=utf-8")
            );
        }
        Page {
            status,
            location,
            set_cookie,
            text: response.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(Method::POST, path, Some(form)).await
    }

    /// Logs in with the admin key; keeps the cookie.
    pub async fn login(&mut self) {
        let page = self.post("/console/login", &[("key", ADMIN_KEY)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let cookie = page.set_cookie.expect("a session cookie");
        self.cookie = cookie.split(';').next().map(str::to_owned);
    }

    /// The session's CSRF token (from the overview's forms).
    pub async fn csrf(&self) -> String {
        let page = self.get("/console").await;
        between(&page.text, "name=\"csrf\" value=\"", "\"").to_owned()
    }
}

/// The text between `start` and the next `end`.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or(text.len());
    let to = text[from..].find(end).map_or(text.len(), |i| from + i);
    &text[from..to]
}
