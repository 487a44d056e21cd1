//! Fleet simulation of the agents' Route53 writers at N = 2 000 hosts (F1 (agents) of `docs/benchmarks.md`): one
//! `Route53Actor` per host with the agent's defaults (10 s start-up jitter, verification every 300 s at least,
//! 4 reads an hour at most, fleet budget 0.25 reads/s), each behind its own client-side bucket of 1 request/s burst
//! 2, all against one strict in-memory Route53 zone behind the account's 5 requests/s bucket, on tokio's paused
//! clock. No janitor (F1 simulates it). Scenarios: (a) a fleet-wide restart from journals on a full zone, (b) a
//! first deployment on a zone holding only others' records, (c) a first rollout of a journal-keeping version over a
//! full zone (first 30 minutes).
//!
//! ```text
//! cargo bench -p route53-discovery-actors --features test-util --bench agents
//! ```
//!
//! `R53D_AGENTS_HOSTS` changes the fleet's size (default 2 000); `R53D_AGENTS_WALL` caps each scenario's wall time
//! in seconds (default 240; a scenario cut short says so); `R53D_AGENTS_HORIZON` caps (a)'s and (b)'s simulated time in
//! seconds (default 48 h); `R53D_AGENTS_ONLY` picks scenarios (e.g. `bc`); `R53D_AGENTS_ACCOUNT_RATE` sets the
//! account's requests/s (default 5).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_rt::time::{sleep, Instant};
use async_trait::async_trait;
use route53_discovery_actors::core::claim::Claim;
use route53_discovery_actors::core::journal::{Journal, JournalKey};
use route53_discovery_actors::core::ownership::Owner;
use route53_discovery_actors::core::plan::Change;
use route53_discovery_actors::core::record::{Record, RecordSet, RecordValue};
use route53_discovery_actors::core::schedule::{
    agent_verify_floor, verify_interval, MAX_VERIFY_INTERVAL, VERIFY_AGENT_READS_PER_HOUR,
    VERIFY_FLEET_BUDGET,
};
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::messages::probe;
use route53_discovery_actors::metrics::Metrics;
use route53_discovery_actors::route53::api::{DnsApi, DnsError, ListPage, ListStart, FULL_PAGE};
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::route53::journal::{JournalStore, WriterJournal};
use route53_discovery_actors::route53::{Register, Route53Actor, Route53Config, Sweep};
use route53_discovery_actors::testkit::bucket::{virtual_bucket, VirtualLimiter};
use route53_discovery_actors::testkit::fleet::{host_records, instance, HostShape};

/// Tasks per host, each with an A, an AAAA and an SRV record; the host has an A and an AAAA of its own.
const TASKS: usize = 20;
const PER_HOST: usize = 3 * TASKS + 2;
/// Another tool's records, and records of another cluster of the same account.
const FOREIGN: usize = 4000;
const OTHER_CLUSTER: usize = 2000;
const ZONE: &str = "Z1";
const ZONE_NAME: &str = "fleet.example.com.";
const CLUSTER: &str = "prod";
const SCOPE: &str = "us-east-1.123456789012";
/// A typical Route53 round trip from EC2.
const LATENCY: Duration = Duration::from_millis(30);
/// The account's Route53 quota, and each agent's client-side limit (`config/default.toml`).
const ACCOUNT_RATE: (f64, u32) = (5.0, 5);
const AGENT_RATE: (f64, u32) = (1.0, 2);
/// The agent's defaults.
const JITTER: Duration = Duration::from_secs(10);
const VERIFY_MIN: Duration = Duration::from_secs(300);
const FIRST: Duration = Duration::from_secs(1800);
/// How often the zone's set count and the counters are sampled.
const SAMPLE: Duration = Duration::from_secs(5);

fn hosts() -> usize {
    std::env::var("R53D_AGENTS_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// The account's rate (`R53D_AGENTS_ACCOUNT_RATE`, default 5/s; a smaller fleet's share scales it down), its burst
/// the same number of requests.
fn account_rate() -> (f64, u32) {
    let rate = std::env::var("R53D_AGENTS_ACCOUNT_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ACCOUNT_RATE.0);
    (rate, (rate.ceil() as u32).max(1))
}

/// How long (a) and (b) may run, simulated (`R53D_AGENTS_HORIZON` in seconds; default 48 h).
fn horizon() -> Duration {
    let secs = std::env::var("R53D_AGENTS_HORIZON")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48 * 3600);
    Duration::from_secs(secs)
}

/// Which scenarios run (`R53D_AGENTS_ONLY`, e.g. `ab`; default all).
fn runs(scenario: char) -> bool {
    std::env::var("R53D_AGENTS_ONLY").map_or(true, |v| v.contains(scenario))
}

fn wall_cap() -> std::time::Duration {
    let secs = std::env::var("R53D_AGENTS_WALL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(240);
    std::time::Duration::from_secs(secs)
}

fn shape(cluster: &str, hosts: usize) -> HostShape<'_> {
    HostShape {
        cluster,
        scope: SCOPE,
        zone_name: ZONE_NAME,
        tasks: TASKS,
        // 100 tasks a service name: Route53's limit of weighted records per name and type.
        services: (hosts * TASKS / 100).max(1),
    }
}

fn owner(h: usize) -> Owner {
    Owner::scoped(CLUSTER, &instance(h), SCOPE).expect("a valid owner")
}

/// Requests that reached Route53, by kind, and the answers `Throttling`.
#[derive(Default, Clone, Copy, Debug)]
struct Counts {
    /// `ListResourceRecordSets` pages of 300 (the launch read).
    pages: usize,
    /// Pages of 100 (a targeted read of one name: a name of 100 weighted A and 100 AAAA records takes 3).
    reads: usize,
    /// Targeted reads started (their first page).
    names: usize,
    changes: usize,
    throttled: usize,
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, o: Counts) -> Counts {
        Counts {
            pages: self.pages - o.pages,
            reads: self.reads - o.reads,
            names: self.names - o.names,
            changes: self.changes - o.changes,
            throttled: self.throttled - o.throttled,
        }
    }
}

impl Counts {
    fn total(&self) -> usize {
        self.pages + self.reads + self.changes
    }
}

/// The zone as the whole fleet reaches it: every request counted.
struct Meter {
    zone: Rc<FakeRoute53>,
    counts: Cell<Counts>,
}

impl Meter {
    fn count(&self, f: impl FnOnce(&mut Counts), throttled: bool) {
        let mut c = self.counts.get();
        f(&mut c);
        c.throttled += usize::from(throttled);
        self.counts.set(c);
    }
}

/// One agent's Route53 client: its own bucket (1/s burst 2) on tokio's clock, waited for in 50 ms steps like the
/// agent's `RateLimited`, in front of the shared, metered zone.
struct Agent {
    meter: Rc<Meter>,
    bucket: Arc<VirtualLimiter>,
    /// Where this agent's launch read goes on.
    launch_next: RefCell<Option<ListStart>>,
}

impl Agent {
    async fn admitted(&self) {
        while self.bucket.check().is_err() {
            sleep(Duration::from_millis(50)).await;
        }
    }
}

fn throttled<T>(r: &Result<T, DnsError>) -> bool {
    matches!(r, Err(DnsError::Throttled { .. }))
}

#[async_trait(?Send)]
impl DnsApi for Agent {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.admitted().await;
        self.meter.zone.zone_name(zone_id).await
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.admitted().await;
        let r = self.meter.zone.change(zone_id, changes).await;
        self.meter.count(|c| c.changes += 1, throttled(&r));
        r
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max: i32,
    ) -> Result<ListPage, DnsError> {
        self.admitted().await;
        let r = self.meter.zone.list(zone_id, start, max).await;
        // The launch read starts at the zone's top and goes on from each of its pages' cursors; a name read
        // starts at its name (both use pages of 300).
        let full = start.is_none() || start == self.launch_next.borrow().as_ref();
        if let (true, Ok(page)) = (full, &r) {
            self.launch_next.replace(page.next.clone());
        }
        let first = !full && start.is_some_and(|s| s.identifier.is_none() && s.record_type == "A");
        self.meter.count(
            |c| {
                if full {
                    c.pages += 1
                } else {
                    c.reads += 1;
                    c.names += usize::from(first);
                }
            },
            throttled(&r),
        );
        r
    }
}

/// The zone: others' records, and the fleet's own when `full`.
fn zone(hosts: usize, full: bool) -> Rc<FakeRoute53> {
    let zone = Rc::new(FakeRoute53::new(ZONE, ZONE_NAME).with_latency(LATENCY));
    if full {
        for h in 0..hosts {
            host_records(h, shape(CLUSTER, hosts))
                .into_iter()
                .for_each(|r| zone.insert(r));
        }
    }
    for i in 0..FOREIGN {
        let ip = RecordValue::A(Ipv4Addr::from(0x0b00_0000 + i as u32));
        let name = format!("ext{}.{ZONE_NAME}", i / 50);
        let id = format!("external-dns-{i}");
        zone.insert(RecordSet::from_record(&Record::new(name, id, ip, 60, 1)));
    }
    let staging = (0..).flat_map(|h| host_records(hosts + h, shape("staging", hosts)));
    staging.take(OTHER_CLUSTER).for_each(|r| zone.insert(r));
    let (rate, burst) = account_rate();
    zone.set_account_bucket(virtual_bucket(rate, burst));
    zone
}

/// Host `h`'s containers: per task, its `Register` (the task's A, AAAA and SRV and the host's two target records)
/// and its claim.
fn containers(h: usize, hosts: usize) -> Vec<(Register, Claim)> {
    let records: Vec<Record> = host_records(h, shape(CLUSTER, hosts))
        .iter()
        .map(|s| s.as_record().expect("plain records"))
        .collect();
    let (host, tasks) = records.split_at(2);
    tasks
        .chunks(3)
        .enumerate()
        .map(|(t, task)| {
            let claim = Claim {
                set_identifier: task[0].key.set_identifier.clone(),
                names: task.iter().map(|r| r.key.name.clone()).collect(),
            };
            let register = Register {
                container_id: format!("c{h:05}-{t:02}"),
                records: task.iter().chain(host).cloned().collect(),
            };
            (register, claim)
        })
        .collect()
}

fn config() -> Route53Config {
    Route53Config {
        startup_jitter: JITTER,
        verify_interval: Some(VERIFY_MIN),
        verify_reads_per_hour: Some(VERIFY_AGENT_READS_PER_HOUR),
        ..Route53Config::quiet(ZONE)
    }
}

/// Starts host `h`'s agent (from its journal in `dir` when `journal`), registers its tasks and asks for the launch
/// sweep; `swept` learns when the sweep answered.
fn start_agent(
    h: usize,
    hosts: usize,
    meter: &Rc<Meter>,
    dir: Option<&std::path::Path>,
    swept: Rc<RefCell<Vec<Instant>>>,
) -> Addr<Route53Actor> {
    let api = Rc::new(Agent {
        meter: meter.clone(),
        bucket: virtual_bucket(AGENT_RATE.0, AGENT_RATE.1),
        launch_next: RefCell::default(),
    });
    let (reporter, _) = probe::reporter();
    let mut actor = Route53Actor::new(
        api,
        config(),
        owner(h),
        reporter,
        Arc::new(HealthState::default()),
        Arc::new(Metrics::default()),
    );
    if let Some(dir) = dir {
        let store = JournalStore::open(&dir.join(h.to_string()), ZONE).expect("a journal dir");
        let loaded = store.load(ZONE, &owner(h));
        assert!(loaded.is_some(), "host {h}'s journal is usable");
        actor = actor.with_journal(
            WriterJournal::new(store, ZONE, ZONE_NAME, &owner(h)),
            loaded,
        );
    }
    let addr = actor.start();
    let mut keep = BTreeMap::new();
    for (register, claim) in containers(h, hosts) {
        keep.insert(register.container_id.clone(), claim);
        addr.do_send(register);
    }
    let sweep = addr.send(Sweep { keep });
    actix_rt::spawn(async move {
        if sweep.await.is_ok() {
            swept.borrow_mut().push(Instant::now());
        }
    });
    addr
}

/// Writes every host's journal: its 62 records, acknowledged, nothing unsure, 2 000 owners.
fn write_journals(dir: &std::path::Path, hosts: usize) {
    for h in 0..hosts {
        let store = JournalStore::open(&dir.join(h.to_string()), ZONE).expect("a journal dir");
        let journal = Journal {
            key: JournalKey::of(ZONE, &owner(h)),
            zone_name: ZONE_NAME.into(),
            cluster_owners: hosts,
            records: host_records(h, shape(CLUSTER, hosts))
                .iter()
                .map(|s| s.as_record().expect("plain records"))
                .collect(),
            shared_ttls: Some(Default::default()),
            unsure: BTreeSet::new(),
        };
        store.save(&journal).expect("journal saved");
    }
}

/// One sample: simulated time since the start, counters, the zone's set count.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    counts: Counts,
    sets: usize,
    swept: usize,
}

struct Run {
    samples: Vec<Sample>,
    swept: Vec<Duration>,
    /// The run was stopped by the wall-time cap (or the simulated cap) before its end condition.
    cut: Option<Duration>,
    wall: std::time::Duration,
}

impl Run {
    fn at(&self, t: Duration) -> Counts {
        let i = self.samples.partition_point(|s| s.at <= t);
        self.samples[i.saturating_sub(1)].counts
    }

    fn first_with(&self, f: impl Fn(&Sample) -> bool) -> Option<Duration> {
        self.samples.iter().find(|s| f(s)).map(|s| s.at)
    }
}

/// Runs one scenario: `hosts` agents start at once (each waits its jitter), sampled every `SAMPLE`, until `done`
/// says so or `until` (simulated) or the wall cap.
async fn scenario(
    hosts: usize,
    full: bool,
    journals: bool,
    until: Duration,
    done: impl Fn(&Sample, usize) -> bool,
) -> Run {
    tokio::time::pause();
    let wall = std::time::Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    if journals {
        write_journals(dir.path(), hosts);
    }
    let meter = Rc::new(Meter {
        zone: zone(hosts, full),
        counts: Cell::default(),
    });
    let t0 = Instant::now();
    let swept: Rc<RefCell<Vec<Instant>>> = Rc::default();
    let agents: Vec<_> = (0..hosts)
        .map(|h| {
            let dir = journals.then(|| dir.path());
            start_agent(h, hosts, &meter, dir, swept.clone())
        })
        .collect();
    let mut samples = Vec::new();
    let mut cut = None;
    loop {
        let s = Sample {
            at: t0.elapsed(),
            counts: meter.counts.get(),
            sets: meter.zone.set_count(),
            swept: swept.borrow().len(),
        };
        samples.push(s);
        if done(&s, hosts) {
            break;
        }
        if s.at >= until || wall.elapsed() > wall_cap() {
            cut = Some(s.at);
            break;
        }
        sleep(SAMPLE).await;
    }
    drop(agents);
    let swept = swept.borrow().iter().map(|t| *t - t0).collect();
    Run {
        samples,
        swept,
        cut,
        wall: wall.elapsed(),
    }
}

fn mins(d: Duration) -> String {
    format!("{:.1} min", d.as_secs_f64() / 60.0)
}

fn kinds(c: Counts) -> String {
    format!(
        "{} ({} pages of 300, {} name-read pages for {} names, {} changes); {} throttled, {} answered",
        c.total(),
        c.pages,
        c.reads,
        c.names,
        c.changes,
        c.throttled,
        c.total() - c.throttled
    )
}

fn per_hour(c: Counts, hours: f64) -> String {
    let h = |n: usize| n as f64 / hours;
    format!(
        "{:.0} ({:.0} pages, {:.0} name-read pages for {:.0} names, {:.0} changes); {:.0} throttled",
        h(c.total()),
        h(c.pages),
        h(c.reads),
        h(c.names),
        h(c.changes),
        h(c.throttled)
    )
}

fn main() {
    let hosts = hosts();
    let own = hosts * PER_HOST;
    let others = FOREIGN + OTHER_CLUSTER;
    let names = 2 * TASKS + 1;
    let floor = agent_verify_floor(names, Some(VERIFY_AGENT_READS_PER_HOUR));
    let fleet = verify_interval(VERIFY_MIN, hosts, names, VERIFY_FLEET_BUDGET);
    let interval = fleet.max(floor);
    let fleet_rate = (hosts * names) as f64 / interval.as_secs_f64();
    println!(
        "Agents' writers, {hosts} hosts × {TASKS} tasks: {own} records of the agents + {others} others'; \
         account {:.2} req/s burst {}, each agent 1 req/s burst 2, {} ms a request\n",
        account_rate().0,
        account_rate().1,
        LATENCY.as_millis()
    );
    println!(
        "Verification: {names} names an agent; fleet budget → {:.0} s, 4 reads/h → {:.0} s, interval {:.0} s \
         (cap {:.0} s): the fleet reads {fleet_rate:.3} names/s = {:.1} % of 5/s\n",
        fleet.as_secs_f64(),
        floor.as_secs_f64(),
        interval.as_secs_f64(),
        MAX_VERIFY_INTERVAL.as_secs_f64(),
        fleet_rate / 5.0 * 100.0
    );
    let mut rows: Vec<(String, String)> = Vec::new();

    if runs('a') {
        // (a) restart from journals, full zone: 6 h and 30 min.
        let steady = Duration::from_secs(30 * 3600 + 60).min(horizon());
        let a = actix_rt::System::new().block_on(scenario(hosts, true, true, steady, |_, _| false));
        eprintln!("  (a) simulated in {:.0} s", a.wall.as_secs_f64());
        let hour = Duration::from_secs(3600);
        let a_end = a.samples.last().map(|s| s.at).unwrap_or_default();
        rows.push(("(a) restart: first 30 min".into(), kinds(a.at(FIRST))));
        rows.push((
            "(a) restart: launch sweeps answered".into(),
            format!(
                "{} of {hosts}, the last at {:.1} s",
                a.swept.len(),
                a.swept
                    .iter()
                    .max()
                    .unwrap_or(&Duration::ZERO)
                    .as_secs_f64()
            ),
        ));
        if a_end >= 6 * hour {
            rows.push((
                "(a) restart: per hour, hours 1–6".into(),
                per_hour(a.at(6 * hour) - a.at(hour), 5.0),
            ));
        }
        if a_end >= 30 * hour {
            rows.push((
                "(a) restart: per hour, hours 24–30".into(),
                per_hour(a.at(30 * hour) - a.at(24 * hour), 6.0),
            ));
        }
        rows.push((
            "(a) restart: zone sets at the end".into(),
            format!(
                "{} (of {})",
                a.samples.last().map_or(0, |s| s.sets),
                own + others
            ),
        ));
    }

    if runs('b') {
        // (b) first deployment, zone of others' records only.
        let target = own + others;
        let b = actix_rt::System::new().block_on(scenario(
            hosts,
            false,
            false,
            horizon(),
            move |s, n| s.sets == target && s.swept == n,
        ));
        eprintln!("  (b) simulated in {:.0} s", b.wall.as_secs_f64());
        rows.push((
            "(b) first deployment: first 30 min".into(),
            kinds(b.at(FIRST)),
        ));
        let b_end = b.samples.last().map(|s| s.at).unwrap_or_default();
        let registered = b.first_with(|s| s.sets == target);
        let half = b.first_with(|s| s.sets >= others + own / 2);
        rows.push((
            "(b) first deployment: records in the zone at 30 min".into(),
            format!(
                "{} of {own}",
                b.samples
                    .iter()
                    .rev()
                    .find(|s| s.at <= FIRST)
                    .map_or(0, |s| s.sets - others.min(s.sets))
            ),
        ));
        rows.push((
            "(b) first deployment: half / all tasks' records in".into(),
            format!(
                "{} / {}",
                half.map_or("not yet".into(), mins),
                registered.map_or(format!("not by {}", mins(b_end)), mins)
            ),
        ));
        rows.push((
            "(b) first deployment: launch reads (sweeps) done".into(),
            format!(
                "{} of {hosts}; the last at {}",
                b.swept.len(),
                b.swept.iter().max().map_or("—".into(), |t| mins(*t))
            ),
        ));
        rows.push((
            "(b) first deployment: whole run".into(),
            format!(
                "{}{}: {}",
                mins(b_end),
                b.cut.map_or("", |_| " (cut)"),
                kinds(b.at(b_end))
            ),
        ));
    }

    if runs('c') {
        // (c) first rollout of a journal-keeping version over a full zone: 30 min.
        let c = actix_rt::System::new().block_on(scenario(hosts, true, false, FIRST, |_, _| false));
        eprintln!("  (c) simulated in {:.0} s", c.wall.as_secs_f64());
        let c_end = c.samples.last().map(|s| s.at).unwrap_or_default();
        let pages = (own + others).div_ceil(FULL_PAGE as usize);
        rows.push((
            "(c) rollout over a full zone: first 30 min".into(),
            format!(
                "{}{}",
                kinds(c.at(c_end)),
                c.cut
                    .filter(|t| *t < FIRST)
                    .map_or(String::new(), |t| format!(" (cut at {})", mins(t)))
            ),
        ));
        rows.push((
            "(c) launch sweeps answered in 30 min".into(),
            format!("{} of {hosts}", c.swept.len()),
        ));
        rows.push((
            "(c) arithmetic: launch reads alone".into(),
            format!(
                "⌈{}/300⌉ = {pages} pages × {hosts} / 5 per s = {:.1} h",
                own + others,
                (pages * hosts) as f64 / 5.0 / 3600.0
            ),
        ));
    }

    println!("| | |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
