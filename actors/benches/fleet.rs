//! Fleet simulation (issue 13, item 4): 2 000 agents × 10 tasks in one process, against the strict in-memory
//! Route53 and ECS fakes behind account-wide buckets (Route53 5/s, burst 5; ECS cluster reads 20/s, burst 100),
//! in a zone of 20 000 own + 10 000 foreign records, on tokio's paused clock (hours of fleet time in seconds).
//! Each design runs four scenarios in a row:
//!
//! * (a) every agent restarts (start-up jitter 0–10 s): Route53 requests, time until all are ready, throttled;
//! * (b) two hours of steady state with every agent's janitor cycle (300 s ± 20 %): the second hour's requests;
//! * (c) 50 instances die at once: time until their records are gone, live records deleted;
//! * (d) the janitor's own instance dies: time until its records are gone;
//! * (e) every live agent loses its state directory and starts its janitor over (as at a first deployment): time
//!   until every agent has a standing again, and the ECS calls until then (new design only).
//!
//! **new**: the writer (`Route53Actor`) restarting from its journal; the janitor cycle (`janitor::cycle::run`, as
//! `JanitorActor` runs it) resuming the standing its last run saved (written here as the fleet's last full
//! elections left it: janitor the lowest id, the lowest 100 knowing their rank), with deputies, the holds after
//! failed elections and the paced zone read (`zone_read_per_sec` 0.2).
//! **today** (the design when issue 13 was filed): the launch read modelled as it was — GetHostedZone, then the
//! whole zone collected (`api::read_zone`), any failed page starting the read over after the writer's backoff,
//! and the agent exiting after 300 s to be restarted by ECS 10 s later; the janitor cycle with its standing
//! forgotten before every cycle (every agent elects in full, as before) and an unpaced zone read. Both designs'
//! writers in (b)–(d) are the journal writers (the purge and the verification did not change).
//! Left out in both: the agents' own client-side limits (1 Route53 request/s each, never the binding limit when
//! 2 000 agents share 5/s). A dead agent's requests never arrive. `max_owners_per_cycle` is 50 (the default 5
//! would hold scenario (c) by the brake, as designed).
//!
//! ```text
//! cargo bench -p route53-discovery-actors --features test-util --bench fleet
//! ```

use std::cell::Cell;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_rt::time::{sleep, Instant};
use async_trait::async_trait;
use rand::Rng;
use route53_discovery_actors::core::journal::{Journal, JournalKey};
use route53_discovery_actors::core::ownership::{InstanceId, Owner};
use route53_discovery_actors::core::plan::Change;
use route53_discovery_actors::core::record::{Record, RecordSet, RecordValue};
use route53_discovery_actors::janitor::cycle::{self, Cycle};
use route53_discovery_actors::janitor::fake::FakeEcs;
use route53_discovery_actors::janitor::standing::Standing;
use route53_discovery_actors::janitor::standing_file::StandingStore;
use route53_discovery_actors::janitor::tracker::DeadTracker;
use route53_discovery_actors::messages::probe;
use route53_discovery_actors::route53::api::{read_zone, DnsApi, DnsError, ListPage, ListStart};
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::route53::journal::{JournalStore, WriterJournal};
use route53_discovery_actors::route53::{
    Flush, Register, Route53Actor, Route53Config, Sweep, WRITER_BACKOFF,
};
use route53_discovery_actors::testkit::bucket::virtual_bucket;

const AGENTS: usize = 2000;
const TASKS: usize = 10;
const FOREIGN: usize = 10_000;
const ZONE: &str = "Z1";
const ZONE_NAME: &str = "fleet.example.com.";
const SCOPE: &str = "us-east-1.123456789012";
const JITTER: Duration = Duration::from_secs(10);
const INTERVAL: Duration = Duration::from_secs(300);
const GRACE: Duration = Duration::from_secs(600);
const LATENCY: Duration = Duration::from_millis(30);
const PACE: Duration = Duration::from_secs(5);
const DEAD: std::ops::Range<usize> = 1000..1050;

fn id(agent: usize) -> String {
    format!("{:032x}", agent + 1)
}

fn owner(agent: usize) -> Owner {
    Owner::scoped("prod", &id(agent), SCOPE).unwrap()
}

fn record(agent: usize, task: usize) -> Record {
    let n = agent * TASKS + task;
    Record::new(
        format!("svc{}.{ZONE_NAME}", n % 200), // 100 tasks a name: Route53's weighted limit
        owner(agent).set_identifier(&InstanceId::Task(format!("{n:032x}"))),
        RecordValue::A(Ipv4Addr::from(0x0a00_0000 + n as u32)),
        60,
        1,
    )
}

/// Route53 as one agent's host reaches it: counted, and silent once the host is dead.
struct Host {
    zone: Rc<FakeRoute53>,
    alive: Cell<bool>,
    requests: Rc<Cell<usize>>,
}

impl Host {
    fn reach(&self) -> Result<(), DnsError> {
        match self.alive.get() {
            true => {
                self.requests.set(self.requests.get() + 1);
                Ok(())
            }
            false => Err(DnsError::Transient("the host is gone".into())),
        }
    }
}

#[async_trait(?Send)]
impl DnsApi for Host {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.reach()?;
        sleep(LATENCY).await;
        self.zone.zone_name(zone_id).await
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.reach()?;
        self.zone.change(zone_id, changes).await
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max: i32,
    ) -> Result<ListPage, DnsError> {
        self.reach()?;
        self.zone.list(zone_id, start, max).await
    }
}

struct World {
    zone: Rc<FakeRoute53>,
    ecs: Rc<FakeEcs>,
    requests: Rc<Cell<usize>>,
    hosts: Vec<Rc<Host>>,
    writers: Vec<Addr<Route53Actor>>,
    stopped: Vec<Rc<Cell<bool>>>,
    dir: tempfile::TempDir,
}

fn world() -> World {
    let zone = Rc::new(FakeRoute53::new(ZONE, ZONE_NAME).with_latency(LATENCY));
    for i in 0..FOREIGN {
        zone.insert(RecordSet {
            name: format!("ext{}.{ZONE_NAME}", i / 50),
            record_type: "A".into(),
            set_identifier: Some(format!("external-dns-{i}")),
            weight: Some(1),
            ttl: Some(60),
            values: vec![Ipv4Addr::from(0x0b00_0000 + i as u32).to_string()],
            has_extras: false,
        });
    }
    let ecs = Rc::new(FakeEcs::new("prod", 100));
    let dir = tempfile::tempdir().unwrap();
    for a in 0..AGENTS {
        (0..TASKS).for_each(|t| zone.insert(RecordSet::from_record(&record(a, t))));
        ecs.register_candidate(&id(a), ZONE);
        let store = JournalStore::open(&dir.path().join(id(a)), ZONE).unwrap();
        store.save(&journal(a)).unwrap();
    }
    // The standings the fleet's last full elections left (each described the lowest 100 ids: the janitor's).
    for a in 0..AGENTS {
        let store = StandingStore::open(&dir.path().join(id(a)), ZONE, "prod", &id(a)).unwrap();
        let rank = (a < 100).then_some(a);
        let mut s = Standing::after_election(Some(id(0)), rank, true, AGENTS);
        s.candidate = true;
        store.save(&s);
    }
    let requests = Rc::new(Cell::new(0));
    let hosts = (0..AGENTS)
        .map(|_| {
            Rc::new(Host {
                zone: zone.clone(),
                alive: Cell::new(true),
                requests: requests.clone(),
            })
        })
        .collect();
    zone.set_account_bucket(virtual_bucket(5.0, 5));
    ecs.set_account_bucket(virtual_bucket(20.0, 100));
    World {
        zone,
        ecs,
        requests,
        hosts,
        writers: Vec::new(),
        stopped: (0..AGENTS).map(|_| Rc::new(Cell::new(false))).collect(),
        dir,
    }
}

fn journal(a: usize) -> Journal {
    Journal {
        key: JournalKey::of(ZONE, &owner(a)),
        zone_name: ZONE_NAME.into(),
        cluster_owners: AGENTS,
        records: (0..TASKS).map(|t| record(a, t)).collect(),
        unsure: BTreeSet::new(),
    }
}

impl World {
    fn writer(&self, a: usize, journal: bool) -> Addr<Route53Actor> {
        let store = JournalStore::open(&self.dir.path().join(id(a)), ZONE).unwrap();
        let loaded = journal.then(|| store.load(ZONE, &owner(a))).flatten();
        let kept = WriterJournal::new(store, ZONE, ZONE_NAME, &owner(a));
        let config = Route53Config {
            verify_interval: Some(INTERVAL),
            ..Route53Config::quiet(ZONE)
        };
        let (reporter, _) = probe::reporter();
        Route53Actor::new(
            self.hosts[a].clone(),
            config,
            owner(a),
            reporter,
            Arc::default(),
            Arc::default(),
        )
        .with_journal(kept, loaded)
        .start()
    }

    /// The launch sync of agent `a`'s writer: its ten running tasks registered, then the sweep.
    async fn sync(w: &Addr<Route53Actor>, a: usize) {
        let mut keep = BTreeSet::new();
        for t in 0..TASKS {
            let r = record(a, t);
            keep.insert(r.key.set_identifier.clone());
            w.do_send(Register {
                container_id: format!("{a}-{t}"),
                records: vec![r],
            });
        }
        w.send(Sweep { keep }).await.unwrap();
        w.send(Flush).await.unwrap();
    }

    fn standing_store(&self, a: usize) -> StandingStore {
        StandingStore::open(&self.dir.path().join(id(a)), ZONE, "prod", &id(a)).unwrap()
    }

    fn own_left(&self, agents: impl Iterator<Item = usize>) -> usize {
        let ids: BTreeSet<String> = agents
            .flat_map(|a| (0..TASKS).map(move |t| record(a, t).key.set_identifier))
            .collect();
        let sets = self.zone.sets();
        sets.iter()
            .filter(|s| s.set_identifier.as_ref().is_some_and(|i| ids.contains(i)))
            .count()
    }
}

/// The launch before issue 13, as a model (see the header): requests until ready, or `None` at `cap`.
async fn today_launch(host: Rc<Host>, cap: Instant) -> Option<Instant> {
    let mut rng = rand::thread_rng();
    loop {
        let started = Instant::now();
        let mut delay = WRITER_BACKOFF.0;
        while started.elapsed() < Duration::from_secs(300) {
            if Instant::now() > cap {
                return None;
            }
            let read = match host.zone_name(ZONE).await {
                Ok(_) => read_zone(&*host, ZONE).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if read.is_ok() {
                return Some(Instant::now());
            }
            sleep(delay.mul_f64(rng.gen_range(0.0..1.0))).await;
            delay = (delay * 2).min(WRITER_BACKOFF.1);
        }
        sleep(Duration::from_secs(10) + JITTER.mul_f64(rng.gen_range(0.0..1.0))).await;
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Design {
    Today,
    New,
}

/// (a): requests, seconds until all ready (None: not all within the cap), throttled, agents ready.
async fn restart(w: &mut World, design: Design) -> (usize, Option<f64>, usize, usize) {
    let (r0, t0, start) = (w.requests.get(), w.zone.throttled(), Instant::now());
    let cap = start + Duration::from_secs(4 * 3600);
    let mut runs = Vec::new();
    for a in 0..AGENTS {
        let jitter = JITTER.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
        let host = w.hosts[a].clone();
        let writer = (design == Design::New).then(|| w.writer(a, true));
        w.writers.extend(writer.clone());
        runs.push(actix_rt::spawn(async move {
            sleep(jitter).await;
            match writer {
                None => today_launch(host, cap).await,
                Some(wr) => {
                    World::sync(&wr, a).await;
                    Some(Instant::now())
                }
            }
        }));
    }
    let done: Vec<Option<Instant>> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ready = done.iter().flatten().count();
    let last = (ready == AGENTS).then(|| {
        done.iter()
            .flatten()
            .max()
            .unwrap()
            .duration_since(start)
            .as_secs_f64()
    });
    let out = (w.requests.get() - r0, last, w.zone.throttled() - t0, ready);
    // (b)–(d) need every agent's writer (the same in both designs); today's are started here, uncounted.
    if design == Design::Today {
        for a in 0..AGENTS {
            let wr = w.writer(a, true);
            World::sync(&wr, a).await;
            w.writers.push(wr);
        }
    }
    out
}

/// Starts the janitor loops of `agents` (the cycle as `JanitorActor` runs it), resuming the standings saved in
/// the state directories when `resume`; returns their cycles.
fn janitors(
    w: &World,
    design: Design,
    writers: &[Addr<Route53Actor>],
    agents: &[usize],
    resume: bool,
) -> Vec<Rc<Cycle>> {
    let mut cycles = Vec::new();
    for &a in agents {
        let writer = &writers[a];
        let store = resume.then(|| w.standing_store(a));
        let standing = store.as_ref().and_then(StandingStore::load);
        let c = Rc::new(Cycle {
            ecs: w.ecs.clone(),
            ec2: w.ecs.clone(),
            dns: w.hosts[a].clone(),
            cluster: "prod".into(),
            scope: Some(SCOPE.into()),
            zone_id: ZONE.into(),
            me: id(a),
            health: Arc::default(),
            max_owners: 50,
            zone_pace: if design == Design::New {
                PACE
            } else {
                Duration::ZERO
            },
            announced: Cell::new(true),
            standing: std::cell::RefCell::new(standing),
            store,
            held: Default::default(),
        });
        cycles.push(c.clone());
        let weak = writer.clone().recipient().downgrade();
        let stopped = w.stopped[a].clone();
        actix_rt::spawn(async move {
            let mut tracker = DeadTracker::new(GRACE, INTERVAL * 2 + Duration::from_secs(30));
            sleep(INTERVAL.mul_f64(rand::thread_rng().gen_range(0.0..1.0))).await;
            while !stopped.get() {
                if design == Design::Today {
                    // Before issue 13: no standing and no holds (every cycle a full election).
                    c.standing.replace(None);
                    c.held.set((0, 0));
                }
                tracker = cycle::run(c.clone(), tracker, weak.clone()).await.0;
                sleep(INTERVAL.mul_f64(rand::thread_rng().gen_range(0.8..1.2))).await;
            }
        });
    }
    cycles
}

fn ecs_calls(w: &World) -> usize {
    let (l, d) = w.ecs.calls();
    l + d
}

/// Kills `agents`' hosts; the seconds until their records are all gone (None: not within `cap`).
async fn kill(w: &World, agents: std::ops::Range<usize>, cap: Duration) -> Option<f64> {
    for a in agents.clone() {
        w.hosts[a].alive.set(false);
        w.stopped[a].set(true);
        w.ecs.set(&id(a), "ACTIVE", false);
        w.ecs.set_ec2(&id(a), Some("terminated"));
    }
    let start = Instant::now();
    while start.elapsed() < cap {
        sleep(Duration::from_secs(10)).await;
        if w.own_left(agents.clone()) == 0 {
            return Some(start.elapsed().as_secs_f64());
        }
    }
    None
}

fn secs(t: Option<f64>) -> String {
    t.map_or("not within the cap".into(), |t| format!("{t:.0} s"))
}

async fn run(design: Design) -> Vec<String> {
    tokio::time::pause();
    let mut w = world();
    let (requests, all_ready, throttled, ready) = restart(&mut w, design).await;
    let writers = w.writers.clone();
    let all: Vec<usize> = (0..AGENTS).collect();
    janitors(&w, design, &writers, &all, design == Design::New);
    sleep(Duration::from_secs(3600)).await;
    let (e0, et0, r0, rt0) = (
        ecs_calls(&w),
        w.ecs.throttled(),
        w.requests.get(),
        w.zone.throttled(),
    );
    sleep(Duration::from_secs(3600)).await;
    let ecs_h = ecs_calls(&w) - e0;
    let ecs_throttled = w.ecs.throttled() - et0;
    let r53_h = w.requests.get() - r0;
    let r53_throttled = w.zone.throttled() - rt0;
    let cap = Duration::from_secs(3 * 3600);
    let c = kill(&w, DEAD, cap).await;
    let d = kill(&w, 0..1, cap).await;
    let live_after = w.own_left((1..AGENTS).filter(|a| !DEAD.contains(a)));
    let expected = (AGENTS - DEAD.len() - 1) * TASKS;
    let e = cold_start(&w, design, &writers).await;
    vec![
        format!("{requests} ({:.1}/agent)", requests as f64 / AGENTS as f64),
        match all_ready {
            Some(t) => format!("{t:.0} s"),
            None => format!("{ready} of {AGENTS} after 4 h"),
        },
        throttled.to_string(),
        format!(
            "{ecs_h} ({:.2}/s), {ecs_throttled} throttled",
            ecs_h as f64 / 3600.0
        ),
        format!(
            "{r53_h} ({:.1} % of 5/s), {r53_throttled} throttled",
            r53_h as f64 / 3600.0 / 5.0 * 100.0
        ),
        secs(c),
        format!("{}", expected.saturating_sub(live_after)),
        secs(d),
        e,
    ]
}

/// (e): every live agent loses its state directory and starts over (a first deployment of the daemon on the
/// whole cluster): the time until every agent has a standing again, and the ECS calls until then.
async fn cold_start(w: &World, design: Design, writers: &[Addr<Route53Actor>]) -> String {
    if design == Design::Today {
        return "never: it keeps no standing (every cycle is (b))".into();
    }
    for s in &w.stopped {
        s.set(true);
    }
    // Every loop has ended once a longest sleep has passed.
    sleep(INTERVAL * 2).await;
    let live: Vec<usize> = (1..AGENTS).filter(|a| !DEAD.contains(a)).collect();
    for &a in &live {
        w.stopped[a].set(false);
    }
    let (e0, t0, start) = (ecs_calls(w), w.ecs.throttled(), Instant::now());
    let cycles = janitors(w, design, writers, &live, false);
    let cap = Duration::from_secs(6 * 3600);
    while start.elapsed() < cap {
        sleep(Duration::from_secs(10)).await;
        if cycles.iter().all(|c| c.standing.borrow().is_some()) {
            let (calls, throttled) = (ecs_calls(w) - e0, w.ecs.throttled() - t0);
            return format!(
                "{}: {calls} ECS calls, {throttled} throttled",
                secs(Some(start.elapsed().as_secs_f64()))
            );
        }
    }
    let without = cycles
        .iter()
        .filter(|c| c.standing.borrow().is_none())
        .count();
    format!("{without} of {} without a standing after 6 h", live.len())
}

fn main() {
    let rows = [
        "(a) Route53 requests",
        "(a) all ready after",
        "(a) throttled answers",
        "(b) ECS calls in an hour",
        "(b) Route53 requests in an hour",
        "(c) 50 dead: records gone after",
        "(c)+(d) live records deleted",
        "(d) janitor dead: records gone after",
        "(e) state lost: all agents know the janitor after",
    ];
    let mut cols = Vec::new();
    for design in [Design::Today, Design::New] {
        let started = std::time::Instant::now();
        cols.push(actix_rt::System::new().block_on(run(design)));
        eprintln!("  simulated in {:.0} s", started.elapsed().as_secs_f64());
    }
    println!(
        "Fleet of {AGENTS} agents × {TASKS} tasks, zone of {} own + {FOREIGN} foreign records\n",
        AGENTS * TASKS
    );
    println!("| scenario | today | new |\n|---|---|---|");
    for (i, row) in rows.iter().enumerate() {
        println!("| {row} | {} | {} |", cols[0][i], cols[1][i]);
    }
}
