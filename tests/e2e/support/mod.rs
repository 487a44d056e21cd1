//! Shared helpers of the end-to-end tests: moto (Route53), the Docker CLI, the fake ECS agent, the fake IMDS, the
//! agent process.

pub mod agent;
pub mod cloudformation;
pub mod docker;
pub mod dockerd;
pub mod ecs;
pub mod faulty;
pub mod image;
pub mod imds;
pub mod moto;
pub mod moto_ecs;
pub mod sockproxy;
pub mod spy;

use std::time::{Duration, Instant};

/// An environment variable `scripts/test` sets; the tests cannot run without it.
pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the end-to-end tests with scripts/test"))
}

/// Runs `command` with `stdin` as its input and its output captured.
pub fn run_with_input(command: &mut std::process::Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let mut input = child.stdin.take().expect("the child's stdin");
    input
        .write_all(stdin.as_bytes())
        .expect("write the child's input");
    drop(input);
    child.wait_with_output().expect("the child's output")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A short unique suffix for names of this test run.
pub fn unique(test: &str) -> String {
    format!("{test}-{}", std::process::id())
}

/// A made-up 32-hex task id derived from a name.
pub fn task_id(seed: &str) -> String {
    let a = fnv1a(seed.as_bytes());
    let b = fnv1a(format!("{seed}/b").as_bytes());
    format!(
        "{a:08x}{b:08x}{:08x}{:08x}",
        a ^ 0x5555_5555,
        b ^ 0xaaaa_aaaa
    )
}

fn fnv1a(data: &[u8]) -> u32 {
    // FNV-1a is enough for made-up test ids.
    data.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Polls `check` until it is true or `limit` passes; returns whether it became true.
pub fn wait_for_result(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// Runs an actix-web app, set up by `configure`, on a free loopback port in its own thread and actix system
/// (the fake ECS agent, the fault-injecting Route53 proxy); returns its base URL.
pub fn serve<F>(configure: F) -> String
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new().configure(configure.clone())
            })
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
            tx.send(server.addrs()[0]).unwrap();
            server.run().await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}
