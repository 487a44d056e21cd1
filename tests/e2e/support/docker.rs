//! The Docker side of the tests: real containers on the real Docker Engine, driven with the `docker` CLI.
//!
//! Every container carries the label `r53d-test=1` (so `scripts/test` can clean up) and is removed on drop.

use std::process::Command;

/// Runs the `docker` CLI; panics with its stderr when it fails; returns its trimmed stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A container that lives until dropped.
pub struct Container {
    /// Full 64-hex id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// What to run.
#[derive(Default)]
pub struct Spec<'a> {
    /// Container name (made unique by the caller).
    pub name: &'a str,
    /// Labels.
    pub labels: Vec<(String, String)>,
    /// `--network` value (default bridge).
    pub network: Option<&'a str>,
    /// The process ignores SIGTERM (so `docker stop` waits for its timeout, then kills).
    pub ignore_term: bool,
    /// A Docker HEALTHCHECK that passes while `/ok` exists (checked every second).
    pub healthcheck: bool,
    /// Restart policy `always` (the daemon starts it again after a restart).
    pub restart_always: bool,
    /// `-p` values (`8080:80`, `80` for a dynamic host port).
    pub publish: Vec<String>,
    /// `--expose` values (ports a host-network container declares).
    pub expose: Vec<String>,
}

impl Container {
    /// Starts a container of the offline test image that sleeps until it is stopped.
    pub fn run(spec: Spec<'_>) -> Self {
        let c = Self::create(spec);
        c.start();
        c
    }

    /// Creates (does not start) the container, as the ECS agent does before it records the id and starts it.
    pub fn create(spec: Spec<'_>) -> Self {
        let image = super::env("R53D_E2E_IMAGE");
        let mut args: Vec<String> = vec![
            "create".into(),
            "--name".into(),
            spec.name.into(),
            "--label".into(),
            "r53d-test=1".into(),
        ];
        for (k, v) in &spec.labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        if spec.healthcheck {
            args.extend(
                [
                    "--health-cmd=test -f /ok",
                    "--health-interval=1s",
                    "--health-retries=1",
                ]
                .map(String::from),
            );
        }
        if spec.restart_always {
            args.push("--restart=always".into());
        }
        for p in &spec.publish {
            args.push(format!("--publish={p}"));
        }
        for p in &spec.expose {
            args.push(format!("--expose={p}"));
        }
        if let Some(n) = spec.network {
            args.push(format!("--network={n}"));
        }
        let script = if spec.ignore_term {
            "trap '' TERM; while true; do sleep 1; done"
        } else {
            "trap 'exit 0' TERM; sleep 3600 & wait"
        };
        args.extend([image, "sh".into(), "-c".into(), script.into()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = docker(&refs);
        Self {
            id,
            name: spec.name.to_string(),
        }
    }

    /// The container's address on the default bridge.
    pub fn bridge_ip(&self) -> String {
        docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.bridge.IPAddress}}",
            &self.id,
        ])
    }

    /// The IPv4 host port Docker bound for `container_port` (`docker port`), once the container runs.
    pub fn host_port(&self, container_port: &str) -> u16 {
        let out = docker(&["port", &self.id, container_port]);
        out.lines()
            .find(|l| l.starts_with("0.0.0.0:"))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no IPv4 binding of {container_port} in {out:?}"))
    }

    /// `docker start`.
    pub fn start(&self) {
        docker(&["start", &self.id]);
    }

    /// `docker stop`.
    pub fn stop(&self) {
        docker(&["stop", "-t", "5", &self.id]);
    }

    /// `docker stop` in the background, with a grace period of `secs`.
    pub fn stop_in_background(&self, secs: u32) -> std::process::Child {
        Command::new("docker")
            .args(["stop", "-t", &secs.to_string(), &self.id])
            .spawn()
            .unwrap()
    }

    /// `docker exec` a command in the container.
    pub fn exec(&self, cmd: &[&str]) {
        let mut args = vec!["exec", self.id.as_str()];
        args.extend_from_slice(cmd);
        docker(&args);
    }

    /// True while the container's process runs.
    pub fn is_running(&self) -> bool {
        docker(&["inspect", "-f", "{{.State.Running}}", &self.id]) == "true"
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
    }
}
