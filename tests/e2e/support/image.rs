//! The agent as a container of its own image (built by `scripts/test` from ./Dockerfile, named by
//! `R53D_E2E_AGENT_IMAGE`), run the way an ECS daemon service runs it: host network, the host's `/var/run`, a
//! mounted TOML config and static AWS credentials. The container is removed on drop, also when a test fails.

use std::process::Command;
use std::time::{Duration, Instant};

use super::docker::docker;

/// Where the test's config is mounted in the agent's container (the path `R53D_CONFIG` names).
const CONFIG_PATH: &str = "/etc/route53-discovery/e2e.toml";

/// The agent image under test.
pub fn agent_image() -> String {
    super::env("R53D_E2E_AGENT_IMAGE")
}

/// `docker image inspect -f <format>` of `image`.
pub fn image_inspect(image: &str, format: &str) -> String {
    docker(&["image", "inspect", "-f", format, image])
}

/// The agent running in a container of the agent image.
pub struct AgentContainer {
    /// Container id.
    pub id: String,
    /// `http://127.0.0.1:<port>` of its health endpoint (host network: the same loopback as the test).
    pub health_url: String,
    _dir: tempfile::TempDir,
}

impl AgentContainer {
    /// `docker run -d` of the agent image named `name`, with `toml` mounted as its config (`[health] listen` must be
    /// 127.0.0.1:`health_port`) and Docker's health check every second instead of the image's 15 s.
    pub fn start(name: &str, toml: &str, health_port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.toml");
        std::fs::write(&config, toml).unwrap();
        let mount = format!("{}:{CONFIG_PATH}:ro", config.display());
        let config_env = format!("R53D_CONFIG={CONFIG_PATH}");
        let image = agent_image();
        let mut args = vec![
            "run",
            "-d",
            "--name",
            name,
            "--label",
            "r53d-test=1",
            "--network",
            "host",
            "-v",
            "/var/run:/var/run",
            "-v",
            &mount,
            "-e",
            &config_env,
            "--health-interval=1s",
            "--health-timeout=3s",
            "--health-retries=3",
        ];
        // Static test credentials: the SDK talks to moto on loopback only.
        for var in [
            "AWS_ACCESS_KEY_ID=testing",
            "AWS_SECRET_ACCESS_KEY=testing",
            "AWS_SESSION_TOKEN=testing",
            "AWS_REGION=us-east-1",
            "RUST_LOG=info,route53_discovery_actors=debug",
        ] {
            args.extend(["-e", var]);
        }
        // Instance metadata only from the world's loopback fake (host network), or off.
        let imds: Vec<String> = super::agent::imds_env(toml)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for var in &imds {
            args.extend(["-e", var.as_str()]);
        }
        args.push(&image);
        let id = docker(&args);
        Self {
            id,
            health_url: format!("http://127.0.0.1:{health_port}"),
            _dir: dir,
        }
    }

    /// GET `path` on the health endpoint: `Some((status, body))`, or `None` when nothing answers.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        super::agent::http_get(&format!("{}{path}", self.health_url))
    }

    /// `docker inspect -f <format>` of the container.
    pub fn inspect(&self, format: &str) -> String {
        docker(&["inspect", "-f", format, &self.id])
    }

    /// True while the container runs.
    pub fn is_running(&self) -> bool {
        self.inspect("{{.State.Running}}") == "true"
    }

    /// Waits until `/readyz` answers 200; panics with the agent's log if the container exits or 60 s pass.
    pub fn wait_ready(&self) {
        let start = Instant::now();
        while self.get("/readyz").map(|(s, _)| s) != Some(200) {
            assert!(
                self.is_running(),
                "the agent container exited ({}) before it was ready:\n{}",
                self.inspect("{{.State.ExitCode}}"),
                self.logs()
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "agent container not ready after 60 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Docker's health status of the container (`starting`, `healthy`, `unhealthy`).
    pub fn health(&self) -> String {
        self.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}")
    }

    /// Waits until Docker reports the health status `want`, at most `limit`.
    pub fn wait_health(&self, want: &str, limit: Duration) {
        let mut last = String::new();
        let ok = super::wait_for_result(limit, || {
            last = self.health();
            last == want
        });
        assert!(
            ok,
            "health status is {last:?}, not {want:?}, after {limit:?}; last probes: {}\n{}",
            self.inspect("{{json .State.Health.Log}}"),
            self.logs()
        );
    }

    /// `docker stop` (SIGTERM to the agent, PID 1 of its container; SIGKILL after `grace_secs`); returns the
    /// container's exit code.
    pub fn stop(&self, grace_secs: u32) -> i32 {
        docker(&["stop", "-t", &grace_secs.to_string(), &self.id]);
        self.inspect("{{.State.ExitCode}}").parse().unwrap()
    }

    /// The agent's log (stdout and stderr) so far.
    pub fn logs(&self) -> String {
        let out = Command::new("docker")
            .args(["logs", &self.id])
            .output()
            .expect("docker logs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for AgentContainer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- agent container log ----\n{}", self.logs());
        }
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
    }
}
