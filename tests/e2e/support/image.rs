//! The agent as a container of its own image (built by `scripts/test` from ./Dockerfile, named by
//! `R53D_E2E_AGENT_IMAGE`): either run the way an ECS daemon service runs it (host network, the host's `/var/run`
//! read-only, a mounted TOML config, static AWS credentials), or with `docker run` arguments a test made from a
//! task definition. The container is removed on drop, also when a test fails.

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
    _dir: Option<tempfile::TempDir>,
}

/// Static test credentials, region and log filter, for a container that talks to moto on loopback only.
pub fn test_env() -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("RUST_LOG", "info,route53_discovery_actors=debug"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

impl AgentContainer {
    /// `docker run -d` of the agent image named `name`, with `toml` mounted as its config (`[health] listen` must be
    /// 127.0.0.1:`health_port`) and Docker's health check every second instead of the image's 15 s.
    pub fn start(name: &str, toml: &str, health_port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.toml");
        std::fs::write(&config, toml).unwrap();
        let mut args: Vec<String> = [
            "--network",
            "host",
            "-v",
            "/var/run:/var/run:ro",
            "--health-interval=1s",
            "--health-timeout=3s",
            "--health-retries=3",
        ]
        .map(String::from)
        .to_vec();
        args.extend([
            "-v".into(),
            format!("{}:{CONFIG_PATH}:ro", config.display()),
        ]);
        let mut env = vec![("R53D_CONFIG".to_string(), CONFIG_PATH.to_string())];
        env.extend(test_env());
        env.extend(
            super::agent::imds_env(toml)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        for (k, v) in env {
            args.extend(["-e".into(), format!("{k}={v}")]);
        }
        let mut started = Self::run(name, &args, &[], health_port);
        started._dir = Some(dir);
        started
    }

    /// `docker run -d --name name <args> <agent image> <command>`; its health endpoint on loopback `health_port`.
    pub fn run(name: &str, args: &[String], command: &[String], health_port: u16) -> Self {
        let image = agent_image();
        let mut all = vec!["run", "-d", "--name", name, "--label", "r53d-test=1"];
        all.extend(args.iter().map(String::as_str));
        all.push(&image);
        all.extend(command.iter().map(String::as_str));
        let id = docker(&all);
        Self {
            id,
            health_url: format!("http://127.0.0.1:{health_port}"),
            _dir: None,
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
