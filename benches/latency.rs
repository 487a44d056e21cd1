//! P1: Docker `start` → change accepted by Route53, on an idle agent, through the real parts (Docker Engine,
//! moto_server, the fake ECS agent). Our agent (the real binary, default rate limit) and the naive strategy
//! (the proof of concept's flow: event → inspect → one UPSERT, no batching, no limiter) run in the same run.
//!
//! Latency = the moment the change request returned success − the container's `State.StartedAt`.
//! Run with `scripts/bench` (it sets up Docker and moto like `scripts/test`).

#[path = "../tests/e2e/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, SystemTime};

use support::agent::{free_port, Agent};
use support::docker::{Container, Spec};
use support::ecs::{FakeEcsAgent, Task, CLUSTER, INSTANCE_ID};
use support::moto::Moto;

const SAMPLES: usize = 30;

fn started_at(c: &Container) -> SystemTime {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.State.StartedAt}}", &c.id])
        .output()
        .unwrap();
    humantime::parse_rfc3339(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

/// The time our agent logged the accepted change for `set_identifier`.
fn accepted_at(agent: &Agent, set_identifier: &str) -> Option<SystemTime> {
    agent.logs().lines().find_map(|line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        (v["message"] == "Registered record." && v["set_identifier"] == set_identifier)
            .then(|| humantime::parse_rfc3339(v["timestamp"].as_str()?).ok())?
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "| {label} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3
    );
}

struct Bench {
    moto: Moto,
    zone_id: String,
    ecs: FakeEcsAgent,
    label: String,
    name: String,
    zone: String,
}

impl Bench {
    fn task(&self, n: usize) -> (Container, String) {
        let tid = support::task_id(&format!("{}-{n}", self.name));
        let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{tid}");
        let labels = vec![
            (self.label.clone(), "web".to_string()),
            ("com.amazonaws.ecs.task-arn".into(), arn.clone()),
        ];
        let c = Container::create(Spec {
            name: &format!("r53d-{}-{n}", self.name),
            labels,
            network: None,
            ..Default::default()
        });
        let containers = vec![(c.id.clone(), "app".to_string())];
        self.ecs.add_task(Task {
            arn,
            known_status: "RUNNING".into(),
            desired_status: None,
            containers,
            internal: vec![],
            ..Default::default()
        });
        c.start();
        (c, tid)
    }
}

fn ours(b: &Bench) -> Vec<Duration> {
    let port = free_port();
    let config = format!(
        "[docker]\nlabel = \"{}\"\n[ecs]\nintrospection_url = \"{}\"\n[route53]\nhosted_zone_id = \"{}\"\nendpoint_url = \"{}\"\nregion = \"us-east-1\"\nstartup_jitter_secs = 0\n[health]\nlisten = \"127.0.0.1:{port}\"\n[agent]\nowner_id = \"{INSTANCE_ID}\"\ncluster = \"{CLUSTER}\"\nhost_ip = \"10.0.1.23\"\n[log]\nformat = \"json\"\n",
        b.label, b.ecs.url, b.zone_id, b.moto.url
    );
    let mut agent = Agent::start(&config, port);
    agent.wait_ready();
    // Idle: the zone lookup and launch read spent tokens; let the bucket (1 req/s, burst 2) refill first.
    std::thread::sleep(Duration::from_secs(2));
    let (mut samples, mut keep) = (Vec::new(), Vec::new());
    for n in 0..SAMPLES {
        let (c, tid) = b.task(n);
        let set_id = format!("r53d:{CLUSTER}:{INSTANCE_ID}:t-{tid}");
        let at = support::wait_for("the agent to register", Duration::from_secs(30), || {
            accepted_at(&agent, &set_id)
        });
        samples.push(at.duration_since(started_at(&c)).unwrap_or_default());
        keep.push(c); // containers stay up: removing them would spend tokens on deletes
        std::thread::sleep(Duration::from_millis(1100)); // idle again: the token bucket refills (1 req/s)
    }
    samples
}

fn naive(b: &Bench) -> Vec<Duration> {
    let (mut samples, mut keep) = (Vec::new(), Vec::new());
    for n in SAMPLES..2 * SAMPLES {
        let (c, _) = b.task(n);
        // The proof of concept's path: the start event is read, then inspect, then one UPSERT.
        let ip = c.bridge_ip();
        let set_id = format!("naive-{n}");
        let rec = support::moto::Rec {
            name: format!("naive.{}", b.zone),
            set_identifier: set_id,
            weight: 1,
            ttl: 60,
            values: vec![ip],
        };
        b.moto.put(&b.zone_id, &rec);
        samples.push(
            SystemTime::now()
                .duration_since(started_at(&c))
                .unwrap_or_default(),
        );
        keep.push(c);
        std::thread::sleep(Duration::from_millis(100));
    }
    samples
}

fn main() {
    let moto = Moto::connect();
    let name = support::unique("p1");
    let zone = format!("{name}.bench.e2e.test.");
    let zone_id = moto.create_zone(&zone);
    let b = Bench {
        zone_id,
        moto,
        ecs: FakeEcsAgent::start(),
        label: format!("r53d.bench.{name}"),
        name,
        zone,
    };
    println!("## P1: Docker start → change accepted, idle agent (real Docker + moto_server)\n");
    println!("| strategy | samples | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    report("ours (agent binary, default limits)", ours(&b));
    report("naive (inline UPSERT per start)", naive(&b));
}
