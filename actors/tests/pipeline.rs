//! Model test of the whole pipeline: watcher → registrar pool → metadata → writer, over an in-memory Docker
//! Engine and ECS agent ([`FakeEngine`]) and the strict in-memory Route53 (one TTL per weighted group).
//!
//! Random sequences of start / stop / die / restart (new address) / pause / unpause / health changes over many
//! containers, event-stream cuts, listings held while events go on, introspection lookups that fail or are slow,
//! Route53 faults and agent restarts (drain, then a new agent on the same host). After quiescence the zone holds
//! exactly one A record per running labelled container (healthy, when the agent waits for health) at its current
//! address, a badly labelled container has none, and the foreign record sharing a weighted group is unchanged,
//! TTL included (ours adopt its TTL).
//!
//! `PIPELINE_CASES` sets the number of cases (default 300); a failing case is kept in
//! `pipeline.proptest-regressions` and replayed first; `PIPELINE_LOG=1` prints the agent's debug log.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use route53_discovery_actors::core::record::RecordSet;
use route53_discovery_actors::event_watcher::Resync;
use route53_discovery_actors::messages::Reporter;
use route53_discovery_actors::route53::api::DnsError;
use route53_discovery_actors::route53::fake::FakeRoute53;
use route53_discovery_actors::route53::Flush;
use route53_discovery_actors::testkit::agent::LABEL;
use route53_discovery_actors::testkit::{
    self, set_identifier, weighted_a, Agent, FakeEngine, Probe, TaskFault, Timing,
};

const SLOTS: u8 = 12;

#[derive(Debug, Clone)]
enum Op {
    /// Slot n: a new container, a stopped one started again, or a running one restarted; its ENI is 10.0.n.ip.
    Start(u8, u8),
    Stop(u8),
    Die(u8),
    Pause(u8, bool),
    Health(u8, bool),
    CutStream,
    /// A listing starts now and answers later (events go on meanwhile).
    HoldListing,
    ReleaseListings,
    /// The next `k` introspection lookups of slot n fail (within the retry budget), or each takes `ms`.
    Lookups(u8, LookupFault),
    Route53Faults(Vec<DnsError>),
    /// Drain the agent, then start a new one (an upgrade, a crash-free restart).
    AgentRestart,
    /// Let the actors run for a few milliseconds.
    Wait(u8),
}

#[derive(Debug, Clone, Copy)]
enum LookupFault {
    Fail(u32),
    Slow(u64),
    Clear,
}

fn slot() -> impl Strategy<Value = u8> {
    0..SLOTS
}

fn dns_fault() -> impl Strategy<Value = DnsError> {
    prop_oneof![
        Just(DnsError::Throttled {
            code: "Throttling".into(),
            message: "Rate exceeded".into()
        }),
        Just(DnsError::Transient("HTTP 503".into())),
        Just(DnsError::Ambiguous("timeout".into())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (slot(), 1u8..250).prop_map(|(n, ip)| Op::Start(n, ip)),
        3 => slot().prop_map(Op::Stop),
        2 => slot().prop_map(Op::Die),
        1 => (slot(), any::<bool>()).prop_map(|(n, u)| Op::Pause(n, u)),
        3 => (slot(), any::<bool>()).prop_map(|(n, h)| Op::Health(n, h)),
        1 => Just(Op::CutStream),
        1 => Just(Op::HoldListing),
        1 => Just(Op::ReleaseListings),
        2 => (slot(), prop_oneof![
            (1u32..=2).prop_map(LookupFault::Fail),
            (5u64..80).prop_map(LookupFault::Slow),
            Just(LookupFault::Clear),
        ]).prop_map(|(n, f)| Op::Lookups(n, f)),
        1 => prop::collection::vec(dns_fault(), 1..3).prop_map(Op::Route53Faults),
        1 => Just(Op::AgentRestart),
        4 => (0u8..15).prop_map(Op::Wait),
    ]
}

fn container_id(n: u8) -> String {
    testkit::container_id(n, "c0ffee")
}

/// Slots 0–7 serve `web` (a group with a foreign record), 8–10 `api`, 11 carries an unusable name.
fn service(n: u8) -> &'static str {
    match n {
        0..=7 => "web",
        8..=10 => "api",
        _ => "bad_name!",
    }
}

/// The hand-made record in `web`'s weighted group, with a TTL of its own.
fn foreign() -> RecordSet {
    weighted_a("web.example.com.", "hand-made", 9, 300, "192.0.2.1")
}

struct World {
    engine: Rc<FakeEngine>,
    zone: Rc<FakeRoute53>,
    probe: Probe,
    reporter: Reporter,
    timing: Timing,
}

impl World {
    fn new(healthy_mode: bool) -> Self {
        let probe = Probe::default();
        let zone = Rc::new(FakeRoute53::new("Z1", "example.com."));
        zone.insert(foreign());
        Self {
            engine: Rc::new(FakeEngine::new()),
            zone,
            reporter: probe.reporter(),
            probe,
            timing: Timing {
                healthy_mode,
                ..Timing::default()
            },
        }
    }

    fn start_agent(&self) -> Agent {
        Agent::start(&self.engine, &self.zone, &self.reporter, self.timing)
    }

    /// What the zone must hold: set identifier → (name, address, TTL) of our records.
    fn expected(&self) -> BTreeMap<String, (String, String, i64)> {
        let mut out = BTreeMap::new();
        for c in self.engine.running() {
            let (id, labels, ip, health) = (c.id, c.labels, c.ipv4, c.health);
            let name = &labels[LABEL];
            if name == "bad_name!" || (self.timing.healthy_mode && health != Some("healthy")) {
                continue;
            }
            let ttl = if name == "web" { 300 } else { 60 };
            let record_name = format!("{name}.example.com.");
            out.insert(set_identifier(&id), (record_name, ip.to_string(), ttl));
        }
        out
    }

    fn ours(&self) -> BTreeMap<String, (String, String, i64)> {
        let sets = self.zone.sets().into_iter();
        let ours = sets.filter(|s| s.set_identifier.as_deref() != Some("hand-made"));
        ours.map(|s| {
            let sid = s.set_identifier.unwrap_or_default();
            (sid, (s.name, s.values.join(","), s.ttl.unwrap_or(0)))
        })
        .collect()
    }

    fn foreign_intact(&self) -> bool {
        let found = self
            .zone
            .sets()
            .into_iter()
            .find(|s| s.set_identifier.as_deref() == Some("hand-made"));
        found == Some(foreign())
    }
}

async fn apply(w: &World, agent: Agent, op: Op) -> Agent {
    let e = &w.engine;
    match op {
        Op::Start(n, ip) => {
            let (id, addr) = (container_id(n), Ipv4Addr::new(10, 0, n, ip));
            if e.running().iter().any(|c| c.id == id) {
                e.restart(&id, addr);
            } else {
                e.start(&id, &[(LABEL, service(n))], addr, w.timing.healthy_mode);
            }
        }
        Op::Stop(n) => e.stop(&container_id(n)),
        Op::Die(n) => e.die(&container_id(n)),
        Op::Pause(n, unpause) => e.pause(&container_id(n), unpause),
        Op::Health(n, healthy) => e.health(&container_id(n), healthy),
        Op::CutStream => e.cut_streams(),
        Op::HoldListing => {
            e.hold_listings();
            agent.watcher.do_send(Resync);
        }
        Op::ReleaseListings => e.release_listings(),
        Op::Lookups(n, f) => e.task_fault(
            &container_id(n),
            match f {
                LookupFault::Fail(k) => Some(TaskFault::Fail(k)),
                LookupFault::Slow(ms) => Some(TaskFault::Slow(Duration::from_millis(ms))),
                LookupFault::Clear => None,
            },
        ),
        Op::Route53Faults(faults) => w.zone.fail_next(faults),
        Op::AgentRestart => {
            e.release_listings();
            agent.drain(&w.probe).await;
            return w.start_agent();
        }
        Op::Wait(ms) => actix_rt::time::sleep(Duration::from_millis(u64::from(ms))).await,
    }
    agent
}

/// Clears the faults, then waits until the zone is the model (or a generous deadline passes). With `resync`, each
/// round reconciles with a listing first; without, only the events already sent can get the zone there.
async fn settle(w: &World, agent: &Agent, resync: bool) {
    w.engine.release_listings();
    for n in 0..SLOTS {
        w.engine.task_fault(&container_id(n), None);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if resync {
            within("a listing", agent.watcher.send(Resync)).await;
        }
        within("the registrars' barrier", agent.pool.barrier()).await;
        within("a flush of the writer", agent.writer.send(Flush)).await;
        if (w.ours() == w.expected() && w.zone.pending_late() == 0) || Instant::now() > deadline {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Awaits `fut`, failing the case (naming `what`) if it takes more than 30 s or its actor is gone.
async fn within<T, E: std::fmt::Debug>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match actix_rt::time::timeout(Duration::from_secs(30), fut).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: the actor is gone: {e:?}"),
        Err(_) => panic!("{what} hung for 30 s"),
    }
}

fn run_case(ops: Vec<Op>, healthy_mode: bool) -> Result<(), TestCaseError> {
    if std::env::var_os("PIPELINE_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::new("debug");
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    actix_rt::System::new().block_on(async move {
        let w = World::new(healthy_mode);
        let mut agent = w.start_agent();
        agent.pool.barrier().await.unwrap();
        for op in ops {
            agent = apply(&w, agent, op).await;
        }
        // Events alone bring the zone there (no event is lost: a cut stream resumes from where it was).
        settle(&w, &agent, false).await;
        prop_assert_eq!(w.ours(), w.expected(), "after the events");
        // A listing changes nothing that is right.
        settle(&w, &agent, true).await;
        prop_assert_eq!(w.ours(), w.expected(), "after a listing");
        prop_assert!(
            w.foreign_intact(),
            "foreign record changed: {:?}",
            w.zone.sets()
        );
        prop_assert!(w.probe.failures().is_empty(), "{:?}", w.probe.failures());
        // An agent restart never blanks DNS: the drain leaves every running task's record, the new agent keeps it.
        agent.drain(&w.probe).await;
        prop_assert_eq!(
            w.ours(),
            w.expected(),
            "the drain removed a running task's record"
        );
        let agent = w.start_agent();
        settle(&w, &agent, true).await;
        prop_assert_eq!(w.ours(), w.expected(), "after the launch sync");
        Ok(())
    })
}

fn cases() -> u32 {
    std::env::var("PIPELINE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_zone_always_ends_as_the_running_containers(
        ops in prop::collection::vec(op(), 1..60),
        healthy_mode in any::<bool>(),
    ) {
        run_case(ops, healthy_mode)?;
    }
}
