//! `pushway`: the offline-push gateway. Parses arguments, runs, maps errors to an exit code;
//! everything else is in `pushway::gateway` (and `pushway demo` in its own module).

mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pushway::gateway::api::admin_credentials::ConfigSource;
use pushway::gateway::config::{AppConfig, Config, LogFormat};
use pushway::gateway::{Gateway, auth, check, simulate, start_with_source};

/// pushway: offline push for instant messaging.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the gateway (HTTP API, durable outbox, delivery workers).
    Serve {
        /// A TOML configuration file; `PUSHWAY_*` environment variables override it. Without
        /// one: SQLite under ./pushway-data/, 127.0.0.1:8080.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Starts the bundled vendor simulators in-process and a demo app that sends to them.
        #[arg(long)]
        simulate: bool,
        /// Log lines as `text` or `json` (one object per event, with its spans' ids); overrides
        /// `[server] log_format`.
        #[arg(long, value_enum)]
        log_format: Option<LogFormatArg>,
    },
    /// Runs the gateway with simulated vendors on a temporary database, acts as an IM back end
    /// through its HTTP API, and prints what each vendor received and each outcome; exits 0
    /// only when every outcome is the expected one.
    Demo,
    /// Validates the configuration (keys, secret files, vendor credentials) and exits.
    CheckConfig {
        /// A TOML configuration file; `PUSHWAY_*` environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The demo's output is its report: only warnings unless RUST_LOG asks for more.
    let default_level = match args.command {
        Command::Demo => "warn",
        _ => "info",
    };
    // `serve` reads its configuration before logging starts: the log format may be set there.
    let serve_config = match &args.command {
        Command::Serve { config, .. } => match Config::load(config.as_deref()) {
            Ok(loaded) => Some(loaded),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let format = match &args.command {
        Command::Serve {
            log_format: Some(LogFormatArg::Json),
            ..
        } => LogFormat::Json,
        Command::Serve {
            log_format: Some(LogFormatArg::Text),
            ..
        } => LogFormat::Text,
        _ => serve_config
            .as_ref()
            .map_or(LogFormat::Text, |c| c.server.log_format),
    };
    init_logging(default_level, format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args.command, serve_config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(default_level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    match format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
        _ => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
}

async fn run(command: Command, serve_config: Option<Config>) -> anyhow::Result<()> {
    match command {
        Command::CheckConfig { config } => {
            let config = Config::load(config.as_deref())?;
            for line in check(&config)? {
                println!("{line}");
            }
            println!("configuration OK");
            Ok(())
        }
        Command::Serve {
            simulate,
            config: file,
            ..
        } => {
            let config = serve_config.context("the configuration was not loaded")?;
            serve(config, file, simulate).await
        }
        Command::Demo => demo::run().await,
    }
}

/// Runs `config` (read from `file`, which SIGHUP reads again) until a stop signal.
async fn serve(mut config: Config, file: Option<PathBuf>, simulate: bool) -> anyhow::Result<()> {
    let mut demo = None;
    let mut demo_app = None;
    if simulate {
        anyhow::ensure!(
            !config.apps.contains_key(simulate::DEMO_APP),
            "--simulate adds an app called {:?}, which the configuration already has",
            simulate::DEMO_APP
        );
        let key = auth::generate_key();
        let (sims, app) = simulate::demo(&key)
            .await
            .context("starting the simulators")?;
        config
            .apps
            .insert(simulate::DEMO_APP.to_owned(), app.clone());
        demo = Some((sims, key));
        demo_app = Some(app);
    }
    if config.apps.is_empty() {
        eprintln!("warning: no apps configured: every request will be refused (try --simulate)");
    }
    // No admin key configured: a new one for this run, shown once here and kept only as its
    // hash, like the demo app's key.
    let mut admin_key = None;
    if config.admin.enabled && !config.admin.has_key() {
        let key = auth::generate_key();
        config.admin.key_sha256 = Some(auth::hex(&auth::hash_key(&key)));
        admin_key = Some(key);
    }
    let grace = config.server.shutdown_grace();
    let source = config_source(file, demo_app);
    let gateway = start_with_source(config, source.clone()).await?;
    let base = format!("http://{}", gateway.addr());
    println!("pushway listening on {base}  (API under {base}/v1, health at {base}/readyz)");
    if let Some(admin) = gateway.admin_addr() {
        let admin = format!("http://{admin}");
        println!("admin console on {admin}/console  (admin API under {admin}/admin/v1)");
    }
    if let Some(key) = &admin_key {
        println!("admin key (generated for this run; set [admin] key_sha256 to keep one): {key}");
    }
    if let Some((_, key)) = &demo {
        println!(
            "demo app {:?} with every vendor simulated; API key: {key}",
            simulate::DEMO_APP
        );
        println!("try:");
        println!(
            "  curl -X PUT {base}/v1/apps/demo/users/bob/devices/phone -H 'Authorization: Bearer {key}' \\\n    -H 'Content-Type: application/json' -d '{{\"kind\":\"xiaomi\",\"credential\":\"demo\",\"token\":\"regid-bob\"}}'"
        );
        println!(
            "  curl -X POST '{base}/v1/apps/demo/messages?wait=5s' -H 'Authorization: Bearer {key}' -H 'Idempotency-Key: first' \\\n    -H 'Content-Type: application/json' -d '{{\"message\":{{\"conversation\":{{\"type\":\"c2c\",\"peer\":\"bob\"}},\"sender\":{{\"user_id\":\"alice\"}},\"elements\":[{{\"type\":\"text\",\"text\":\"hello\"}}]}},\"recipients\":[{{\"user_id\":\"bob\"}}]}}'"
        );
    }
    let stopping = shutdown_signal();
    tokio::pin!(stopping);
    let mut hangups = hangups();
    loop {
        tokio::select! {
            () = &mut stopping => break,
            Some(()) = hangups.recv() => reload(&gateway, &source).await,
        }
    }
    println!("stopping");
    gateway.stop(grace).await;
    drop(demo);
    Ok(())
}

/// What SIGHUP (and the admin API's reload) reads: the file, the environment and the secret
/// files again, plus the `--simulate` demo app, which is not in the file.
fn config_source(file: Option<PathBuf>, demo_app: Option<AppConfig>) -> ConfigSource {
    ConfigSource::new(move || {
        let mut config = Config::load(file.as_deref())?;
        if let Some(app) = &demo_app {
            config
                .apps
                .insert(simulate::DEMO_APP.to_owned(), app.clone());
        }
        Ok(config)
    })
}

/// Re-reads the configuration and applies the difference; the gateway logs one summary line
/// (and a line per refusal). A configuration that does not load changes nothing.
async fn reload(gateway: &Gateway, source: &ConfigSource) {
    let source = source.clone();
    match tokio::task::spawn_blocking(move || source.load()).await {
        Ok(Ok(config)) => {
            if let Err(e) = gateway.reload(&config).await {
                eprintln!("error: SIGHUP: reload failed: {e}");
            }
        }
        Ok(Err(e)) => {
            eprintln!("error: SIGHUP: the configuration does not load, nothing changed: {e}");
        }
        Err(e) => eprintln!("error: SIGHUP: reading the configuration failed: {e}"),
    }
}

/// One message per SIGHUP (none where there is no such signal).
fn hangups() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        // A reload already waiting covers this signal too.
                        let _ = tx.try_send(());
                    }
                });
            }
            Err(e) => eprintln!("warning: SIGHUP cannot be handled, no reloads: {e}"),
        }
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
