//! The gateway nodes of an `e2e` run and their store: one `pushway serve` on SQLite, or
//! `--nodes` of them on one Postgres database (a private server started here, or `--pg-url`).

use pushway::gateway::store::postgres::PgStore;
use pushway_mock::apns::TestKey;
use pushway_mock::postgres::{PgOptions, PgServer};

use super::e2e::Args;
use super::pgcpu;
use super::procs::{Mock, Proc, StoreAt, ticks, write_config};
use super::{Ctx, Res};

/// The store the nodes share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// A SQLite file (one node).
    Sqlite,
    /// A Postgres database (one or more nodes).
    Postgres,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// The running nodes; the Postgres server (when this process started it) is stopped after
/// them, on drop.
pub struct Cluster {
    /// Node 0 first; the nodes are killed when dropped, before the server.
    pub nodes: Vec<Proc>,
    /// The postmaster's pid when the server runs on this machine (its CPU is then measured).
    postmaster: Option<u32>,
    _server: Option<PgServer>,
}

impl Cluster {
    pub async fn start(ctx: &Ctx, args: &Args, mock: &Mock, key: &TestKey) -> Res<Cluster> {
        if args.nodes == 0 {
            return Err("--nodes must be at least 1".into());
        }
        if args.store == StoreKind::Sqlite {
            if args.nodes != 1 || args.pg_url.is_some() {
                return Err(
                    "SQLite is one node: --nodes > 1 and --pg-url need --store postgres".into(),
                );
            }
            let store = StoreAt::Sqlite(&ctx.dir.join("e2e.sqlite3"));
            let config = write_config(&ctx.dir, mock, key, &store)?;
            return Ok(Cluster {
                nodes: vec![Proc::serve(&ctx.pushway_bin, &config)?],
                postmaster: None,
                _server: None,
            });
        }
        let (server, url) = match &args.pg_url {
            Some(url) => (None, url.clone()),
            None => {
                // Default durability, as cluster_bench: fsync and synchronous_commit on.
                let server = tokio::task::spawn_blocking(|| PgServer::start(&PgOptions::default()))
                    .await??;
                let url = server.create_database()?;
                (Some(server), url)
            }
        };
        // Migrates the schema once (the nodes would, each under the migration lock) and finds
        // the postmaster, if it is on this machine.
        let store = PgStore::open(&url, 1).await?;
        let postmaster = pgcpu::postmaster(&store)
            .await
            .ok()
            .filter(|pid| pgcpu::Snapshot::take(*pid).is_ok());
        store.close().await;
        let mut nodes = Vec::with_capacity(args.nodes);
        for n in 0..args.nodes {
            let node = format!("bench-{n}");
            let store = StoreAt::Postgres {
                url: &url,
                node: &node,
                max_connections: args.max_connections,
            };
            let config = write_config(&ctx.dir, mock, key, &store)?;
            nodes.push(Proc::serve(&ctx.pushway_bin, &config)?);
        }
        Ok(Cluster {
            nodes,
            postmaster,
            _server: server,
        })
    }

    /// The nodes' CPU ticks, summed.
    pub fn ticks(&self) -> Res<u64> {
        self.nodes.iter().map(|node| ticks(node.pid())).sum()
    }

    /// The Postgres server's CPU so far, seconds (`None` when it is not on this machine).
    pub fn postgres_cpu_s(&self) -> Option<f64> {
        let postmaster = self.postmaster?;
        pgcpu::Snapshot::take(postmaster).ok().map(|s| s.server_s)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The nodes go before the server (field order would drop them first too; said here
        // because a server stopped under live nodes makes them log errors).
        self.nodes.clear();
    }
}
