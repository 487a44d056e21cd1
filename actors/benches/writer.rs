//! Route53 writer benchmarks against the strict in-memory Route53 (P2 and P3 of `docs/benchmarks.md`).
//!
//! Each scenario runs our writer (`Route53Actor`: group commit, client-side token bucket, full-jitter backoff)
//! and the naive strategy of the original proof of concept (one request per event, no limiter, no batching,
//! the SDK's default 3 attempts) side by side, in the same run, against the same fake.
//!
//! ```text
//! cargo bench -p route53-discovery-actors --features test-util --bench writer
//! ```

use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use route53_discovery_actors::backoff::FullJitter;
use route53_discovery_actors::core::ownership::{InstanceId, Owner};
use route53_discovery_actors::core::plan::Change;
use route53_discovery_actors::core::record::{Record, RecordValue};
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::messages::probe;
use route53_discovery_actors::metrics::Metrics;
use route53_discovery_actors::route53::api::{DnsApi, ErrorClass};
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::route53::limiter::{bucket, RateLimited};
use route53_discovery_actors::route53::{Flush, Register, Route53Actor, Route53Config};

/// Latency of every fake Route53 request (a typical API round trip from EC2).
const LATENCY: Duration = Duration::from_millis(30);
/// The agent's default client-side limit (`config/default.toml`).
const AGENT_RATE: (f64, u32) = (1.0, 2);

/// P2's host runs its 200 tasks as 10 services.
const P2_SERVICES: usize = 10;

/// Task `task` of agent `agent`, in service `svc<service>`.
fn record(agent: usize, task: usize, service: usize) -> Record {
    let owner = Owner::new("bench", &format!("i{agent:04}")).unwrap();
    let set_identifier = owner.set_identifier(&InstanceId::Task(format!("{task:032x}")));
    let name = format!("svc{service}.bench.example.com.");
    let ip = Ipv4Addr::new(10, (agent / 250) as u8, (agent % 250) as u8, task as u8);
    Record::new(name, set_identifier, RecordValue::A(ip), 60, 1)
}

fn writer(fake: Rc<FakeRoute53>, agent: usize) -> Addr<Route53Actor> {
    let api = Rc::new(RateLimited::new(fake, bucket(AGENT_RATE.0, AGENT_RATE.1)));
    let config = Route53Config {
        quarantine: Duration::from_secs(300),
        ..Route53Config::quiet("Z1")
    };
    let owner = Owner::new("bench", &format!("i{agent:04}")).unwrap();
    let (reporter, _) = probe::reporter();
    Route53Actor::new(
        api,
        config,
        owner,
        reporter,
        Arc::new(HealthState::default()),
        Arc::new(Metrics::default()),
    )
    .start()
}

/// The naive strategy: one request per change, no limiter, SDK-style 3 attempts; returns true if applied.
async fn naive_send(api: Rc<FakeRoute53>, change: Change) -> bool {
    let mut backoff = FullJitter::new(Duration::from_secs(1), Duration::from_secs(20));
    for _ in 0..3 {
        match api.change("Z1", std::slice::from_ref(&change)).await {
            Ok(()) => return true,
            Err(e) if e.class() == ErrorClass::Transient => {
                actix_rt::time::sleep(backoff.next().unwrap()).await
            }
            Err(_) => return false,
        }
    }
    false
}

struct Outcome {
    requests: usize,
    throttled: usize,
    present: usize,
    elapsed: Duration,
}

/// P2: `n` container starts on one agent arriving over `spread`.
async fn p2(n: usize, spread: Duration, naive: bool) -> Outcome {
    let fake = Rc::new(FakeRoute53::new("Z1", "bench.example.com.").with_latency(LATENCY));
    let start = Instant::now();
    let gap = spread / n as u32;
    if naive {
        let mut sends = Vec::new();
        for t in 0..n {
            sends.push(actix_rt::spawn(naive_send(
                fake.clone(),
                Change::Upsert(record(0, t, t % P2_SERVICES)),
            )));
            actix_rt::time::sleep(gap).await;
        }
        futures::future::join_all(sends).await;
    } else {
        let w = writer(fake.clone(), 0);
        w.send(Flush).await.unwrap(); // launch read done: the agent is idle and ready
        for t in 0..n {
            w.do_send(Register {
                container_id: format!("c{t}"),
                records: vec![record(0, t, t % P2_SERVICES)],
            });
            if !gap.is_zero() {
                actix_rt::time::sleep(gap).await;
            }
        }
        w.send(Flush).await.unwrap();
    }
    Outcome {
        requests: fake.change_requests().len(),
        throttled: fake.throttled(),
        present: fake.sets().len(),
        elapsed: start.elapsed(),
    }
}

/// P3: `agents` × `tasks` starts at once against one account bucket of `rate` req/s.
async fn p3(agents: usize, tasks: usize, rate: f64, naive: bool) -> Outcome {
    let account = bucket(rate, rate as u32);
    let fake = Rc::new(FakeRoute53::new("Z1", "bench.example.com.").with_latency(LATENCY));
    let mut writers = Vec::new();
    if !naive {
        for a in 0..agents {
            writers.push(writer(fake.clone(), a));
        }
        for w in &writers {
            w.send(Flush).await.unwrap(); // every agent is past its launch read before the bucket is shared
        }
    }
    let start = Instant::now();
    if naive {
        let limited = Rc::new(
            FakeRoute53::new("Z1", "bench.example.com.")
                .with_latency(LATENCY)
                .with_account_bucket(account),
        );
        let sends: Vec<_> = (0..agents)
            .flat_map(|a| (0..tasks).map(move |t| (a, t)))
            .map(|(a, t)| {
                actix_rt::spawn(naive_send(limited.clone(), Change::Upsert(record(a, t, t))))
            })
            .collect();
        futures::future::join_all(sends).await;
        return Outcome {
            requests: limited.change_requests().len(),
            throttled: limited.throttled(),
            present: limited.sets().len(),
            elapsed: start.elapsed(),
        };
    }
    fake.set_account_bucket(account);
    for (a, w) in writers.iter().enumerate() {
        for t in 0..tasks {
            w.do_send(Register {
                container_id: format!("a{a}-c{t}"),
                records: vec![record(a, t, t)],
            });
        }
    }
    let flushes: Vec<_> = writers.iter().map(|w| w.send(Flush)).collect();
    let progress = fake.clone();
    let ticker = actix_rt::spawn(async move {
        loop {
            actix_rt::time::sleep(Duration::from_secs(5)).await;
            eprintln!(
                "  ... {:?}: {} records, {} requests",
                start.elapsed(),
                progress.sets().len(),
                progress.change_requests().len()
            );
        }
    });
    futures::future::join_all(flushes).await;
    ticker.abort();
    Outcome {
        requests: fake.change_requests().len(),
        throttled: fake.throttled(),
        present: fake.sets().len(),
        elapsed: start.elapsed(),
    }
}

fn row(label: &str, o: &Outcome, expected: usize) -> String {
    format!(
        "| {label} | {} | {} | {}/{} | {} | {:.1} s |",
        o.requests,
        o.throttled,
        o.present,
        expected,
        expected - o.present,
        o.elapsed.as_secs_f64()
    )
}

fn main() {
    let sys = actix_rt::System::new();
    sys.block_on(async {
        println!("## P2: burst of 200 container starts of {P2_SERVICES} services on one agent (strict fake, {LATENCY:?} per request)\n");
        println!("| strategy, arrival | change requests | throttled | records present | lost | time |");
        println!("|---|---|---|---|---|---|");
        for spread in [Duration::ZERO, Duration::from_secs(1), Duration::from_secs(5)] {
            let ours = p2(200, spread, false).await;
            println!("{}", row(&format!("ours, over {spread:?}"), &ours, 200));
        }
        let naive = p2(200, Duration::from_secs(1), true).await;
        println!("{}", row("naive, over 1s", &naive, 200));

        println!("\n## P3: 100 agents × 20 tasks, one account bucket of 5 req/s (strict fake)\n");
        println!("| strategy | change requests | throttled | records present | lost | time to all present |");
        println!("|---|---|---|---|---|---|");
        let ours = p3(100, 20, 5.0, false).await;
        println!("{}", row("ours", &ours, 2000));
        let naive = p3(100, 20, 5.0, true).await;
        println!("{}", row("naive", &naive, 2000));
    });
}
