//! `pushway-mock`: runs the vendor simulators as a process, for scripts, demos and benchmarks.
//!
//! Starts the chosen simulators (default: all), prints one JSON line per simulator with its
//! bound address and the fault control endpoint, e.g.
//! `{"simulator":"xiaomi","addr":"127.0.0.1:41234","base_url":"http://127.0.0.1:41234","control_url":"http://127.0.0.1:41240/_control/faults","received_url":"http://127.0.0.1:41240/_control/received?simulator=xiaomi"}`,
//! and runs until Ctrl-C. Each simulator keeps its last 10,000 requests (`--recording N`;
//! `--recording off` for benchmarks and long runs: a kept request holds its body).
//!
//! Faults, as in the library (`pushway_mock::control::spec` has the syntax): at start with
//! `--apns-fault`, `--xiaomi-fault`, `--huawei-fault`, `--huawei-oauth-fault`, `--fcm-fault` and
//! `--fcm-oauth-fault` (repeatable,
//! e.g. `--xiaomi-fault times=2:status=503`), and while running through the control endpoint,
//! served on its own port (`--control-port`, default any free port; `--no-control` to leave it
//! out): `GET` reads the rules and request counts, `POST {"simulator":"xiaomi","faults":[…]}`
//! replaces a simulator's rules (`[]` clears; `"append":true` adds), `DELETE` clears them all.
//! `GET /_control/received?simulator=NAME[&offset=N][&limit=N]` (`received_url`) reads what a
//! simulator received from its recording: one entry per (send, device token) with the token and
//! the app data, APNs with its `apns-id` and answered status, in pages of at most 20,000
//! (`pushway_mock::control::received` has the details).

use std::error::Error;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use pushway_mock::Recording;
use pushway_mock::apns::{ApnsEnvironment, ApnsSimulator};
use pushway_mock::control::{ControlServer, Controller, Simulators};
use pushway_mock::fcm::{FcmSimulator, Quotas, ServiceAccountKey};
use pushway_mock::huawei::{ErrorStatus, HuaweiSimulator, IllegalTokensShape, ServiceAccount};
use pushway_mock::xiaomi::XiaomiSimulator;
use serde::Serialize;

/// A simulator to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Simulator {
    /// Every simulator.
    All,
    /// APNs (HTTP/2, TLS or h2c).
    Apns,
    /// Xiaomi MiPush (HTTP/1.1).
    Xiaomi,
    /// Huawei Push Kit with its OAuth endpoint (HTTP/1.1).
    Huawei,
    /// Firebase Cloud Messaging HTTP v1 with its OAuth token endpoint (TLS or plain; HTTP/2 and
    /// HTTP/1.1).
    Fcm,
}

/// Runs pushway's vendor simulators until Ctrl-C, printing one JSON line per simulator.
///
/// A fault rule is `[TRIGGER:]FAULT`. Triggers: `always` (default), `times=N`, `ratio=K/N`,
/// `token=T`. Faults: `latency=MS` and `drop` everywhere; APNs `reason=NAME`, `refused_stream`,
/// `goaway[=NAME]`; Xiaomi `rate_limited`, `quota_exceeded`; Huawei `flow_control`,
/// `internal_error`; Xiaomi and Huawei `status=CODE`; Xiaomi, Huawei and FCM
/// `raw=CODE,CONTENT_TYPE,BODY`; FCM `unregistered`, `invalid_token`, `apns_unregistered`,
/// `sender_id_mismatch`, `third_party_auth_error`, `unauthenticated`, `permission_denied`,
/// `quota_exceeded[=SECS]`, `unavailable[=SECS]`, `internal[=SECS]`, `not_found_html`,
/// `refused_stream`, `goaway`.
///
/// The control endpoint (`control_url` in every line): `GET` reads the rules and request counts,
/// `POST {"simulator":"xiaomi","faults":["times=1:status=503"]}` replaces a simulator's rules
/// (`[]` clears, `"append":true` adds; simulators `apns`, `xiaomi`, `huawei`, `huawei_oauth`,
/// `fcm`, `fcm_oauth`),
/// `DELETE` clears every rule.
///
/// `GET /_control/received?simulator=NAME[&offset=N][&limit=N]` (`received_url` in every line)
/// reads what `apns`, `xiaomi`, `huawei` or `fcm` received, from its recording (`--recording`):
/// one entry per (send, device token) with `token` and `data` (APNs: the payload, Xiaomi:
/// `payload`, Huawei: `message.data`, FCM: `android.data` or `message.data`), APNs also
/// `apns_id`, APNs and FCM the answered `status`; at most 20,000
/// entries an answer, `next_offset` says where the next page starts.
#[derive(Debug, Parser)]
#[command(name = "pushway-mock", version, verbatim_doc_comment)]
struct Args {
    /// Which simulators to start.
    #[arg(value_enum, default_values_t = [Simulator::All])]
    simulators: Vec<Simulator>,
    /// The address every simulator listens on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// How many requests each simulator keeps (what `/_control/received` reads): a number, or
    /// `off` for benchmarks and long runs (a kept request holds its body).
    #[arg(long, default_value = "10000", value_parser = parse_recording)]
    recording: Recording,

    /// Port of the fault control endpoint (0: any free port).
    #[arg(long, default_value_t = 0)]
    control_port: u16,
    /// Do not serve the fault control endpoint.
    #[arg(long, conflicts_with = "control_port")]
    no_control: bool,

    /// A fault rule for the APNs simulator, e.g. `reason=ServiceUnavailable`; repeat for several.
    #[arg(long = "apns-fault", value_name = "RULE")]
    apns_faults: Vec<String>,
    /// A fault rule for the Xiaomi simulator, e.g. `times=2:status=503`; repeat for several.
    #[arg(long = "xiaomi-fault", value_name = "RULE")]
    xiaomi_faults: Vec<String>,
    /// A fault rule for Huawei's `messages:send`, e.g. `ratio=1/10:flow_control`; repeat for
    /// several.
    #[arg(long = "huawei-fault", value_name = "RULE")]
    huawei_faults: Vec<String>,
    /// A fault rule for Huawei's OAuth token endpoint, e.g. `times=1:status=500`; repeat for
    /// several.
    #[arg(long = "huawei-oauth-fault", value_name = "RULE")]
    huawei_oauth_faults: Vec<String>,
    /// A fault rule for FCM's `messages:send`, e.g. `times=1:quota_exceeded=30`; repeat for
    /// several.
    #[arg(long = "fcm-fault", value_name = "RULE")]
    fcm_faults: Vec<String>,
    /// A fault rule for FCM's token endpoint, e.g. `times=1:unavailable`; repeat for several.
    #[arg(long = "fcm-oauth-fault", value_name = "RULE")]
    fcm_oauth_faults: Vec<String>,

    /// Port of the APNs simulator (0: any free port).
    #[arg(long, default_value_t = 0)]
    apns_port: u16,
    /// Serve APNs as h2c with prior knowledge instead of TLS.
    #[arg(long)]
    apns_h2c: bool,
    /// An accepted APNs topic (bundle ID); repeat for several. None: every topic.
    #[arg(long = "apns-topic")]
    apns_topics: Vec<String>,
    /// An accepted provider-token key as `TEAM_ID:KEY_ID:PATH` (PATH: the `.p8` or a P-256
    /// public key PEM); repeat for several.
    #[arg(long = "apns-key")]
    apns_keys: Vec<String>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised by the APNs simulator.
    #[arg(long, default_value_t = 1000)]
    apns_max_concurrent_streams: u32,
    /// Play the production environment instead of development.
    #[arg(long)]
    apns_production: bool,
    /// Play a certificate connection: no provider token required.
    #[arg(long)]
    apns_no_provider_token: bool,
    /// Also write the APNs simulator's CA certificate (PEM) to this file.
    #[arg(long)]
    apns_ca_out: Option<PathBuf>,

    /// Port of the Xiaomi simulator (0: any free port).
    #[arg(long, default_value_t = 0)]
    xiaomi_port: u16,
    /// An accepted Xiaomi AppSecret; repeat for several. None: any secret.
    #[arg(long = "xiaomi-app-secret")]
    xiaomi_secrets: Vec<String>,
    /// An accepted `restricted_package_name`; repeat for several. None: any package.
    #[arg(long = "xiaomi-package")]
    xiaomi_packages: Vec<String>,
    /// Answer 27001 to sends without `extra.channel_id`.
    #[arg(long)]
    xiaomi_require_channel_id: bool,

    /// Port of the Huawei simulator (0: any free port).
    #[arg(long, default_value_t = 0)]
    huawei_port: u16,
    /// The accepted OAuth client id (appId). None: any numeric id.
    #[arg(long)]
    huawei_app_id: Option<String>,
    /// The accepted client secret. None: any secret.
    #[arg(long)]
    huawei_client_secret: Option<String>,
    /// The project id v2 URLs accept with an OAuth token.
    #[arg(long)]
    huawei_project_id: Option<String>,
    /// `expires_in` of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    huawei_token_expires_in: u64,
    /// Serve every result code with HTTP 200 (default: 401 for auth errors, 400 for parameter
    /// errors, 500 for 81000001).
    #[arg(long)]
    huawei_always_200: bool,
    /// Shape of the illegal-token detail: `snake` (`illegal_tokens`) or `camel:<reason>`
    /// (`illegalTokens`).
    #[arg(long, default_value = "snake", value_parser = parse_shape)]
    huawei_illegal_tokens: IllegalTokensShape,
    /// A service-account key file (JSON) whose JWTs to accept; needs the public key too.
    #[arg(long, requires = "huawei_service_account_public_key")]
    huawei_service_account: Option<PathBuf>,
    /// The RSA public key (PEM) of the service-account key file.
    #[arg(long, requires = "huawei_service_account")]
    huawei_service_account_public_key: Option<PathBuf>,

    /// Port of the FCM simulator (0: any free port).
    #[arg(long, default_value_t = 0)]
    fcm_port: u16,
    /// Serve FCM on plain TCP (h2c with prior knowledge, or HTTP/1.1) instead of TLS.
    #[arg(long)]
    fcm_plain: bool,
    /// A Google service-account key file (JSON) whose assertions to accept; repeat for several.
    /// None: the committed TEST-ONLY account of `fixtures/fcm/test-service-account.json`.
    #[arg(long = "fcm-service-account", value_name = "KEY_FILE")]
    fcm_service_accounts: Vec<PathBuf>,
    /// `expires_in` of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3599)]
    fcm_token_expires_in: u64,
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised by the FCM simulator.
    #[arg(long, default_value_t = 100)]
    fcm_max_concurrent_streams: u32,
    /// GOAWAY after this many requests on each connection (0: never).
    #[arg(long, default_value_t = 0)]
    fcm_goaway_after: u64,
    /// Answer 400 "not a valid FCM registration token" to unknown device tokens (default: any
    /// well-formed token is valid).
    #[arg(long)]
    fcm_strict_tokens: bool,
    /// Count the whole message (minus the target) against the 4096 bytes, not only `data`.
    #[arg(long)]
    fcm_strict_size: bool,
    /// Enforce FCM's documented quotas (600,000 messages per project per minute, 240 per device
    /// per minute, 5,000 per hour): 429 QUOTA_EXCEEDED with retry-after. Default: none.
    #[arg(long)]
    fcm_documented_quotas: bool,
    /// Also write the FCM simulator's certificate (PEM) to this file.
    #[arg(long)]
    fcm_ca_out: Option<PathBuf>,
}

fn parse_recording(s: &str) -> Result<Recording, String> {
    if s == "off" {
        return Ok(Recording::Off);
    }
    s.parse()
        .map(Recording::Last)
        .map_err(|_| format!("expected `off` or a number, got {s:?}"))
}

fn parse_shape(s: &str) -> Result<IllegalTokensShape, String> {
    match s.split_once(':') {
        None if s == "snake" => Ok(IllegalTokensShape::SnakeCase),
        Some(("camel", reason)) if !reason.is_empty() => Ok(IllegalTokensShape::CamelCase {
            reason: reason.to_owned(),
        }),
        _ => Err(format!("expected `snake` or `camel:<reason>`, got {s:?}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pushway-mock: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let wants = |s| args.simulators.contains(&Simulator::All) || args.simulators.contains(&s);
    let mut simulators = Simulators::default();
    let mut lines = Vec::new();

    if wants(Simulator::Apns) {
        let sim = start_apns(&args).await?;
        let pem = sim.ca_cert_pem();
        if let (Some(pem), Some(path)) = (&pem, &args.apns_ca_out) {
            std::fs::write(path, pem)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        lines.push(Line::new("apns", sim.addr(), sim.base_url()).tls(!args.apns_h2c, pem));
        simulators.apns = Some(Arc::new(sim));
    }
    if wants(Simulator::Xiaomi) {
        let mut builder = XiaomiSimulator::builder()
            .bind(SocketAddr::new(args.host, args.xiaomi_port))
            .require_channel_id(args.xiaomi_require_channel_id)
            .recording(args.recording);
        for secret in &args.xiaomi_secrets {
            builder = builder.app_secret(secret);
        }
        for package in &args.xiaomi_packages {
            builder = builder.package(package);
        }
        let sim = builder.start().await?;
        lines.push(Line::new("xiaomi", sim.addr(), sim.base_url()));
        simulators.xiaomi = Some(Arc::new(sim));
    }
    if wants(Simulator::Huawei) {
        let sim = start_huawei(&args).await?;
        lines.push(Line::new("huawei", sim.addr(), sim.base_url()));
        simulators.huawei = Some(Arc::new(sim));
    }
    // Last, so tools that read the first three lines of `all` keep working.
    if wants(Simulator::Fcm) {
        let sim = start_fcm(&args).await?;
        let pem = sim.cert_pem().map(str::to_owned);
        if let (Some(pem), Some(path)) = (&pem, &args.fcm_ca_out) {
            std::fs::write(path, pem)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        let mut line = Line::new("fcm", sim.addr(), sim.base_url()).tls(!args.fcm_plain, pem);
        line.token_url = Some(sim.token_url());
        lines.push(line);
        simulators.fcm = Some(Arc::new(sim));
    }

    // Faults from the flags go through the controller, so the endpoint reads them back.
    let controller = Arc::new(Controller::new(simulators));
    for (simulator, rules) in [
        ("apns", &args.apns_faults),
        ("xiaomi", &args.xiaomi_faults),
        ("huawei", &args.huawei_faults),
        ("huawei_oauth", &args.huawei_oauth_faults),
        ("fcm", &args.fcm_faults),
        ("fcm_oauth", &args.fcm_oauth_faults),
    ] {
        if !rules.is_empty() {
            controller
                .set(simulator, rules, true)
                .map_err(|e| format!("--{}-fault: {e}", simulator.replace('_', "-")))?;
        }
    }
    // Kept alive until Ctrl-C; dropping it stops the endpoint.
    let control = if args.no_control {
        None
    } else {
        let addr = SocketAddr::new(args.host, args.control_port);
        Some(ControlServer::start(addr, Arc::clone(&controller)).await?)
    };

    for mut line in lines {
        line.control_url = control.as_ref().map(ControlServer::url);
        line.received_url = control.as_ref().map(|c| c.received_url(line.simulator));
        print_line(&line)?;
    }

    tokio::signal::ctrl_c().await?;
    // Dropping the controller and the endpoint stops the servers.
    drop(control);
    drop(controller);
    Ok(())
}

async fn start_apns(args: &Args) -> Result<ApnsSimulator, Box<dyn Error>> {
    let environment = if args.apns_production {
        ApnsEnvironment::Production
    } else {
        ApnsEnvironment::Development
    };
    let mut builder = ApnsSimulator::builder()
        .bind(SocketAddr::new(args.host, args.apns_port))
        .tls(!args.apns_h2c)
        .environment(environment)
        .max_concurrent_streams(args.apns_max_concurrent_streams)
        .require_provider_token(!args.apns_no_provider_token)
        .recording(args.recording);
    for topic in &args.apns_topics {
        builder = builder.topic(topic);
    }
    for spec in &args.apns_keys {
        let mut parts = spec.splitn(3, ':');
        let (Some(team), Some(key_id), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("--apns-key expects TEAM_ID:KEY_ID:PATH, got {spec:?}").into());
        };
        let pem = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        builder = builder.key(team, key_id, &pem);
    }
    if args.apns_keys.is_empty() && !args.apns_no_provider_token {
        eprintln!(
            "pushway-mock: no --apns-key given: every APNs request will get 403 until one is \
             configured (or use --apns-no-provider-token)"
        );
    }
    Ok(builder.start().await?)
}

async fn start_huawei(args: &Args) -> Result<HuaweiSimulator, Box<dyn Error>> {
    let mut builder = HuaweiSimulator::builder()
        .bind(SocketAddr::new(args.host, args.huawei_port))
        .token_expires_in(args.huawei_token_expires_in)
        .illegal_tokens_shape(args.huawei_illegal_tokens.clone())
        .recording(args.recording);
    if args.huawei_always_200 {
        builder = builder.error_status(ErrorStatus::AlwaysOk);
    }
    if let Some(id) = &args.huawei_app_id {
        builder = builder.app_id(id);
    }
    if let Some(secret) = &args.huawei_client_secret {
        builder = builder.client_secret(secret);
    }
    if let Some(project) = &args.huawei_project_id {
        builder = builder.project_id(project);
    }
    if let (Some(key_file), Some(public_key)) = (
        &args.huawei_service_account,
        &args.huawei_service_account_public_key,
    ) {
        builder = builder.service_account(service_account(key_file, public_key)?);
    }
    Ok(builder.start().await?)
}

async fn start_fcm(args: &Args) -> Result<FcmSimulator, Box<dyn Error>> {
    let mut builder = FcmSimulator::builder()
        .bind(SocketAddr::new(args.host, args.fcm_port))
        .tls(!args.fcm_plain)
        .token_expires_in(args.fcm_token_expires_in)
        .max_concurrent_streams(args.fcm_max_concurrent_streams)
        .goaway_after(args.fcm_goaway_after)
        .accept_any_token(!args.fcm_strict_tokens)
        .strict_size(args.fcm_strict_size)
        .recording(args.recording);
    if args.fcm_documented_quotas {
        builder = builder.quotas(Quotas::documented());
    }
    if args.fcm_service_accounts.is_empty() {
        builder = builder.service_account(ServiceAccountKey::test());
    }
    for path in &args.fcm_service_accounts {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let key = ServiceAccountKey::from_key_file(&text)
            .map_err(|e| format!("--fcm-service-account {}: {e}", path.display()))?;
        builder = builder.service_account(key);
    }
    Ok(builder.start().await?)
}

/// Reads `project_id`, `key_id` and `sub_account` of a key file, and the public key PEM.
fn service_account(
    key_file: &PathBuf,
    public_key: &PathBuf,
) -> Result<ServiceAccount, Box<dyn Error>> {
    let text = std::fs::read_to_string(key_file)
        .map_err(|e| format!("cannot read {}: {e}", key_file.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let field = |name: &str| {
        json[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{}: no string field {name:?}", key_file.display()))
    };
    Ok(ServiceAccount {
        project_id: field("project_id")?,
        key_id: field("key_id")?,
        sub_account: field("sub_account")?,
        public_key_pem: std::fs::read_to_string(public_key)
            .map_err(|e| format!("cannot read {}: {e}", public_key.display()))?,
    })
}

/// The JSON line printed for a started simulator, keys in this order.
#[derive(Debug, Serialize)]
struct Line {
    simulator: &'static str,
    addr: String,
    base_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_cert_pem: Option<String>,
    /// The fault control endpoint, shared by every simulator of the process.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_url: Option<String>,
    /// What this simulator received (`/_control/received?simulator=…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    received_url: Option<String>,
    /// FCM: the OAuth token endpoint (a key file's `token_uri`).
    #[serde(skip_serializing_if = "Option::is_none")]
    token_url: Option<String>,
}

impl Line {
    fn new(simulator: &'static str, addr: SocketAddr, base_url: String) -> Self {
        Line {
            simulator,
            addr: addr.to_string(),
            base_url,
            tls: None,
            ca_cert_pem: None,
            control_url: None,
            received_url: None,
            token_url: None,
        }
    }

    fn tls(mut self, tls: bool, ca_cert_pem: Option<String>) -> Self {
        self.tls = Some(tls);
        self.ca_cert_pem = ca_cert_pem;
        self
    }
}

fn print_line(line: &Line) -> Result<(), Box<dyn Error>> {
    let text = serde_json::to_string(line)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()?;
    Ok(())
}
