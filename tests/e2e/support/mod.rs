//! Shared helpers of the end-to-end tests: moto (Route53), the Docker CLI, the fake ECS agent, the agent process.

pub mod agent;
pub mod docker;
pub mod ecs;
pub mod faulty;
pub mod moto;

use std::time::{Duration, Instant};

/// An environment variable `scripts/test` sets; the tests cannot run without it.
pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the end-to-end tests with scripts/test"))
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
