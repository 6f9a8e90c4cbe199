//! A private PostgreSQL for tests: a cluster made with `initdb` in a temporary directory and run
//! by `pg_ctl` on a free loopback port, so no system service is assumed; stopped and removed
//! when dropped. Each test takes a fresh database in it ([`TestPostgres::database`]).
//!
//! `XC_TEST_POSTGRES=postgres://user@host:port` points the tests at a cluster that is already
//! running (the test script starts one for the whole run): each test still gets its own
//! database. Not for production use; the server never calls this.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The backend the tests run against: `XC_TEST_DATABASE=postgres` makes the server fixtures
/// use PostgreSQL; anything else (or nothing) keeps SQLite.
pub fn postgres_requested() -> bool {
    std::env::var("XC_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// Where PostgreSQL's programs are: on the `PATH`, or in Debian's versioned directory.
pub fn bin_dir() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("pg_ctl").is_file() && dir.join("initdb").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// A running cluster: private (stopped and removed on drop) or given by `XC_TEST_POSTGRES`.
#[derive(Debug)]
pub struct TestPostgres {
    /// `postgres://user@127.0.0.1:port`, without a database name.
    base: String,
    private: Option<Private>,
}

#[derive(Debug)]
struct Private {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Whether the programs run as the `postgres` user (PostgreSQL refuses to run as root).
    as_postgres: bool,
}

const USER: &str = "xc";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Private {
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        self.command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .output()
    }
}

impl TestPostgres {
    /// The cluster of `XC_TEST_POSTGRES`, else a private one started now.
    pub fn start() -> Self {
        if let Ok(base) = std::env::var("XC_TEST_POSTGRES")
            && !base.is_empty()
        {
            return Self {
                base: base.trim_end_matches('/').to_owned(),
                private: None,
            };
        }
        Self::start_private()
    }

    /// A private cluster, whatever the environment says (for tests that stop and start it).
    pub fn start_private() -> Self {
        let bin = bin_dir().expect(
            "PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql) for this test",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "chown the cluster's directory to postgres"
            );
        }
        let mut p = Private {
            _dir: dir,
            data,
            bin,
            port: 0,
            as_postgres,
        };
        let out = p
            .command("initdb")
            .arg("-D")
            .arg(&p.data)
            .args([
                "-U",
                USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        p.port = free_port();
        let s = Self {
            base: format!("postgres://{USER}@127.0.0.1:{}", p.port),
            private: Some(p),
        };
        s.start_again();
        s
    }

    /// Starts the private cluster again after [`Self::stop`], on the same port.
    pub fn start_again(&self) {
        let p = self.private.as_ref().expect("a private cluster");
        let opts = format!(
            "-p {} -h 127.0.0.1 -k {} -c fsync=off -c full_page_writes=off -c max_connections=300",
            p.port,
            p.data.display()
        );
        let log = p.data.join("server.log");
        let out = p
            .pg_ctl(&[
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "-l",
                &log.display().to_string(),
                "start",
            ])
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        self.wait_ready(Duration::from_secs(60));
    }

    /// Serves TLS from now on with `cert` and `key` (PEM files), beside plain connections:
    /// copies them into the private cluster's data directory and starts it again.
    pub fn serve_tls(&self, cert: &Path, key: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.private.as_ref().expect("a private cluster");
        for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
            let to = p.data.join(name);
            std::fs::copy(from, &to).expect("copy a TLS file into the cluster");
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            if p.as_postgres {
                let status = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&to)
                    .status()
                    .expect("chown");
                assert!(status.success(), "chown {}", to.display());
            }
        }
        let conf = p.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        text.push_str("\nssl = on\n");
        std::fs::write(&conf, text).expect("postgresql.conf");
        self.stop();
        self.start_again();
    }

    /// Stops the private cluster at once (connections are cut), keeping its data.
    pub fn stop(&self) {
        let p = self.private.as_ref().expect("a private cluster");
        let out = p
            .pg_ctl(&["-w", "-m", "immediate", "stop"])
            .expect("run pg_ctl stop");
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let url = self.url("postgres");
            match crate::off_runtime(|| postgres::Client::connect(&url, postgres::NoTls).map(drop))
            {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!("PostgreSQL never came up: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The URL of database `name` in this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    /// The URL of database `name` through the private cluster's Unix socket: reachable from
    /// processes in other network namespaces, which do not share the loopback address.
    pub fn socket_url(&self, name: &str) -> String {
        let p = self.private.as_ref().expect("a private cluster");
        let dir = p.data.display().to_string().replace('/', "%2F");
        format!("postgres://{USER}@{dir}:{}/{name}", p.port)
    }

    /// A new, empty database as [`Self::database`], named by its socket URL.
    pub fn socket_database(&self) -> TestDatabase {
        let mut db = self.database();
        db.url = self.socket_url(&db.name);
        db
    }

    /// A new, empty database, dropped with the returned handle.
    pub fn database(&self) -> TestDatabase {
        let name = format!("xc_{}", uuid::Uuid::new_v4().simple());
        self.admin(&format!("CREATE DATABASE {name}"));
        TestDatabase {
            url: self.url(&name),
            admin: self.url("postgres"),
            name,
        }
    }

    fn admin(&self, sql: &str) {
        crate::off_runtime(|| {
            let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
                .expect("connect to the test cluster");
            admin.batch_execute(sql).expect(sql);
        })
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(p) = &self.private {
            let _ = p.pg_ctl(&["-w", "-m", "immediate", "stop"]);
        }
    }
}

/// A database of the test cluster, dropped (its connections cut) when this is.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    pub fn database(&self) -> crate::Database {
        self.url.parse().expect("a test database URL")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        crate::off_runtime(|| {
            if let Ok(mut admin) = postgres::Client::connect(&self.admin, postgres::NoTls) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        })
    }
}

/// A fresh store's database for a test, on the backend `XC_TEST_DATABASE` asks for: a SQLite
/// file in a temporary directory, or a new database on PostgreSQL.
#[derive(Debug)]
pub struct Fresh {
    pub database: crate::Database,
    // Dropped in this order: the database, then its cluster, then the directory.
    _pg: Option<TestDatabase>,
    _cluster: Option<TestPostgres>,
    _dir: tempfile::TempDir,
}

impl Fresh {
    pub fn new() -> Self {
        if postgres_requested() {
            let dir = tempfile::tempdir().expect("tempdir");
            let cluster = TestPostgres::start();
            let db = cluster.database();
            Self {
                database: db.database(),
                _pg: Some(db),
                _cluster: Some(cluster),
                _dir: dir,
            }
        } else {
            Self::sqlite()
        }
    }

    /// A SQLite file, whatever `XC_TEST_DATABASE` asks.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self {
            database: crate::Database::Sqlite(dir.path().join("db.sqlite")),
            _pg: None,
            _cluster: None,
            _dir: dir,
        }
    }

    /// The directory the test may use for its other files.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn open(&self) -> crate::Store {
        crate::Store::connect(&self.database).expect("open the test store")
    }
}

impl Default for Fresh {
    fn default() -> Self {
        Self::new()
    }
}
