//! What the janitor costs ECS in a cluster of 300 agents (issue 13, item 3), through the cycle against the
//! in-memory ECS fake (100 ids a page, like ECS): every agent's first cycle is a full election; from then on the
//! janitor elects in full, its deputies describe it, and the others describe it every other cycle, so the fleet
//! makes about half an ECS call per agent per cycle instead of five. When the janitor dies, a deputy takes over
//! at its next cycle.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::cycle::{self, Cycle, Report};
use super::fake::FakeEcs;
use super::standing::{spacing, DEPUTIES};
use super::standing_file::StandingStore;
use super::tracker::DeadTracker;
use crate::route53::api::DnsApi;
use crate::route53::fake::FakeRoute53;
use crate::route53::{Purge, PurgeOutcome};

const AGENTS: usize = 300;

/// A stand-in writer (the zone holds no other owner's records: nothing is ever purged).
struct NoPurge;

impl Actor for NoPurge {
    type Context = Context<Self>;
}

impl Handler<Purge> for NoPurge {
    type Result = MessageResult<Purge>;

    fn handle(&mut self, _msg: Purge, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(PurgeOutcome::default())
    }
}

/// Agent `me`'s cycle, its standing kept in `dir/<me>` (and resumed from there) when `dir` is given.
fn cycle(
    ecs: &Rc<FakeEcs>,
    zone: &Rc<FakeRoute53>,
    me: &str,
    dir: Option<&std::path::Path>,
) -> Rc<Cycle> {
    let store = dir.map(|d| StandingStore::open(&d.join(me), "Z1", "prod", me).unwrap());
    let standing = store.as_ref().and_then(StandingStore::load);
    Rc::new(Cycle {
        ecs: ecs.clone(),
        ec2: ecs.clone(),
        dns: zone.clone() as Rc<dyn DnsApi>,
        cluster: "prod".into(),
        scope: None,
        zone_id: "Z1".into(),
        me: me.to_string(),
        health: Arc::default(),
        max_owners: 5,
        zone_pace: Duration::ZERO,
        announced: std::cell::Cell::new(false),
        standing: std::cell::RefCell::new(standing),
        store,
        held: Default::default(),
    })
}

struct Fleet {
    ecs: Rc<FakeEcs>,
    zone: Rc<FakeRoute53>,
    ids: Vec<String>,
    cycles: Vec<Rc<Cycle>>,
    trackers: Vec<Option<DeadTracker>>,
    writer: Addr<NoPurge>,
}

impl Fleet {
    fn new() -> Self {
        Self::with_plain_below(0, true)
    }

    /// The fleet, with the lowest instance already a candidate or not yet (its agent announces itself at its
    /// first cycle).
    fn with_first_announced(announced: bool) -> Self {
        Self::with_plain_below(0, announced)
    }

    /// The fleet, its `plain` lowest instances running no agent (never candidates), the next one already a
    /// candidate or not yet.
    fn with_plain_below(plain: usize, announced: bool) -> Self {
        let ecs = Rc::new(FakeEcs::new("prod", 100));
        let zone = Rc::new(FakeRoute53::new("Z1", "z."));
        let ids: Vec<String> = (1..=AGENTS).map(|i| format!("{i:032x}")).collect();
        for (i, id) in ids.iter().enumerate() {
            match i < plain || (i == plain && !announced) {
                true => ecs.register(id),
                false => ecs.register_candidate(id, "Z1"),
            }
        }
        let cycles = ids.iter().map(|me| cycle(&ecs, &zone, me, None)).collect();
        let trackers = (0..AGENTS)
            .map(|_| Some(DeadTracker::new(Duration::from_secs(60), Duration::MAX)))
            .collect();
        Self {
            ecs,
            zone,
            ids,
            cycles,
            trackers,
            writer: NoPurge.start(),
        }
    }

    /// Every agent restarts (a new process: not announced yet, trackers empty), keeping its standing in
    /// `dir/<id>` when given.
    fn restart(&mut self, dir: Option<&std::path::Path>) {
        let (ecs, zone) = (&self.ecs, &self.zone);
        self.cycles = self
            .ids
            .iter()
            .map(|me| cycle(ecs, zone, me, dir))
            .collect();
        for t in self.trackers.iter_mut() {
            *t = Some(DeadTracker::new(Duration::from_secs(60), Duration::MAX));
        }
    }

    fn calls(&self) -> usize {
        let (lists, describes) = self.ecs.calls();
        lists + describes
    }

    /// One cycle of every agent; returns (ECS calls made, the ids that judged as janitor).
    async fn cycle(&mut self) -> (usize, Vec<String>) {
        self.cycle_of(0..AGENTS).await
    }

    /// One cycle of the agents `which`.
    async fn cycle_of(&mut self, which: std::ops::Range<usize>) -> (usize, Vec<String>) {
        let before = self.calls();
        let mut judged = Vec::new();
        for i in which {
            let tracker = self.trackers[i].take().unwrap();
            let weak = self.writer.clone().recipient().downgrade();
            let (tracker, report) = cycle::run(self.cycles[i].clone(), tracker, weak).await;
            self.trackers[i] = Some(tracker);
            if matches!(report, Report::Done(_)) {
                judged.push(self.ids[i].clone());
            }
        }
        (self.calls() - before, judged)
    }
}

/// A full election in this cluster: ACTIVE (3 pages) and DRAINING (1 page) listed, the lowest 100 described.
const FULL: usize = 3 + 1 + 1;

#[actix_rt::test]
async fn three_hundred_agents_make_about_half_an_ecs_call_each_per_cycle_and_a_deputy_takes_over() {
    let mut f = Fleet::new();
    let (first, judged) = f.cycle().await;
    assert_eq!(
        first,
        AGENTS * FULL,
        "every agent's first cycle is a full election"
    );
    assert_eq!(judged, [f.ids[0].clone()]);

    let steady_cycles = 10;
    let mut steady = 0;
    for _ in 0..steady_cycles {
        let (calls, judged) = f.cycle().await;
        assert_eq!(judged, [f.ids[0].clone()], "one janitor, the lowest");
        steady += calls;
    }
    let followers = AGENTS - 1 - DEPUTIES;
    let checks = followers * steady_cycles / spacing(AGENTS) as usize;
    assert_eq!(steady, steady_cycles * (FULL + DEPUTIES) + checks);
    let per_agent = steady as f64 / (steady_cycles * AGENTS) as f64;
    assert!(
        per_agent < 0.6,
        "{per_agent:.2} ECS calls per agent per cycle (was {FULL})"
    );

    // The janitor's agent is gone: its first deputy sees it at its next cycle and judges in its place.
    f.ecs.set(&f.ids[0], "ACTIVE", false);
    let (_, judged) = f.cycle().await;
    assert_eq!(judged, [f.ids[1].clone()]);
    let (_, judged) = f.cycle().await;
    assert_eq!(judged, [f.ids[1].clone()], "and stays the janitor");
}

#[actix_rt::test]
async fn an_agent_that_could_not_announce_at_its_first_election_takes_over_once_it_can() {
    let mut f = Fleet::with_first_announced(false);
    let (_, judged) = f.cycle_of(1..AGENTS).await;
    assert_eq!(judged, [f.ids[1].clone()], "the lowest candidate so far");
    // The lowest agent's first cycle: PutAttributes is refused, so it follows the one elected.
    f.ecs.deny_attributes(true);
    let (_, judged) = f.cycle_of(0..1).await;
    assert!(judged.is_empty());
    f.ecs.deny_attributes(false);
    for _ in 0..3 {
        let (_, judged) = f.cycle().await;
        assert_eq!(
            judged,
            [f.ids[0].clone()],
            "once announced it is the janitor: nobody is left without one"
        );
    }
}

#[actix_rt::test]
async fn deputies_know_their_rank_when_the_janitor_is_the_last_id_of_a_describe_chunk() {
    // Instances 1..=99 run no agent: the janitor is the 100th id, its deputies are in the next chunk.
    let mut f = Fleet::with_plain_below(99, true);
    let (_, judged) = f.cycle_of(99..AGENTS).await;
    assert_eq!(judged, [f.ids[99].clone()]);
    for (i, rank) in [(100, 1), (101, 2), (102, 3)] {
        let s = f.cycles[i].standing.borrow().clone().unwrap();
        assert_eq!(s.rank, Some(rank), "{}", f.ids[i]);
    }
    // So they check on it every cycle, and one takes over at once when it dies.
    f.ecs.set(&f.ids[99], "ACTIVE", false);
    let (_, judged) = f.cycle_of(99..AGENTS).await;
    assert_eq!(judged, [f.ids[100].clone()]);
}

#[actix_rt::test]
async fn with_no_candidate_anywhere_a_few_agents_a_cycle_elect_instead_of_all() {
    // Nobody is a candidate, and nobody can announce (ecs:PutAttributes denied fleet-wide).
    let mut f = Fleet::with_plain_below(AGENTS, true);
    f.ecs.deny_attributes(true);
    let (first, judged) = f.cycle().await;
    assert!(judged.is_empty());
    // 3 + 1 list pages, 3 describes (every id: nobody wins).
    assert_eq!(
        first,
        AGENTS * 7,
        "every agent's first cycle is a full election"
    );
    let mut steady = 0;
    for _ in 0..10 {
        steady += f.cycle().await.0;
    }
    let per_cycle = steady as f64 / 10.0;
    let expected = 7.0 * AGENTS as f64 / super::standing::spacing_without_janitor(AGENTS) as f64;
    assert!(
        per_cycle <= expected * 1.5 + 7.0,
        "{per_cycle} ECS calls a cycle fleet-wide (was {})",
        AGENTS * 7
    );
}

#[actix_rt::test]
async fn a_restarted_fleet_resumes_its_standings_instead_of_electing_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fleet::new();
    f.restart(Some(dir.path()));
    assert_eq!(
        f.cycle().await.0,
        AGENTS * FULL,
        "first start: full elections"
    );
    f.restart(Some(dir.path()));
    let followers = AGENTS - 1 - DEPUTIES;
    let mut calls = 0;
    for _ in 0..spacing(AGENTS) {
        let (c, judged) = f.cycle().await;
        assert_eq!(judged, [f.ids[0].clone()], "the janitor stays the janitor");
        calls += c;
    }
    let cycles = spacing(AGENTS) as usize;
    assert_eq!(
        calls,
        cycles * (FULL + DEPUTIES) + followers,
        "as at steady state: every follower checks once per spacing (was {} a cycle)",
        AGENTS * FULL
    );
    // Without the state directory the restart elects in full again.
    f.restart(None);
    assert_eq!(f.cycle().await.0, AGENTS * FULL);
}

#[actix_rt::test]
async fn a_first_start_that_overruns_the_ecs_bucket_dies_out_instead_of_sustaining_itself() {
    tokio::time::pause();
    let mut f = Fleet::new();
    // The account's cluster-read bucket, scaled to this cluster: 600 calls a 300 s cycle for a fleet whose first
    // cycle asks for 1 500 (every agent elects in full).
    f.ecs
        .set_account_bucket(crate::testkit::bucket::virtual_bucket(2.0, 10));
    // One cycle of every agent, spread over the interval (the janitor's first cycle is uniform in it).
    async fn spread(f: &mut Fleet) -> usize {
        let before = f.calls();
        for i in 0..AGENTS {
            tokio::time::sleep(Duration::from_secs(1)).await;
            f.cycle_of(i..i + 1).await;
        }
        f.calls() - before
    }
    let mut last = 0;
    for _ in 0..8 {
        last = spread(&mut f).await;
    }
    let without = |f: &Fleet| {
        f.cycles
            .iter()
            .filter(|c| c.standing.borrow().is_none())
            .count()
    };
    // Measured: 12 of 300 still without after 8 cycles (before the holds: 298, every cycle).
    assert!(
        without(&f) < AGENTS / 10,
        "{} still without a standing",
        without(&f)
    );
    let steady = FULL + DEPUTIES + (AGENTS - 1 - DEPUTIES) / spacing(AGENTS) as usize;
    assert!(
        last <= steady * 2,
        "{last} ECS calls (with throttled ones) in the 8th cycle (before the holds: 900); steady state is {steady}"
    );
    for _ in 0..32 {
        spread(&mut f).await;
    }
    assert_eq!(
        without(&f),
        0,
        "the last ones elect within the longest hold"
    );
}
