//! Restarting the real Docker daemon, for the daemon-restart test (which holds Docker alone while it runs).
//!
//! A daemon managed by systemd is restarted with `systemctl`; otherwise (CI: `scripts/test` started it) the
//! running `dockerd` gets SIGTERM — it stops its containers and removes its pid file — and is started again with
//! the same command line, detached with `setsid -f` so it outlives the test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::wait_for_result;

fn docker_answers() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn systemd_manages_docker() -> bool {
    Command::new("systemctl")
        .args(["is-active", "--quiet", "docker"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The pid of the running dockerd.
fn dockerd_pid() -> u32 {
    let out = Command::new("pidof")
        .arg("dockerd")
        .output()
        .expect("pidof");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a running dockerd")
}

/// True once `pid` has exited (gone, or a zombie nobody has reaped yet).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
    }
}

/// Restarts the Docker daemon and waits until it answers again.
pub fn restart() {
    if systemd_manages_docker() {
        let ok = Command::new("systemctl")
            .args(["restart", "docker"])
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "systemctl restart docker");
    } else {
        let pid = dockerd_pid();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        assert!(
            wait_for_result(Duration::from_secs(60), || exited(pid)),
            "dockerd {pid} did not stop"
        );
        // A zombie still "exists" for dockerd's own pid-file check.
        let pid_file = Path::new("/var/run/docker.pid");
        if std::fs::read_to_string(pid_file).is_ok_and(|p| p.trim() == pid.to_string()) {
            let _ = std::fs::remove_file(pid_file);
        }
        let log = std::fs::File::create(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.test-work/dockerd-restart.log"
        ))
        .unwrap();
        Command::new("setsid")
            .arg("-f")
            .args(&args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .expect("setsid dockerd");
    }
    assert!(
        wait_for_result(Duration::from_secs(60), docker_answers),
        "dockerd did not come back"
    );
}
