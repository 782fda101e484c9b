//! Fault control for running simulators from outside Rust: the text form of fault rules
//! ([`spec`]) and a small HTTP/1.1 control endpoint, which the `pushway-mock` binary serves on
//! its own port.
//!
//! | request | effect |
//! |---|---|
//! | `GET /_control/faults` | the rules set through this controller and the request count, per simulator |
//! | `POST /_control/faults` with `{"simulator":"xiaomi","faults":["times=1:status=503"]}` | replaces that simulator's rules (`[]` clears them); add `"append":true` to keep the others |
//! | `DELETE /_control/faults` | clears every simulator's rules |
//! | `GET /_control/received?simulator=NAME[&offset=N][&limit=N]` | what `apns`, `xiaomi`, `huawei` or `fcm` received, one entry per (send, device token), from its recording ([`received`]); `&body=1` adds each FCM request's whole body |
//!
//! Simulators are named `apns`, `xiaomi`, `huawei` (`messages:send`), `huawei_oauth` (the
//! token endpoint), `fcm` (`messages:send`) and `fcm_oauth` (its token endpoint). Every answer is JSON: the state after the change, e.g.
//! `{"xiaomi":{"faults":["times=1:status=503"],"requests":12}}`, or `{"error":"…"}` with 400.
//! Rules set anew start counting anew (`times=N`, `ratio=K/N`).
//!
//! `/_control/received` answers
//! `{"simulator":"xiaomi","requests":12,"kept":12,"complete":true,"total":30,"offset":0,
//! "next_offset":null,"received":[{"token":"…","data":{…}},…]}`: `requests` arrived, `kept` by the
//! recording (`complete` when none was evicted), `total` entries, at most `limit` of them
//! (default and most [`MAX_RECEIVED_LIMIT`]) from `offset`; `next_offset` is where the next page
//! starts, `null` after the last.

pub mod received;
pub mod spec;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

pub use self::received::{MAX_RECEIVED_LIMIT, RECEIVED_PATH, Received, ReceivedLog};
use self::spec::{
    parse_apns_fault, parse_fcm_fault, parse_huawei_fault, parse_rule, parse_xiaomi_fault,
};
use crate::apns::ApnsSimulator;
use crate::fcm::FcmSimulator;
use crate::http_server::{Handler, Reply, ServerHandle, StartError, serve};
use crate::huawei::HuaweiSimulator;
use crate::xiaomi::XiaomiSimulator;

/// The control endpoint's path.
pub const PATH: &str = "/_control/faults";

/// The simulators a [`Controller`] drives; `None` for those not running.
#[derive(Debug, Default, Clone)]
pub struct Simulators {
    /// The APNs simulator.
    pub apns: Option<Arc<ApnsSimulator>>,
    /// The Xiaomi simulator.
    pub xiaomi: Option<Arc<XiaomiSimulator>>,
    /// The Huawei simulator (both of its endpoints).
    pub huawei: Option<Arc<HuaweiSimulator>>,
    /// The FCM simulator (both of its endpoints).
    pub fcm: Option<Arc<FcmSimulator>>,
}

/// Sets fault rules on running simulators from their text form, and remembers them so they
/// can be read back.
#[derive(Debug)]
pub struct Controller {
    simulators: Simulators,
    /// The rules as given, per simulator name; the lock also orders changes.
    rules: Mutex<BTreeMap<&'static str, Vec<String>>>,
}

impl Controller {
    /// A controller of `simulators`, with no rules set.
    pub fn new(simulators: Simulators) -> Controller {
        Controller {
            simulators,
            rules: Mutex::new(BTreeMap::new()),
        }
    }

    /// The names of the running simulators' fault targets.
    fn targets(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.simulators.apns.is_some() {
            names.push("apns");
        }
        if self.simulators.xiaomi.is_some() {
            names.push("xiaomi");
        }
        if self.simulators.huawei.is_some() {
            names.extend(["huawei", "huawei_oauth"]);
        }
        if self.simulators.fcm.is_some() {
            names.extend(["fcm", "fcm_oauth"]);
        }
        names
    }

    /// Adds `rules` (text form, see [`spec`]) to `simulator`'s, or replaces them when `append`
    /// is false. Nothing changes when any rule does not parse.
    pub fn set(&self, simulator: &str, rules: &[String], append: bool) -> Result<(), String> {
        let name = self
            .targets()
            .into_iter()
            .find(|n| *n == simulator)
            .ok_or_else(|| {
                format!(
                    "no simulator {simulator:?} is running (running: {})",
                    self.targets().join(", ")
                )
            })?;
        // Parse everything first so that a bad rule changes nothing.
        for rule in rules {
            self.apply(name, rule, true)?;
        }
        let mut all = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = all.entry(name).or_default();
        if !append {
            kept.clear();
        }
        kept.extend(rules.iter().cloned());
        self.reapply(name, &all);
        Ok(())
    }

    /// Clears every simulator's rules.
    pub fn clear(&self) {
        let mut all = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        all.clear();
        for name in self.targets() {
            self.reapply(name, &all);
        }
    }

    /// Clears `name`'s rules on its simulator and sets the kept ones again (Huawei and FCM clear
    /// both of their endpoints at once, so the other endpoint's rules are set again too).
    fn reapply(&self, name: &'static str, all: &BTreeMap<&'static str, Vec<String>>) {
        let names: &[&'static str] = match name {
            "apns" => {
                if let Some(sim) = &self.simulators.apns {
                    sim.script().clear_faults();
                }
                &["apns"]
            }
            "xiaomi" => {
                if let Some(sim) = &self.simulators.xiaomi {
                    sim.clear_faults();
                }
                &["xiaomi"]
            }
            "fcm" | "fcm_oauth" => {
                if let Some(sim) = &self.simulators.fcm {
                    sim.clear_faults();
                }
                &["fcm", "fcm_oauth"]
            }
            _ => {
                if let Some(sim) = &self.simulators.huawei {
                    sim.clear_faults();
                }
                &["huawei", "huawei_oauth"]
            }
        };
        for name in names {
            for rule in all.get(name).into_iter().flatten() {
                // Every kept rule parsed when it was set.
                let _ = self.apply(name, rule, false);
            }
        }
    }

    /// Parses `rule` for `name` and, unless `dry_run`, adds it to the simulator.
    fn apply(&self, name: &str, rule: &str, dry_run: bool) -> Result<(), String> {
        let s = &self.simulators;
        match name {
            "apns" => {
                let (trigger, fault) = parse_rule(rule, parse_apns_fault)?;
                if let (false, Some(sim)) = (dry_run, &s.apns) {
                    sim.script().add_fault(trigger, fault);
                }
            }
            "xiaomi" => {
                let (trigger, fault) = parse_rule(rule, parse_xiaomi_fault)?;
                if let (false, Some(sim)) = (dry_run, &s.xiaomi) {
                    sim.inject(trigger, fault);
                }
            }
            "huawei" | "huawei_oauth" => {
                let (trigger, fault) = parse_rule(rule, parse_huawei_fault)?;
                match (dry_run, &s.huawei) {
                    (false, Some(sim)) if name == "huawei" => sim.inject(trigger, fault),
                    (false, Some(sim)) => sim.inject_oauth(trigger, fault),
                    _ => {}
                }
            }
            "fcm" | "fcm_oauth" => {
                let (trigger, fault) = parse_rule(rule, parse_fcm_fault)?;
                match (dry_run, &s.fcm) {
                    (false, Some(sim)) if name == "fcm" => sim.inject(trigger, fault),
                    (false, Some(sim)) => sim.inject_oauth(trigger, fault),
                    _ => {}
                }
            }
            _ => return Err(format!("no simulator {name:?}")),
        }
        Ok(())
    }

    /// What `simulator` (`apns`, `xiaomi`, `huawei` or `fcm`) received, from its recording (see
    /// [`received`](mod@received)).
    pub fn received(&self, simulator: &str) -> Result<ReceivedLog, String> {
        let s = &self.simulators;
        let log = match simulator {
            "apns" => s.apns.as_ref().map(|sim| {
                let kept = sim.requests();
                (
                    sim.request_count(),
                    kept.len(),
                    received::apns_entries(&kept),
                )
            }),
            "xiaomi" => s.xiaomi.as_ref().map(|sim| {
                let kept = sim.requests();
                (
                    sim.request_count(),
                    kept.len(),
                    received::xiaomi_entries(&kept),
                )
            }),
            "huawei" => s.huawei.as_ref().map(|sim| {
                let kept = sim.requests();
                (
                    sim.request_count(),
                    kept.len(),
                    received::huawei_entries(&kept),
                )
            }),
            "fcm" => s.fcm.as_ref().map(|sim| {
                let kept = sim.requests();
                (
                    sim.request_count(),
                    kept.len(),
                    received::fcm_entries(&kept),
                )
            }),
            _ => None,
        };
        let (requests, kept, entries) = log.ok_or_else(|| {
            let running: Vec<&str> = self
                .targets()
                .into_iter()
                .filter(|n| !n.ends_with("_oauth"))
                .collect();
            format!(
                "no simulator {simulator:?} is running (running: {})",
                running.join(", ")
            )
        })?;
        Ok(ReceivedLog {
            requests,
            kept,
            entries,
        })
    }

    /// The rules and request counts, per running simulator.
    pub fn state(&self) -> Value {
        let all = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let s = &self.simulators;
        let mut out = serde_json::Map::new();
        for name in self.targets() {
            let requests = match name {
                "apns" => s.apns.as_ref().map(|sim| sim.request_count()),
                "xiaomi" => s.xiaomi.as_ref().map(|sim| sim.request_count()),
                "fcm" => s.fcm.as_ref().map(|sim| sim.request_count()),
                "fcm_oauth" => s.fcm.as_ref().map(|sim| sim.token_request_count()),
                // One count for both Huawei endpoints: the simulator counts them together.
                _ => s.huawei.as_ref().map(|sim| sim.request_count()),
            };
            let rules = all.get(name).cloned().unwrap_or_default();
            out.insert(
                name.to_owned(),
                json!({ "faults": rules, "requests": requests }),
            );
        }
        Value::Object(out)
    }
}

/// A running control endpoint; it stops when dropped.
#[derive(Debug)]
pub struct ControlServer {
    server: ServerHandle,
}

impl ControlServer {
    /// Serves `controller` on `addr` (HTTP/1.1) on the current Tokio runtime.
    pub async fn start(
        addr: SocketAddr,
        controller: Arc<Controller>,
    ) -> Result<ControlServer, StartError> {
        let server = serve(addr, Arc::new(Endpoint(controller))).await?;
        Ok(ControlServer { server })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<addr>/_control/faults`.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.server.addr())
    }

    /// `http://<addr>/_control/received?simulator=<simulator>`.
    pub fn received_url(&self, simulator: &str) -> String {
        format!(
            "http://{}{RECEIVED_PATH}?simulator={simulator}",
            self.server.addr()
        )
    }
}

struct Endpoint(Arc<Controller>);

/// The body of `POST /_control/faults`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    simulator: String,
    faults: Vec<String>,
    #[serde(default)]
    append: bool,
}

impl Handler for Endpoint {
    async fn handle(&self, request: Request<Bytes>) -> (Duration, Reply) {
        let controller = &self.0;
        let reply = if request.uri().path() == RECEIVED_PATH {
            received_reply(controller, &request)
        } else if request.uri().path() != PATH {
            error(
                StatusCode::NOT_FOUND,
                format!("no such path; use {PATH} or {RECEIVED_PATH}"),
            )
        } else if request.method() == Method::GET {
            state(controller)
        } else if request.method() == Method::DELETE {
            controller.clear();
            state(controller)
        } else if request.method() == Method::POST {
            match serde_json::from_slice::<Change>(request.body()) {
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    format!("expected {{\"simulator\":…,\"faults\":[…]}}: {e}"),
                ),
                Ok(change) => {
                    match controller.set(&change.simulator, &change.faults, change.append) {
                        Ok(()) => state(controller),
                        Err(e) => error(StatusCode::BAD_REQUEST, e),
                    }
                }
            }
        } else {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "use GET, POST or DELETE".to_owned(),
            )
        };
        (Duration::ZERO, reply)
    }
}

/// `GET /_control/received?simulator=NAME[&offset=N][&limit=N][&body=1]`.
fn received_reply(controller: &Controller, request: &Request<Bytes>) -> Reply {
    if request.method() != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use GET".to_owned());
    }
    let (simulator, offset, limit, body) = match received::query(request.uri().query()) {
        Ok((Some(simulator), offset, limit, body)) => (simulator, offset, limit, body),
        Ok((None, ..)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "name the simulator: ?simulator=apns, xiaomi, huawei or fcm".to_owned(),
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match controller.received(&simulator) {
        Ok(mut log) => {
            if !body {
                log.entries.iter_mut().for_each(|e| e.body = None);
            }
            Reply::body(
                StatusCode::OK,
                "application/json",
                received::answer(&simulator, &log, offset, limit).to_string(),
            )
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

fn state(controller: &Controller) -> Reply {
    Reply::body(
        StatusCode::OK,
        "application/json",
        controller.state().to_string(),
    )
}

fn error(status: StatusCode, message: String) -> Reply {
    Reply::body(
        status,
        "application/json",
        json!({ "error": message }).to_string(),
    )
}
