//! How the Xiaomi simulator answers one request.
//!
//! Checks run in this order (protocols/xiaomi.md §1, §3–§6): path and method, injected faults,
//! `Authorization: key=<AppSecret>` (21301), required parameters (10016), title and description
//! of a notification (65011), at most 1000 regids (10017), package name (20301 for every
//! target), `extra.channel_id` when required (27001), daily quota (200001), then the regids
//! themselves: unknown ones go to `data.bad_regids`, none valid is 20301.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};

use crate::fault::FaultRules;
use crate::http_server::{Handler, Reply};
use crate::record::{RecordedRequest, Recorder};
use crate::tokens::TokenBook;

use super::fault::XiaomiFault;
use super::response::{self, Quota};

/// Most regids one request may carry (official Java SDK doc text, protocols/xiaomi.md §4.1).
pub const MAX_REGIDS: usize = 1000;

/// The shared state of a running Xiaomi simulator.
#[derive(Debug)]
pub(crate) struct State {
    /// Accepted AppSecrets; empty accepts any non-empty secret.
    pub secrets: Vec<String>,
    /// Accepted package names; empty accepts any.
    pub packages: Vec<String>,
    pub require_channel_id: AtomicBool,
    pub daily_quota: Option<u64>,
    pub tokens: TokenBook,
    pub faults: FaultRules<XiaomiFault>,
    pub recorder: Recorder,
    /// Requests answered on the send paths (numbers trace and message ids).
    pub seq: AtomicU64,
    /// Targets accepted so far (`day_acked`).
    pub acked: AtomicU64,
}

/// Which send path a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `/v2/message/regid`: one package name.
    V2,
    /// `/v3/message/regid`: a comma list of package names is allowed.
    V3,
}

impl Handler for State {
    async fn handle(&self, request: Request<Bytes>) -> (Duration, Reply) {
        self.recorder.record_with(|| RecordedRequest {
            method: request.method().clone(),
            path: request
                .uri()
                .path_and_query()
                .map_or_else(String::new, |p| p.to_string()),
            version: request.version(),
            headers: request.headers().clone(),
            body: request.body().clone(),
        });
        let api = match request.uri().path() {
            "/v3/message/regid" => Api::V3,
            "/v2/message/regid" => Api::V2,
            // What the real gateway answers for other paths is not documented.
            _ => return (Duration::ZERO, Reply::empty(StatusCode::NOT_FOUND)),
        };
        if request.method() != Method::POST {
            return (Duration::ZERO, Reply::empty(StatusCode::METHOD_NOT_ALLOWED));
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let params = Params::parse(&request);
        let regid_field = params.get("registration_id").unwrap_or_default();
        let regids: Vec<&str> = regid_field.split(',').filter(|r| !r.is_empty()).collect();

        let decision = self.faults.decide(|token| regids.contains(&token));
        if let Some(fault) = decision.action {
            let acked = self.acked.load(Ordering::Relaxed);
            return (
                decision.delay,
                fault.reply(seq, self.daily_quota.unwrap_or(acked), acked),
            );
        }
        (
            decision.delay,
            self.send(seq, api, request.headers(), &params, &regids),
        )
    }
}

impl State {
    fn send(
        &self,
        seq: u64,
        api: Api,
        headers: &HeaderMap,
        params: &Params<'_>,
        regids: &[&str],
    ) -> Reply {
        if !self.authorized(headers) {
            return response::bad_secret(seq);
        }
        let Some(package) = params
            .get("restricted_package_name")
            .filter(|p| !p.is_empty())
        else {
            return response::missing_parameter(seq, "restricted_package_name");
        };
        if regids.is_empty() {
            return response::missing_parameter(seq, "registration_id");
        }
        // pass_through defaults to 0 (a notification), which needs a title and a description.
        if params.get("pass_through") != Some("1") {
            let blank = |name| params.get(name).is_none_or(|v| v.trim().is_empty());
            if blank("title") || blank("description") {
                return response::empty_title(seq);
            }
        }
        if regids.len() > MAX_REGIDS {
            return response::too_many_regids(seq, MAX_REGIDS);
        }
        if !self.package_accepted(api, package) {
            return response::no_valid_targets(seq);
        }
        if self.require_channel_id.load(Ordering::Relaxed)
            && params.get("extra.channel_id").is_none_or(str::is_empty)
        {
            return response::invalid_channel(seq);
        }
        let acked = self.acked.load(Ordering::Relaxed);
        if let Some(quota) = self.daily_quota
            && acked >= quota
        {
            return response::quota_exceeded(seq, quota, acked);
        }
        let (valid, bad) = self.tokens.partition(regids.iter().copied());
        if valid == 0 {
            return response::no_valid_targets(seq);
        }
        let acked = self.acked.fetch_add(valid as u64, Ordering::Relaxed) + valid as u64;
        let quota = self.daily_quota.map(|quota| Quota { acked, quota });
        response::success(seq, valid, &bad, quota)
    }

    /// `Authorization: key=<AppSecret>`, `key` in lower case (§1).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(secret) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("key="))
        else {
            return false;
        };
        if self.secrets.is_empty() {
            return !secret.is_empty();
        }
        self.secrets.iter().any(|s| s == secret)
    }

    /// v3 accepts a comma list of package names, v2 exactly one (§3).
    fn package_accepted(&self, api: Api, package: &str) -> bool {
        if self.packages.is_empty() {
            return true;
        }
        match api {
            Api::V2 => self.packages.iter().any(|p| p == package),
            Api::V3 => package
                .split(',')
                .any(|name| self.packages.iter().any(|p| p == name)),
        }
    }
}

/// Request parameters decoded the way a Java servlet does: query-string pairs first, then the
/// body's pairs when the body is `application/x-www-form-urlencoded`; `+` is a space.
struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Params<'a> {
    fn parse(request: &'a Request<Bytes>) -> Self {
        let mut pairs = Vec::with_capacity(16);
        if let Some(query) = request.uri().query() {
            pairs.extend(form_urlencoded::parse(query.as_bytes()));
        }
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.get(..33)
                    .is_some_and(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
            });
        if is_form {
            pairs.extend(form_urlencoded::parse(request.body()));
        }
        Params { pairs }
    }

    /// The first value of a parameter, as `getParameter` returns it.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}
