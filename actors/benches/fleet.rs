//! Fleet simulation of the janitor service at N = 2 000 hosts: one `JanitorActor` with the default settings
//! against a strict in-memory Route53 zone of 124 000 records of this cluster (2 000 hosts × 62) and 6 000 of others,
//! an in-memory EC2 that knows every host running, and an in-memory ECS, behind account-wide buckets, on tokio's
//! paused clock (hours of fleet time in seconds). It reports the janitor's start, its calls per hour in steady
//! state, and how long the records of hosts terminated at random times live, at two zone read paces.
//!
//! ```text
//! cargo bench -p route53-discovery-actors --features test-util --bench fleet
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_rt::time::{sleep, sleep_until, Instant};
use async_trait::async_trait;
use rand::seq::SliceRandom;
use rand::Rng;
use route53_discovery_actors::core::ownership::parse;
use route53_discovery_actors::core::plan::Change;
use route53_discovery_actors::core::record::{Record, RecordSet, RecordValue};
use route53_discovery_actors::janitor::ecs::cluster_scope;
use route53_discovery_actors::janitor::fake::{FakeEc2, FakeEcs};
use route53_discovery_actors::janitor::{Apis, JanitorActor, JanitorConfig};
use route53_discovery_actors::messages::probe::Probe;
use route53_discovery_actors::metrics::Metrics;
use route53_discovery_actors::route53::api::{DnsApi, DnsError, ListPage, ListStart};
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::testkit::bucket::virtual_bucket;
use route53_discovery_actors::testkit::fleet::{host_records, instance, HostShape};

const HOSTS: usize = 2000;
/// Tasks per host, each with an A, an AAAA and an SRV record; the host has an A and an AAAA of its own.
const TASKS: usize = 20;
const PER_HOST: usize = 3 * TASKS + 2;
/// 100 tasks a service name: Route53's limit of weighted records per name and type.
const SERVICES: usize = HOSTS * TASKS / 100;
/// Another tool's records, and records of another cluster of the same account (never judged).
const FOREIGN: usize = 4000;
const OTHER_CLUSTER: usize = 2000;
const ZONE: &str = "Z1";
const ZONE_NAME: &str = "fleet.example.com.";
const CLUSTER: &str = "prod";
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
/// The defaults of `janitor.*`, and the binary's first cycle within 10 s of the start.
const INTERVAL: Duration = Duration::from_secs(300);
const GRACE: Duration = Duration::from_secs(600);
const MAX_OWNERS: usize = 5;
const FIRST_WITHIN: Duration = Duration::from_secs(10);
const STEADY: Duration = Duration::from_secs(3 * 3600);
const DEATHS: usize = 20;
/// Hosts dying in one wave, each at a random time within `WAVE`; the next wave starts once their records are gone.
const AT_ONCE: usize = 3;
const WAVE: Duration = Duration::from_secs(2400);
/// EC2 stops listing a terminated instance about an hour later ("no such instance": dead too).
const FORGOTTEN: Duration = Duration::from_secs(3600);
const CAP: Duration = Duration::from_secs(6 * 3600);

/// One host's records (the same shape as J1's zone).
fn records(h: usize, cluster: &str) -> Vec<RecordSet> {
    let scope = format!("{REGION}.{ACCOUNT}");
    let shape = HostShape {
        cluster,
        scope: &scope,
        zone_name: ZONE_NAME,
        tasks: TASKS,
        services: SERVICES,
    };
    host_records(h, shape)
}

/// Route53 as the janitor reaches it: every request counted, the start of each zone read and each deleted record
/// timed.
#[derive(Default)]
struct Meter {
    zone: Rc<FakeRoute53>,
    lists: Cell<usize>,
    changes: Cell<usize>,
    lookups: Cell<usize>,
    reads: RefCell<Vec<Instant>>,
    /// Owner → (records deleted, when the last went).
    deleted: RefCell<BTreeMap<String, (usize, Instant)>>,
}

#[async_trait(?Send)]
impl DnsApi for Meter {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.lookups.set(self.lookups.get() + 1);
        self.zone.zone_name(zone_id).await
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.changes.set(self.changes.get() + 1);
        self.zone.change(zone_id, changes).await?;
        let mut deleted = self.deleted.borrow_mut();
        for c in changes.iter().filter(|c| matches!(c, Change::Delete(_))) {
            let owner = parse(&c.record().key.set_identifier).map_or("?", |p| p.owner);
            let e = deleted.entry(owner.into()).or_insert((0, Instant::now()));
            *e = (e.0 + 1, Instant::now());
        }
        Ok(())
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max: i32,
    ) -> Result<ListPage, DnsError> {
        self.lists.set(self.lists.get() + 1);
        if start.is_none() {
            self.reads.borrow_mut().push(Instant::now());
        }
        self.zone.list(zone_id, start, max).await
    }
}

/// Requests so far: Route53 list pages, changes and zone lookups, EC2 `DescribeInstances`, ECS.
#[derive(Clone, Copy)]
struct Calls([usize; 5]);

impl std::ops::Sub for Calls {
    type Output = Calls;
    fn sub(self, o: Calls) -> Calls {
        Calls(std::array::from_fn(|i| self.0[i] - o.0[i]))
    }
}

struct World {
    zone: Rc<FakeRoute53>,
    dns: Rc<Meter>,
    ec2: Rc<FakeEc2>,
    ecs: FakeEcs,
}

impl World {
    fn new() -> Self {
        let zone = Rc::new(FakeRoute53::new(ZONE, ZONE_NAME));
        let ec2 = Rc::new(FakeEc2::new(100));
        for h in 0..HOSTS {
            records(h, CLUSTER).into_iter().for_each(|r| zone.insert(r));
            ec2.set(&instance(h), Some("running"));
        }
        for i in 0..FOREIGN {
            let ip = RecordValue::A(Ipv4Addr::from(0x0b00_0000 + i as u32));
            let name = format!("ext{}.{ZONE_NAME}", i / 50);
            let id = format!("external-dns-{i}");
            zone.insert(RecordSet::from_record(&Record::new(name, id, ip, 60, 1)));
        }
        // Hosts of another cluster, unknown to this EC2: judged, they would look dead.
        let staging = (0..).flat_map(|h| records(HOSTS + h, "staging"));
        staging.take(OTHER_CLUSTER).for_each(|r| zone.insert(r));
        zone.set_account_bucket(virtual_bucket(5.0, 5));
        ec2.set_account_bucket(virtual_bucket(20.0, 100));
        let ecs = FakeEcs::default();
        ecs.create_cluster(CLUSTER, REGION, ACCOUNT);
        let dns = Rc::new(Meter {
            zone: zone.clone(),
            ..Meter::default()
        });
        Self {
            zone,
            dns,
            ec2,
            ecs,
        }
    }

    fn calls(&self) -> Calls {
        let d = &self.dns;
        Calls([
            d.lists.get(),
            d.changes.get(),
            d.lookups.get(),
            self.ec2.calls(),
            self.ecs.calls(),
        ])
    }
}

fn mins(d: Duration) -> String {
    format!("{:.1} min", d.as_secs_f64() / 60.0)
}

/// (c): `DEATHS` hosts terminated in waves of `AT_ONCE`, each at a random time of its wave; the lifetime of each
/// one's records (termination → its last record deleted), the records deleted of anyone else, and the calls.
async fn deaths(w: &World) -> (Vec<Duration>, usize, Calls, Duration) {
    let (before, t) = (w.calls(), Instant::now());
    let mut hosts: Vec<usize> = (0..HOSTS).collect();
    hosts.shuffle(&mut rand::thread_rng());
    let died: Rc<RefCell<BTreeMap<String, Instant>>> = Rc::default();
    let mut lifetimes = Vec::new();
    for wave in hosts[..DEATHS].chunks(AT_ONCE) {
        let start = Instant::now();
        for &h in wave {
            let (ec2, died) = (w.ec2.clone(), died.clone());
            let at = start + WAVE.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
            actix_rt::spawn(async move {
                sleep_until(at).await;
                ec2.set(&instance(h), Some("terminated"));
                died.borrow_mut().insert(instance(h), at);
                sleep(FORGOTTEN).await;
                ec2.set(&instance(h), None);
            });
        }
        let gone = |h: &usize| {
            let deleted = w.dns.deleted.borrow();
            deleted
                .get(&instance(*h))
                .filter(|d| d.0 == PER_HOST)
                .map(|d| d.1)
        };
        while wave.iter().any(|h| gone(h).is_none()) {
            assert!(
                start.elapsed() < CAP,
                "a dead host's records outlived {CAP:?}"
            );
            sleep(Duration::from_secs(10)).await;
        }
        lifetimes.extend(
            wave.iter()
                .map(|h| gone(h).unwrap() - died.borrow()[&instance(*h)]),
        );
        sleep(INTERVAL.mul_f64(rand::thread_rng().gen_range(0.0..2.0))).await;
    }
    let (died, deleted) = (died.borrow(), w.dns.deleted.borrow());
    let others = deleted.iter().filter(|(o, _)| !died.contains_key(*o));
    let others = others.map(|(_, d)| d.0).sum();
    (lifetimes, others, w.calls() - before, t.elapsed())
}

/// One janitor's run at `per_sec` pages a second: the table's column.
async fn run(per_sec: f64) -> Vec<String> {
    tokio::time::pause();
    let w = World::new();
    let (t0, total) = (Instant::now(), w.zone.set_count());
    // The start of `route53-discovery janitor`: the cluster's scope from ECS, the zone's name from Route53.
    let scope = cluster_scope(&w.ecs, CLUSTER).await.unwrap();
    w.dns.zone_name(ZONE).await.unwrap();
    let started = w.calls();
    let config = JanitorConfig {
        cluster: CLUSTER.into(),
        scope,
        zone_id: ZONE.into(),
        interval: INTERVAL,
        first_within: FIRST_WITHIN,
        grace: GRACE,
        max_owners_per_cycle: MAX_OWNERS,
        zone_pace: Duration::from_secs_f64(1.0 / per_sec),
    };
    let stats = Metrics::default().janitor.clone();
    let apis = Apis {
        ec2: w.ec2.clone(),
        dns: w.dns.clone(),
    };
    let reporter = Probe::default().reporter();
    let _janitor = JanitorActor::new(config, apis, stats.clone(), Arc::default(), reporter).start();
    // (a) the first cycle.
    while stats.cycles.get() == 0 {
        sleep(Duration::from_secs(1)).await;
    }
    let (read_at, judged_at, pages) = (
        w.dns.reads.borrow()[0] - t0,
        t0.elapsed(),
        w.dns.lists.get(),
    );
    // (b) steady state.
    let (c0, reads0) = (w.calls(), w.dns.reads.borrow().len());
    sleep(STEADY).await;
    let [lists, changes, lookups, ec2, ecs] = (w.calls() - c0).0;
    let reads = w.dns.reads.borrow()[reads0..].to_vec();
    let period = (reads[reads.len() - 1] - reads[0]) / (reads.len() as u32 - 1);
    let per_h = |n: usize| n as f64 * 3600.0 / STEADY.as_secs_f64();
    let share = per_h(lists + changes + lookups) / 3600.0 / 5.0 * 100.0;
    // (c) deaths.
    let (mut life, others, c, took) = deaths(&w).await;
    life.sort();
    let (left, median) = (w.zone.set_count(), life[life.len() / 2]);
    vec![
        format!(
            "{} DescribeClusters, {} GetHostedZone",
            started.0[4], started.0[2]
        ),
        "0 (they run no janitor)".into(),
        format!(
            "read from {:.0} s, judged at {:.0} s ({pages} pages)",
            read_at.as_secs_f64(),
            judged_at.as_secs_f64()
        ),
        format!(
            "{} (read {} + interval ±20 %)",
            mins(period),
            mins(Duration::from_secs_f64((pages - 1) as f64 / per_sec))
        ),
        format!(
            "{:.0} list pages + {:.0} changes",
            per_h(lists),
            per_h(changes)
        ),
        format!(
            "{share:.1} % ({:.0} % while reading)",
            per_sec / 5.0 * 100.0
        ),
        format!("{:.1}", per_h(ec2)),
        ecs.to_string(),
        format!(
            "{} / {} / {}",
            mins(life[0]),
            mins(median),
            mins(life[life.len() - 1])
        ),
        format!(
            "{:.1} h: {} change requests, {} list pages, {} EC2 calls",
            took.as_secs_f64() / 3600.0,
            c.0[1],
            c.0[0],
            c.0[3]
        ),
        format!(
            "{} / {others}; {left} of {total} left",
            total - left - others
        ),
        format!("{} Route53, {} EC2", w.zone.throttled(), w.ec2.throttled()),
    ]
}

fn main() {
    let rows = [
        "(a) janitor start",
        "(a) agents' ECS and EC2 calls for clean-up",
        "(a) first cycle (starts within 10 s)",
        "(b) cycle, start to start (mean)",
        "(b) Route53 requests per hour",
        "(b) Route53 share of 5/s (averaged over 3 h)",
        "(b) EC2 DescribeInstances per hour",
        "(b) ECS calls in 3 h",
        "(c) dead host's records gone after: min / median / max",
        "(c) the deaths phase: length, calls",
        "(c) records deleted of dead hosts / of anyone else",
        "throttled answers, whole run",
    ];
    let mut cols = Vec::new();
    for per_sec in [0.2, 1.0] {
        let wall = std::time::Instant::now();
        cols.push(actix_rt::System::new().block_on(run(per_sec)));
        eprintln!(
            "  zone_read_per_sec {per_sec}: simulated in {:.0} s",
            wall.elapsed().as_secs_f64()
        );
    }
    let (own, other) = (HOSTS * PER_HOST, FOREIGN + OTHER_CLUSTER);
    println!("Janitor service, {HOSTS} hosts × {PER_HOST} records = {own} + {other} others'; {DEATHS} hosts terminated, ≤ {AT_ONCE} at once\n");
    println!("| | zone_read_per_sec 0.2 (default) | 1.0 |\n|---|---|---|");
    for (i, row) in rows.iter().enumerate() {
        println!("| {row} | {} | {} |", cols[0][i], cols[1][i]);
    }
}
