//! The agent under test: the real binary, started with a TOML config, observed through its HTTP endpoints.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running agent process (killed on drop).
pub struct Agent {
    child: Child,
    /// `http://127.0.0.1:<port>` of its health endpoint.
    pub health_url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The instance-metadata environment for an agent with config `toml`. With `agent.imds_endpoint` (a loopback fake)
/// instance metadata is switched on and the SDK's own endpoint variable points at the same fake, so nothing can
/// reach 169.254.169.254; without it metadata stays off (`AWS_EC2_METADATA_DISABLED=true`, from `scripts/test`).
pub fn imds_env(toml: &str) -> Vec<(&'static str, String)> {
    let url = toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("imds_endpoint = \""))
        .and_then(|rest| rest.split('"').next());
    match url {
        Some(url) => {
            assert!(
                url.starts_with("http://127.0.0.1:"),
                "tests use a loopback IMDS only: {url}"
            );
            vec![
                ("AWS_EC2_METADATA_DISABLED", "false".into()),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.to_string()),
            ]
        }
        None => vec![("AWS_EC2_METADATA_DISABLED", "true".into())],
    }
}

/// A free loopback port for a server started later. It lies below the kernel's ephemeral range, so no client
/// socket (of this test or another) is given it meanwhile, differs from every other port this process handed
/// out, and could be bound when it was chosen.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(LOWEST).max(1_000);
    let offset = std::process::id().wrapping_mul(7_919);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOWEST + offset.wrapping_add(n) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Runs the binary with `args` and a config file holding `toml`; returns (exit status, stdout, stderr).
pub fn run_once(args: &[&str], toml: &str) -> (ExitStatus, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, toml).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_route53-discovery"));
    for (k, v) in imds_env(toml) {
        cmd.env(k, v);
    }
    let out = cmd.args(args).arg("--config").arg(&path).output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// GET `url` with a short timeout: `Some((status, body))`, or `None` when nothing answers.
pub fn http_get(url: &str) -> Option<(u16, String)> {
    match ureq::get(url).timeout(Duration::from_secs(2)).call() {
        Ok(r) => Some((r.status(), r.into_string().unwrap_or_default())),
        Err(ureq::Error::Status(code, r)) => Some((code, r.into_string().unwrap_or_default())),
        Err(_) => None,
    }
}

impl Agent {
    /// Starts the agent with `toml` as its config file; `health_port` must match `[health] listen`.
    pub fn start(toml: &str, health_port: u16) -> Self {
        Self::start_with_env(toml, health_port, &[])
    }

    /// [`Agent::start`] with extra environment variables (later ones win over the defaults set here).
    pub fn start_with_env(toml: &str, health_port: u16, env: &[(&str, &str)]) -> Self {
        Self::spawn(&[], toml, health_port, env)
    }

    /// The janitor service (`route53-discovery janitor`) with `toml` as its config file.
    pub fn janitor(toml: &str, health_port: u16) -> Self {
        Self::spawn(&["janitor"], toml, health_port, &[])
    }

    fn spawn(args: &[&str], toml: &str, health_port: u16, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.toml");
        std::fs::File::create(&config)
            .unwrap()
            .write_all(toml.as_bytes())
            .unwrap();
        let log = dir.path().join("agent.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_route53-discovery"));
        for (k, v) in imds_env(toml) {
            cmd.env(k, v);
        }
        let child = cmd
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info,route53_discovery_actors=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the agent");
        Self {
            child,
            health_url: format!("http://127.0.0.1:{health_port}"),
            log,
            _dir: dir,
        }
    }

    /// GET `path` on the health endpoint: `Some((status, body))`, or `None` when nothing answers.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&format!("{}{path}", self.health_url))
    }

    /// Waits until `/readyz` answers 200.
    pub fn wait_ready(&mut self) {
        let start = Instant::now();
        while self.get("/readyz").map(|(s, _)| s) != Some(200) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "agent exited with {status} before it was ready:\n{}",
                    self.logs()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "agent not ready after 60 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: the agent dies at once, without draining.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit (at most `limit`) and returns its status.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "agent still running after {limit:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True while the agent process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The agent's log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- agent log ----\n{}", self.logs());
        }
    }
}
