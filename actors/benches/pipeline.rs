//! The whole pipeline of one agent with zero-latency peers (issue 13, item 5): the in-memory Docker Engine's
//! events → `EventWatcherActor` → the registrar pool (4 workers) → `MetadataActor` → `Route53Actor` → the
//! in-memory Route53 (no latency, no bucket), wired as the binary wires them (`testkit::agent`).
//!
//! * **Throughput**: 4 000 labelled containers start at once (40 names × 100 tasks, Route53's weighted limit),
//!   timed until every record is in the zone; then all stop, timed until the zone is empty.
//! * **Churn**: for `R53D_CHURN_SECS` (default 600) a population of 1 000 containers is renewed at 50 starts and
//!   50 stops a second (stopped containers are removed, and the engine keeps its last 256 events, as dockerd
//!   does); the process's RSS is sampled every minute. Flat means no per-container state outlives its container.
//!
//! ```text
//! cargo bench -p route53-discovery-actors --features test-util --bench pipeline
//! ```

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_rt::time::sleep;
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::testkit::agent::{Agent, Probe, Timing, LABEL};
use route53_discovery_actors::testkit::engine::FakeEngine;

const BURST: usize = 4000;
const NAMES: usize = 40;
const POPULATION: usize = 1000;
const CHURN_PER_SEC: usize = 50;

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A 64-digit container id whose first 32 digits (the fake's task id) are unique.
fn id(n: usize) -> String {
    format!("{n:032x}{n:032x}")
}

fn start(engine: &FakeEngine, n: usize) {
    let name = format!("svc{}", n % NAMES);
    let ip = Ipv4Addr::from(0x0a00_0000 + (n % 0x00ff_ffff) as u32);
    engine.start(&id(n), &[(LABEL, &name)], ip, false);
}

/// Waits until the zone holds `want` record sets; the time it took.
async fn until(zone: &FakeRoute53, want: usize, since: Instant) -> Duration {
    loop {
        let have = zone.set_count();
        if have == want {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(120),
            "the zone holds {have} sets, never {want}"
        );
        sleep(Duration::from_millis(10)).await;
    }
    since.elapsed()
}

async fn run() {
    let engine = Rc::new(FakeEngine::new());
    let zone = Rc::new(FakeRoute53::new("Z1", "example.com."));
    let probe = Probe::default();
    let timing = Timing {
        workers: 4,
        ..Timing::default()
    };
    let agent = Agent::start(&engine, &zone, &probe.reporter(), timing);
    agent.ready().await;
    let rss0 = kib("VmRSS:");

    let t = Instant::now();
    (0..BURST).for_each(|n| start(&engine, n));
    let up = until(&zone, BURST, t).await;
    let t = Instant::now();
    (0..BURST).for_each(|n| engine.stop(&id(n)));
    let down = until(&zone, 0, t).await;
    (0..BURST).for_each(|n| engine.forget(&id(n), 256));
    let changes = zone.change_requests().len();
    println!(
        "| {BURST} starts → records in the zone | {:.2} s | {:.0} starts/s |",
        up.as_secs_f64(),
        BURST as f64 / up.as_secs_f64()
    );
    println!(
        "| {BURST} stops → records gone | {:.2} s | {:.0} stops/s |",
        down.as_secs_f64(),
        BURST as f64 / down.as_secs_f64()
    );
    println!("| ChangeResourceRecordSets requests for both | {changes} | |");
    println!(
        "| RSS before → after the burst | {} → {} MiB | |\n",
        rss0 / 1024,
        kib("VmRSS:") / 1024
    );

    let secs: u64 = std::env::var("R53D_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let mut live: VecDeque<usize> = (BURST..BURST + POPULATION).collect();
    live.iter().for_each(|&n| start(&engine, n));
    until(&zone, POPULATION, Instant::now()).await;
    let mut next = BURST + POPULATION;
    let t = Instant::now();
    let mut samples = vec![(0, kib("VmRSS:"))];
    let tick = Duration::from_millis(100);
    while t.elapsed() < Duration::from_secs(secs) {
        for _ in 0..CHURN_PER_SEC / 10 {
            let old = live.pop_front().unwrap();
            engine.stop(&id(old));
            engine.forget(&id(old), 256);
            start(&engine, next);
            live.push_back(next);
            next += 1;
        }
        sleep(tick).await;
        let minute = t.elapsed().as_secs() / 60;
        if minute > samples.last().unwrap().0 {
            samples.push((minute, kib("VmRSS:")));
        }
    }
    let settled = until(&zone, POPULATION, Instant::now()).await;
    samples.push((secs.div_ceil(60), kib("VmRSS:")));
    println!("Churn: {} starts and as many stops in {secs} s; the zone held the live {POPULATION} again {:.2} s after the last\n", next - BURST - POPULATION, settled.as_secs_f64());
    println!("| minute | RSS |\n|---|---|");
    for (m, k) in samples {
        println!("| {m} | {:.1} MiB |", k as f64 / 1024.0);
    }
}

fn main() {
    println!("| pipeline, zero-latency peers | time | rate |\n|---|---|---|");
    actix_rt::System::new().block_on(run());
}
