//! Real S3 servers for the tests, on 127.0.0.1: s3s-fs in-process, and Garage as a child process.
//! Both verify SigV4 signatures for real.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stowage::{Credentials, S3Config, S3Storage};

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stowage-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a test needs to reach a server.
pub struct Server {
    pub name: &'static str,
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret: String,
    /// Whether the server checks session tokens (neither of ours has temporary credentials).
    pub supports_session_tokens: bool,
    _guard: Guard,
}

/// The test server's secret, for tests that sign by other means (botocore, raw requests).
fn secret_of(server: &TestServer) -> String {
    server.secret_access_key().to_owned()
}

enum Guard {
    S3s(TestServer),
    Garage { _dir: TempDir, child: Child, binary: PathBuf, config: PathBuf },
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self {
            Guard::S3s(_) => {}
            Guard::Garage { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Server {
    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.access_key.as_str(), self.secret.as_str())
    }

    pub fn config(&self) -> S3Config {
        S3Config::new(self.bucket.as_str(), self.region.as_str(), self.credentials())
            .with_endpoint(self.endpoint.as_str())
    }

    pub async fn storage(&self) -> S3Storage {
        self.config().build().await.expect("storage")
    }

    /// What the conformance suite expects of this server (each difference from Amazon S3 recorded
    /// here, probed on the server itself).
    pub fn profile(&self) -> stowage::testing::conformance::Profile {
        use stowage::testing::conformance::Profile;
        match self.name {
            "s3s-fs" => Profile::s3s_fs(),
            // Garage 2.5: see `garage_profile`.
            _ => garage_profile(),
        }
    }

    /// Runs Garage's command line against this server (`None` for other servers).
    pub fn garage_cli(&self, args: &[&str]) -> Option<Result<String, String>> {
        let Guard::Garage { binary, config, .. } = &self._guard else { return None };
        let out = match Command::new(binary).arg("-c").arg(config).args(args).output() {
            Ok(out) => out,
            Err(e) => return Some(Err(e.to_string())),
        };
        Some(if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("garage {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
        })
    }
}

use stowage::testing::TestServer;

/// s3s-fs, served in this process on 127.0.0.1:0 by `stowage::testing` (starts in milliseconds;
/// needs nothing installed).
pub async fn s3s() -> Server {
    let embedded = TestServer::builder().with_bucket("stowage-test").start().await.expect("embedded s3s-fs");
    let credentials = embedded.credentials();
    Server {
        name: "s3s-fs",
        endpoint: embedded.endpoint().to_owned(),
        region: embedded.region().into(),
        bucket: embedded.bucket().to_owned(),
        access_key: credentials.access_key_id().to_owned(),
        secret: secret_of(&embedded),
        supports_session_tokens: false,
        _guard: Guard::S3s(embedded),
    }
}

/// Garage 2.5, where it differs from Amazon S3 (each line probed on Garage 2.5.0 by the conformance
/// suite, which fails if Garage does better or worse).
fn garage_profile() -> stowage::testing::conformance::Profile {
    stowage::testing::conformance::Profile::amazon_s3()
        .with_name("garage")
        .with_conditional_puts(false)
        .with_conditional_completions(false)
        .with_conditional_copies(false)
}

/// The Garage binary: `STOWAGE_GARAGE`, else `garage` on PATH, else `~/.cargo/bin/garage`.
fn garage_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("STOWAGE_GARAGE") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("garage")).find(|p| p.is_file()));
    on_path.or_else(|| {
        let home = std::env::var_os("HOME")?;
        let path = PathBuf::from(home).join(".cargo/bin/garage");
        path.is_file().then_some(path)
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Garage, started off the runtime's threads (see [`garage`]).
pub async fn garage_started() -> Option<Server> {
    tokio::task::spawn_blocking(garage).await.expect("starting garage")
}

/// Garage 2.x as a child process: single node, sqlite, region `auto`, one key and one bucket.
/// `None` (after saying so) when the binary is absent outside CI; under CI a missing Garage fails.
pub fn garage() -> Option<Server> {
    let binary = garage_binary();
    let install = "cargo install garage@2.5.0 --locked --no-default-features --features bundled-libs,sqlite";
    if !super::available("garage", binary.is_some(), install) {
        return None;
    }
    let binary = binary?;
    // Two ports picked free can be taken by another test's server before this one binds them: a
    // start that fails is tried again on new ports.
    let mut failures = Vec::new();
    for _ in 0..4 {
        match start_garage(&binary) {
            Ok(server) => return Some(server),
            Err(e) => failures.push(e),
        }
    }
    panic!("garage did not start: {failures:#?}");
}

fn start_garage(binary: &std::path::Path) -> Result<Server, String> {
    let dir = TempDir::new("garage");
    let (s3_port, rpc_port) = (free_port(), free_port());
    let rpc_secret: String = (0..32).map(|i| format!("{:02x}", (i * 37 + std::process::id() as usize) % 256)).collect();
    let config = dir.0.join("garage.toml");
    std::fs::write(
        &config,
        format!(
            "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\nrpc_public_addr = \"127.0.0.1:{rpc_port}\"\nrpc_secret = \"{rpc_secret}\"\n\n\
             [s3_api]\ns3_region = \"auto\"\napi_bind_addr = \"127.0.0.1:{s3_port}\"\n",
            meta = dir.0.join("meta").display(),
            data = dir.0.join("data").display(),
        ),
    )
    .expect("garage.toml");
    let log = std::fs::File::create(dir.0.join("garage.log")).expect("log file");
    let child = Command::new(binary)
        .arg("-c")
        .arg(&config)
        .arg("server")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start garage: {e}"))?;
    let mut guard = Guard::Garage { _dir: dir, child, binary: binary.to_owned(), config: config.clone() };
    let cli = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(binary).arg("-c").arg(&config).args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("garage {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };

    let started = Instant::now();
    let node_id = loop {
        if let Ok(id) = cli(&["node", "id", "-q"]) {
            break id.trim().split('@').next().unwrap_or_default().to_owned();
        }
        if let Guard::Garage { child, .. } = &mut guard
            && child.try_wait().ok().flatten().is_some()
        {
            return Err("garage exited during start-up".into());
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("garage did not start within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let access_key = "GK0123456789abcdef01234567".to_owned();
    let secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_owned();
    let bucket = "stowage-test".to_owned();
    for args in [
        vec!["layout", "assign", "-z", "dc1", "-c", "1G", node_id.as_str()],
        vec!["layout", "apply", "--version", "1"],
        vec!["key", "import", "--yes", "-n", "stowage-test", access_key.as_str(), secret.as_str()],
        vec!["bucket", "create", bucket.as_str()],
        vec!["bucket", "allow", "--read", "--write", "--owner", bucket.as_str(), "--key", access_key.as_str()],
    ] {
        cli(&args).map_err(|e| format!("bootstrapping garage: {e}"))?;
    }
    // Ready when the S3 port answers.
    while std::net::TcpStream::connect(("127.0.0.1", s3_port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("garage's S3 API did not open within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("garage ready in {:.2} s", started.elapsed().as_secs_f64());
    Ok(Server {
        name: "garage",
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        region: "auto".into(),
        bucket,
        access_key,
        secret,
        supports_session_tokens: false,
        _guard: guard,
    })
}
