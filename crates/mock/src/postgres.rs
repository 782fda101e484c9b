//! A private PostgreSQL server for tests and benchmarks, started from the machine's own
//! PostgreSQL binaries (`initdb`, `pg_ctl`, `postgres`) in a temporary directory, on loopback.
//!
//! Two ways to get one:
//! - [`shared_database`]: a fresh database on a server shared by every test process of this
//!   user (nextest runs each test in its own process; one `initdb` per test would cost seconds
//!   each). The first caller starts the server under a file lock; a watchdog stops it and removes
//!   its directory, under the same lock, once no client has been connected for a while.
//! - [`PgServer::start`]: a server of the caller's own, stopped when dropped, for tests that
//!   kill or restart it.
//!
//! PostgreSQL refuses to run as root: when this process is root, the server's directory is
//! handed to the `postgres` user and every server program runs as that user.
//!
//! The binaries are found in `PUSHWAY_PG_BIN`, else `pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout).

use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The role every test server has, with trust authentication on loopback.
pub const USER: &str = "pushway";

/// How long the shared server stays up with no client connected.
const IDLE_STOP_SECS: u64 = 120;

/// A PostgreSQL server this process started (or found running, for the shared one).
#[derive(Debug)]
pub struct PgServer {
    root: PathBuf,
    port: u16,
    bin: PathBuf,
    /// Stopped and removed on drop (own servers; the shared one is left to its watchdog).
    owned: bool,
}

/// A server's settings beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// `fsync=off`, `synchronous_commit=off`, `full_page_writes=off`: for tests, where the
    /// machine does not crash, only processes do (a killed server loses nothing the kernel
    /// has). Benchmarks keep the defaults.
    pub fast_unsafe: bool,
    /// Extra `-c name=value` settings.
    pub settings: Vec<(String, String)>,
}

impl PgServer {
    /// Starts a server of the caller's own in a new temporary directory.
    pub fn start(options: &PgOptions) -> io::Result<PgServer> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let root = std::env::temp_dir().join(format!(
            "pushway-pg-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            nanos()
        ));
        let server = PgServer::init(root, options, true)?;
        Ok(server)
    }

    fn init(root: PathBuf, options: &PgOptions, owned: bool) -> io::Result<PgServer> {
        let bin = bin_dir()?;
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        fs::create_dir_all(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700))?;
        let as_postgres = server_user()?;
        if let Some((uid, gid)) = as_postgres {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))?;
        }
        let data = root.join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, as_postgres, "initdb")?;
        let mut conf = String::from(
            "listen_addresses = '127.0.0.1'\nmax_connections = 300\nshared_buffers = 128MB\n",
        );
        if options.fast_unsafe {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        for (name, value) in &options.settings {
            conf.push_str(&format!("{name} = '{value}'\n"));
        }
        fs::write(data.join("postgresql.auto.conf"), conf)?;
        if let Some((uid, gid)) = as_postgres {
            std::os::unix::fs::chown(data.join("postgresql.auto.conf"), Some(uid), Some(gid))?;
        }
        let server = PgServer {
            root,
            port: free_port()?,
            bin,
            owned,
        };
        server.start_again()?;
        Ok(server)
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn start_again(&self) -> io::Result<()> {
        let mut ctl = Command::new(self.bin.join("pg_ctl"));
        ctl.arg("-D")
            .arg(self.root.join("data"))
            .arg("-l")
            .arg(self.root.join("server.log"))
            .arg("-o")
            .arg(format!("-p {} -k {}", self.port, self.root.display()))
            .args(["-w", "-t", "60", "start"]);
        run(ctl, server_user()?, "pg_ctl start")
            .map_err(|e| io::Error::other(format!("{e}; server log: {}", self.log_tail())))
    }

    /// Stops the server: `fast` (clients disconnected, a clean shutdown) or, with `immediate`,
    /// as a crash would (recovery from the WAL at the next start).
    pub fn stop(&self, immediate: bool) -> io::Result<()> {
        let mut ctl = Command::new(self.bin.join("pg_ctl"));
        ctl.arg("-D")
            .arg(self.root.join("data"))
            .args(["-m", if immediate { "immediate" } else { "fast" }])
            .args(["-w", "-t", "60", "stop"]);
        run(ctl, server_user()?, "pg_ctl stop")
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` (as [`USER`], no password).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub fn create_database(&self) -> io::Result<String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "t{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            nanos() % 1_000_000_000
        );
        let mut psql = Command::new(self.bin.join("psql"));
        psql.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            USER,
        ])
        .arg("-p")
        .arg(self.port.to_string())
        .args(["-d", "postgres", "-c"])
        .arg(format!("CREATE DATABASE {name}"));
        run(psql, None, "CREATE DATABASE")?;
        Ok(self.url(&name))
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The running server's postmaster pid (first line of `data/postmaster.pid`).
    pub fn postmaster_pid(&self) -> io::Result<u32> {
        let pid = fs::read_to_string(self.root.join("data/postmaster.pid"))?;
        pid.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| io::Error::other("postmaster.pid: no pid on its first line"))
    }

    /// The running server's CPU so far, in seconds: benchmarks report it beside their own, as
    /// the server runs detached (started by `pg_ctl`) and no child's accounting includes it.
    /// See [`server_cpu_seconds`].
    pub fn cpu_seconds(&self) -> io::Result<f64> {
        server_cpu_seconds(self.postmaster_pid()?)
    }

    fn answers(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.stop(true);
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// A fresh, empty database on the server shared by this user's test processes; its URL.
pub fn shared_database() -> io::Result<String> {
    shared_server()?.create_database()
}

/// The server shared by this user's test processes, started when none runs.
pub fn shared_server() -> io::Result<PgServer> {
    Shared::for_this_user().server()
}

/// Where the shared server lives and when its watchdog stops it.
///
/// One lock file orders everything that touches the server's directory: a client checks or
/// starts the server and refreshes the heartbeat under it, and the watchdog decides to stop,
/// stops and removes the directory under it. So a client never finds a server half stopped or
/// a directory half removed, and a server a client just asked for has a fresh heartbeat.
#[derive(Debug, Clone)]
struct Shared {
    root: PathBuf,
    lock: PathBuf,
    /// The watchdog stops the server once no client is connected and no client asked for it
    /// in this many seconds.
    idle_secs: u64,
    /// How often the watchdog looks.
    poll_secs: u64,
}

impl Shared {
    fn for_this_user() -> Shared {
        let uid = current_uid();
        let tmp = std::env::temp_dir();
        Shared {
            root: tmp.join(format!("pushway-pg-shared-{uid}")),
            lock: tmp.join(format!("pushway-pg-shared-{uid}.lock")),
            idle_secs: IDLE_STOP_SECS,
            poll_secs: 10,
        }
    }

    fn server(&self) -> io::Result<PgServer> {
        let lock = File::create(&self.lock)?;
        lock.lock()?;
        let port_file = self.root.join("port");
        if let Ok(port) = fs::read_to_string(&port_file)
            && let Ok(port) = port.trim().parse::<u16>()
        {
            let server = PgServer {
                root: self.root.clone(),
                port,
                bin: bin_dir()?,
                owned: false,
            };
            if server.answers() && server.root.join("data/postmaster.pid").exists() {
                touch(&self.root.join("heartbeat"))?;
                return Ok(server);
            }
            // A server from an earlier run that is gone (or half gone): start over.
            let _ = server.stop(true);
        }
        let options = PgOptions {
            fast_unsafe: true,
            settings: Vec::new(),
        };
        let server = PgServer::init(self.root.clone(), &options, false)?;
        fs::write(&port_file, server.port.to_string())?;
        touch(&self.root.join("heartbeat"))?;
        self.spawn_watchdog(&server)?;
        Ok(server)
    }

    /// A detached shell that, under the lock, stops the server and removes its directory once
    /// it has had no client for `idle_secs` and no process asked for it in that time. It leaves
    /// alone a directory that holds another server by then (another port in `port`).
    fn spawn_watchdog(&self, server: &PgServer) -> io::Result<()> {
        let script = format!(
            r#"
exec 9>>"{lock}"
while true; do
  sleep {poll}
  flock 9
  [ "$(cat "{root}/port" 2>/dev/null)" = "{port}" ] || exit 0
  clients=$("{bin}/psql" -X -At -h 127.0.0.1 -p {port} -U {user} -d postgres -c \
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null || echo gone)
  [ "$clients" = gone ] && break
  age=$(( $(date +%s) - $(stat -c %Y "{root}/heartbeat" 2>/dev/null || echo 0) ))
  if [ "$clients" = 0 ] && [ "$age" -gt {idle} ]; then break; fi
  flock -u 9
done
{stop}
rm -rf "{root}"
"#,
            lock = self.lock.display(),
            poll = self.poll_secs,
            bin = server.bin.display(),
            port = server.port,
            user = USER,
            root = self.root.display(),
            idle = self.idle_secs,
            stop = stop_command(server)?,
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(())
    }
}

fn stop_command(server: &PgServer) -> io::Result<String> {
    let ctl = format!(
        "\"{}/pg_ctl\" -D \"{}/data\" -m immediate -w stop >/dev/null 2>&1",
        server.bin.display(),
        server.root.display()
    );
    Ok(match server_user()? {
        Some(_) => format!("runuser -u postgres -- {ctl}"),
        None => ctl,
    })
}

fn run(mut command: Command, as_user: Option<(u32, u32)>, what: &str) -> io::Result<()> {
    if let Some((uid, gid)) = as_user {
        command.uid(uid).gid(gid);
        // The server programs look for their home's files; root's is not readable to them.
        command.current_dir("/");
    }
    let output = command.stdin(Stdio::null()).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

/// The `postgres` user's uid and gid when this process is root (PostgreSQL will not run as
/// root), else `None`.
fn server_user() -> io::Result<Option<(u32, u32)>> {
    if current_uid() != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .map(Some)
        .ok_or_else(|| {
            io::Error::other("running as root and there is no `postgres` user to run the server as (apt-get install postgresql)")
        })
}

/// This process's uid, read from `/proc` (no libc call needed).
fn current_uid() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|uid| uid.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

fn bin_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PUSHWAY_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        io::Error::other(
            "no PostgreSQL server binaries (initdb): apt-get install postgresql, or set PUSHWAY_PG_BIN",
        )
    })
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn touch(path: &Path) -> io::Result<()> {
    File::create(path)?.set_modified(SystemTime::now())
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A Postgres server's CPU so far, in seconds: the postmaster's own and its reaped children's,
/// plus its live children's (the backends). A child that exits between two readings moves from
/// the second term to the first with all its CPU, so differences of readings stay right. A
/// backend reaped while the children are listed would be in neither term: the reading is taken
/// again until the reaped children's CPU is the same before and after the listing.
pub fn server_cpu_seconds(postmaster: u32) -> io::Result<f64> {
    for _ in 0..100 {
        let pm = ProcStat::read(postmaster)?;
        let mut ticks = pm.utime + pm.stime + pm.cutime + pm.cstime;
        for entry in fs::read_dir("/proc")?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // A process may exit between the listing and the read: skip it.
            if let Ok(stat) = ProcStat::read(pid)
                && stat.ppid == postmaster
            {
                ticks += stat.utime + stat.stime;
            }
        }
        let again = ProcStat::read(postmaster)?;
        if again.cutime + again.cstime == pm.cutime + pm.cstime {
            // USER_HZ: 100 on Linux.
            return Ok(ticks as f64 / 100.0);
        }
    }
    Err(io::Error::other(
        "the server's children kept exiting while their CPU was read",
    ))
}

/// The CPU fields of a process's `/proc/<pid>/stat`, in clock ticks (USER_HZ, 100 on Linux).
#[derive(Debug, Clone, Copy)]
pub struct ProcStat {
    /// The parent's pid.
    pub ppid: u32,
    /// User CPU.
    pub utime: u64,
    /// System CPU.
    pub stime: u64,
    /// User CPU of its reaped children.
    pub cutime: u64,
    /// System CPU of its reaped children.
    pub cstime: u64,
}

impl ProcStat {
    /// Process `pid`'s.
    pub fn read(pid: u32) -> io::Result<ProcStat> {
        ProcStat::read_path(&format!("/proc/{pid}/stat"))
    }

    /// This process's own.
    pub fn read_self() -> io::Result<ProcStat> {
        ProcStat::read_path("/proc/self/stat")
    }

    fn read_path(path: &str) -> io::Result<ProcStat> {
        let stat = fs::read_to_string(path)?;
        // The command name (field 2) may hold spaces and parentheses: fields count from the
        // last ')'. After it, index 0 is field 3 (state).
        let fields: Vec<&str> = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..))
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let field = |i: usize| -> io::Result<u64> {
            fields
                .get(i)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| io::Error::other(format!("{path}: no field {}", i + 3)))
        };
        Ok(ProcStat {
            ppid: u32::try_from(field(1)?).map_err(io::Error::other)?,
            utime: field(11)?,
            stime: field(12)?,
            cutime: field(13)?,
            cstime: field(14)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared database is reachable and empty; a second one is a different database.
    #[test]
    fn shared_databases_are_fresh_and_distinct() {
        let a = shared_database().expect("shared database");
        let b = shared_database().expect("second database");
        assert_ne!(a, b);
        let server = shared_server().expect("shared server");
        assert!(server.answers());
        assert!(a.starts_with(&format!("postgres://{USER}@127.0.0.1:{}/t", server.port())));
    }

    /// The watchdog stops an idle shared server only when it holds the lock, so a client that
    /// holds it (checking or starting the server) never sees the server stop or its directory
    /// go; once the lock is free, the idle server is stopped and removed.
    #[test]
    fn the_watchdog_stops_an_idle_server_only_under_the_lock() {
        let tmp = std::env::temp_dir();
        let name = format!("pushway-pg-watchdog-{}-{}", std::process::id(), nanos());
        let shared = Shared {
            root: tmp.join(&name),
            lock: tmp.join(format!("{name}.lock")),
            idle_secs: 1,
            poll_secs: 1,
        };
        let server = shared.server().expect("shared server");
        assert!(server.answers());

        let lock = File::create(&shared.lock).expect("lock file");
        lock.lock().expect("lock");
        let long_ago = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(shared.root.join("heartbeat"))
            .and_then(|f| f.set_modified(long_ago))
            .expect("an old heartbeat");
        // Several of the watchdog's rounds, each of which would stop the idle server.
        std::thread::sleep(Duration::from_secs(4));
        assert!(server.answers(), "stopped while a client held the lock");
        assert!(shared.root.join("data/postmaster.pid").exists());

        drop(lock);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while shared.root.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            !shared.root.exists(),
            "the idle server's directory is still there"
        );
        assert!(!server.answers(), "the idle server still answers");
        let _ = fs::remove_file(&shared.lock);
    }

    /// An own server stops and starts again on the same port, and is gone after drop.
    #[test]
    fn own_server_restarts_and_is_removed() {
        let server = PgServer::start(&PgOptions::default()).expect("start");
        assert!(server.answers());
        server.stop(true).expect("stop");
        assert!(!server.answers());
        server.start_again().expect("start again");
        assert!(server.answers());
        let root = server.root.clone();
        drop(server);
        assert!(!root.exists());
    }
}
