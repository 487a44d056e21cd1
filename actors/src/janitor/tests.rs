//! Tests of the janitor's cycle and actor against the in-memory ECS and Route53 fakes, with a stand-in writer
//! that applies purges to the fake zone. The states moto cannot express (an agent that disconnects and comes
//! back under the same id, an INACTIVE instance) are covered here.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::cycle::{self, Cycle, Report};
use super::fake::FakeEcs;
use super::tracker::DeadTracker;
use super::{Apis, JanitorActor, JanitorConfig};
use crate::core::plan::Change;
use crate::core::record::{Record, RecordValue};
use crate::health::HealthState;
use crate::metrics::{JanitorCounters, Metrics};
use crate::route53::api::DnsApi;
use crate::route53::fake::FakeRoute53;
use crate::route53::{Purge, PurgeOutcome};

/// The region and account of the cluster in these tests.
const SCOPE: &str = "us-east-1.111122223333";

/// Container instance ids (32 hex digits, the shape ECS uses); `A` is the lowest.
const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccc";
const D: &str = "dddddddddddddddddddddddddddddddd";

/// Applies purges to the fake zone as one batch and remembers their sizes.
struct Writer {
    zone: Rc<FakeRoute53>,
    batches: Rc<RefCell<Vec<usize>>>,
}

impl Actor for Writer {
    type Context = Context<Self>;
}

impl Handler<Purge> for Writer {
    type Result = ResponseFuture<PurgeOutcome>;

    fn handle(&mut self, msg: Purge, _ctx: &mut Context<Self>) -> Self::Result {
        let (zone, batches) = (self.zone.clone(), self.batches.clone());
        Box::pin(async move {
            let changes: Vec<Change> = msg.records.into_iter().map(Change::Delete).collect();
            batches.borrow_mut().push(changes.len());
            match zone.change("Z1", &changes).await {
                Ok(()) => PurgeOutcome {
                    removed: changes.len(),
                    ..PurgeOutcome::default()
                },
                Err(e) => PurgeOutcome {
                    kept: changes.len(),
                    error: Some(e.to_string()),
                    ..PurgeOutcome::default()
                },
            }
        })
    }
}

struct World {
    ecs: Rc<FakeEcs>,
    zone: Rc<FakeRoute53>,
    batches: Rc<RefCell<Vec<usize>>>,
    writer: Addr<Writer>,
    health: Arc<HealthState>,
    /// `janitor.max_owners_per_cycle`.
    max_owners: usize,
}

/// A tracker with grace `grace` and no limit on the time between sightings.
fn new_tracker(grace: Duration) -> DeadTracker {
    DeadTracker::new(grace, Duration::MAX)
}

fn rec(name: &str, id: &str, n: u8) -> Record {
    Record::new(
        name.into(),
        id.into(),
        RecordValue::A([10, 0, 0, n].into()),
        60,
        1,
    )
}

/// Instances a (lowest), b, c, d in cluster `prod`; records of each of them, of another cluster, and a foreign
/// one, all under the same names.
async fn world() -> World {
    let ecs = Rc::new(FakeEcs::new("prod", 2));
    for id in [A, B, C, D] {
        ecs.register_candidate(id, "Z1");
    }
    let zone = Rc::new(FakeRoute53::new("Z1", "z."));
    let mut ups = Vec::new();
    for (i, owner) in [A, B, C, D].iter().enumerate() {
        let i = i as u8;
        ups.push(rec(
            "web.z.",
            &format!("r53d:prod@{SCOPE}:{owner}:t-{i}1"),
            10 + i,
        ));
        ups.push(rec(
            "api.z.",
            &format!("r53d:prod@{SCOPE}:{owner}:t-{i}2"),
            20 + i,
        ));
    }
    ups.push(rec("web.z.", &format!("r53d:staging:{C}:t-91"), 91));
    ups.push(rec("web.z.", &format!("r53d:prod-2:{C}:t-92"), 92));
    ups.push(rec("web.z.", "hand-made", 93));
    let ups: Vec<Change> = ups.into_iter().map(Change::Upsert).collect();
    zone.change("Z1", &ups).await.unwrap();
    let batches = Rc::new(RefCell::new(Vec::new()));
    let writer = Writer {
        zone: zone.clone(),
        batches: batches.clone(),
    }
    .start();
    World {
        ecs,
        zone,
        batches,
        writer,
        health: Arc::new(HealthState::default()),
        max_owners: 5,
    }
}

impl World {
    /// The instance under `id` is terminated and its agent is disconnected (ECS has not marked it INACTIVE yet).
    fn gone_disconnected(&self, id: &str) {
        self.ecs.set(id, "ACTIVE", false);
        self.ecs.set_ec2(id, Some("terminated"));
    }

    fn cycle(&self, me: &str) -> Rc<Cycle> {
        Rc::new(Cycle {
            ecs: self.ecs.clone(),
            ec2: self.ecs.clone(),
            dns: self.zone.clone() as Rc<dyn DnsApi>,
            cluster: "prod".into(),
            scope: Some(SCOPE.into()),
            zone_id: "Z1".into(),
            me: me.into(),
            health: self.health.clone(),
            max_owners: self.max_owners,
            zone_pace: Duration::ZERO,
            announced: std::cell::Cell::new(false),
            standing: std::cell::RefCell::new(None),
            store: None,
            held: Default::default(),
        })
    }

    async fn run(&self, me: &str, tracker: DeadTracker) -> (DeadTracker, Report) {
        let weak = self.writer.clone().recipient().downgrade();
        cycle::run(self.cycle(me), tracker, weak).await
    }

    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .zone
            .sets()
            .into_iter()
            .filter_map(|s| s.set_identifier)
            .collect();
        ids.sort();
        ids
    }
}

fn owners_left(ids: &[String]) -> Vec<&str> {
    let mut o: Vec<&str> = ids
        .iter()
        .filter_map(|i| i.strip_prefix(&format!("r53d:prod@{SCOPE}:")))
        .map(|rest| rest.split(':').next().unwrap())
        .collect();
    o.dedup();
    o
}

#[actix_rt::test]
async fn the_elected_janitor_purges_exactly_the_dead_owners_records() {
    let w = world().await;
    let before = w.ids();
    // One owner at a time (more at once trips the brake): INACTIVE, unknown to ECS, disconnected.
    let mut tracker = new_tracker(Duration::ZERO);
    let kills: [&dyn Fn(); 3] = [
        &|| w.ecs.set(B, "INACTIVE", false),
        &|| w.ecs.remove(C),
        &|| w.gone_disconnected(D),
    ];
    for (n, kill) in kills.iter().enumerate() {
        kill();
        let (t, report) = w.run(A, tracker).await;
        tracker = t;
        let Report::Done(done) = report else {
            panic!("{report:?}")
        };
        assert_eq!((done.doomed.len(), done.braked.len()), (1, 0), "cycle {n}");
        assert_eq!(done.purge.unwrap().removed, 2);
    }
    assert_eq!(*w.batches.borrow(), vec![2, 2, 2], "one batch a cycle");
    let after = w.ids();
    assert_eq!(owners_left(&after), [A], "its own records stay");
    assert_eq!(before.len() - after.len(), 6);
    let others = [
        format!("r53d:staging:{C}:t-91"),
        format!("r53d:prod-2:{C}:t-92"),
    ];
    for kept in others.iter().map(String::as_str).chain(["hand-made"]) {
        assert!(after.iter().any(|i| i == kept), "{kept} was touched");
    }
    assert_eq!(w.zone.list_requests(), 3, "the zone is read once a cycle");
}

/// Three of four owners look dead at once: more than a quarter of the cluster, so the brake holds them all, every
/// cycle, and nothing is deleted.
#[actix_rt::test]
async fn many_owners_dead_at_once_trip_the_brake_and_nothing_is_purged() {
    let w = world().await;
    w.ecs.set(B, "INACTIVE", false);
    w.ecs.remove(C);
    w.gone_disconnected(D);
    let before = w.ids();
    let mut tracker = new_tracker(Duration::ZERO);
    for _ in 0..2 {
        let (t, report) = w.run(A, tracker).await;
        tracker = t;
        let Report::Done(done) = report else {
            panic!("{report:?}")
        };
        assert_eq!(
            done.braked,
            vec![B.to_string(), C.to_string(), D.to_string()]
        );
        assert_eq!((done.limit, done.doomed.len()), (1, 0));
        assert!(done.purge.is_none(), "nothing sent");
    }
    assert_eq!(w.ids(), before, "nothing deleted");
    assert!(w.batches.borrow().is_empty());
}

/// An incident that unfolds over two cycles: the first owner's grace is over while the others' still runs. The
/// brake counts them all, so it does not trickle away one owner a cycle.
#[actix_rt::test]
async fn the_brake_counts_owners_whose_grace_still_runs() {
    let w = world().await;
    let before = w.ids();
    w.ecs.set(B, "INACTIVE", false);
    let (tracker, _) = w.run(A, new_tracker(Duration::from_millis(50))).await;
    w.ecs.remove(C);
    w.gone_disconnected(D);
    actix_rt::time::sleep(Duration::from_millis(80)).await;
    let (_, report) = w.run(A, tracker).await;
    let Report::Done(done) = report else {
        panic!("{report:?}")
    };
    assert_eq!(
        done.observed.due,
        vec![B.to_string()],
        "only b's grace is over"
    );
    assert_eq!((done.braked.len(), done.seen_dead, done.limit), (1, 3, 1));
    assert_eq!(w.ids(), before, "nothing deleted");
}

#[actix_rt::test]
async fn owners_that_are_not_container_instance_ids_are_never_judged() {
    let w = world().await;
    let custom = rec("web.z.", "r53d:prod:host-1:t-77", 77);
    w.zone
        .change("Z1", &[Change::Upsert(custom)])
        .await
        .unwrap();
    let (tracker, report) = w.run(A, new_tracker(Duration::ZERO)).await;
    let Report::Done(done) = report else {
        panic!("{report:?}")
    };
    assert!(done.observed.newly_dead.is_empty() && tracker.pending().is_empty());
    assert!(w.ids().contains(&"r53d:prod:host-1:t-77".to_string()));
    assert_eq!(w.ecs.calls().1, 1, "no describe of host-1");
}

#[actix_rt::test]
async fn a_non_elected_agent_reads_no_zone_and_deletes_nothing() {
    let w = world().await;
    w.ecs.remove(C);
    let (tracker, report) = w.run(B, new_tracker(Duration::ZERO)).await;
    assert!(
        matches!(&report, Report::NotElected { janitor: Some(j), listed: true } if j == A),
        "{report:?}"
    );
    assert!(tracker.pending().is_empty());
    assert_eq!(w.zone.list_requests(), 0);
    assert!(w.batches.borrow().is_empty());
    let (_, report) = w.run("zz", new_tracker(Duration::ZERO)).await;
    assert!(matches!(report, Report::NotElected { listed: false, .. }));
}

#[actix_rt::test]
async fn the_election_pages_and_describes_lowest_ids_first_until_one_is_connected() {
    let mut w = world().await;
    w.ecs = Rc::new(FakeEcs::new("prod", 100));
    for i in 0..250 {
        w.ecs.register_candidate(&format!("{i:032x}"), "Z1");
        w.ecs.set(&format!("{i:032x}"), "ACTIVE", i >= 120);
    }
    let id = |i: u32| format!("{i:032x}");
    let (_, report) = w.run(&id(121), new_tracker(Duration::ZERO)).await;
    assert!(
        matches!(&report, Report::NotElected { janitor: Some(j), .. } if *j == id(120)),
        "{report:?}"
    );
    assert_eq!(
        w.ecs.calls(),
        (4, 2),
        "3 + 1 pages; 2 of 3 chunks described"
    );
    let (_, report) = w.run(&id(120), new_tracker(Duration::ZERO)).await;
    assert!(matches!(report, Report::Done(_)), "{report:?}");
}

#[actix_rt::test]
async fn when_the_janitors_agent_disconnects_the_next_instance_takes_over() {
    let w = world().await;
    w.gone_disconnected(A);
    w.ecs.set(B, "DRAINING", true);
    let (_, report) = w.run(B, new_tracker(Duration::from_secs(3600))).await;
    let Report::Done(done) = report else {
        panic!("{report:?}")
    };
    assert_eq!(done.observed.newly_dead.len(), 1, "a is seen dead");
    assert!(done.purge.is_none(), "but not before the grace period");
}

#[actix_rt::test]
async fn two_agents_running_cycles_concurrently_purge_once_without_conflicts() {
    let w = world().await;
    w.ecs.set(D, "INACTIVE", false);
    let ((_, ra), (_, rb)) = futures::join!(
        w.run(A, new_tracker(Duration::ZERO)),
        w.run(B, new_tracker(Duration::ZERO))
    );
    assert!(matches!(ra, Report::Done(_)), "{ra:?}");
    assert!(matches!(rb, Report::NotElected { .. }), "{rb:?}");
    assert_eq!(*w.batches.borrow(), vec![2]);
    assert_eq!(
        w.zone.change_requests().len(),
        2,
        "the set-up and one purge"
    );
    assert_eq!(owners_left(&w.ids()), [A, B, C]);
}

#[actix_rt::test]
async fn an_agent_that_disconnects_briefly_keeps_its_records() {
    let w = world().await;
    let grace = Duration::from_millis(300);
    // Its instance stopped (agent disconnected, EC2 stopped), then started again under the same id.
    w.ecs.set(C, "ACTIVE", false);
    w.ecs.set_ec2(C, Some("stopped"));
    let (tracker, _) = w.run(A, new_tracker(grace)).await;
    assert_eq!(tracker.pending().into_iter().collect::<Vec<_>>(), [C]);
    w.ecs.set(C, "ACTIVE", true);
    w.ecs.set_ec2(C, Some("running"));
    actix_rt::time::sleep(grace).await;
    let (tracker, report) = w.run(A, tracker).await;
    let Report::Done(done) = report else {
        panic!("{report:?}")
    };
    assert_eq!(done.observed.back_alive, [C]);
    w.ecs.set(C, "ACTIVE", false);
    w.ecs.set_ec2(C, Some("stopped"));
    let (_, report) = w.run(A, tracker).await;
    let Report::Done(done) = report else {
        panic!("{report:?}")
    };
    assert!(done.purge.is_none(), "the grace period starts over");
    assert_eq!(owners_left(&w.ids()), [A, B, C, D]);
}

#[actix_rt::test]
async fn a_skipped_cycle_or_a_lost_election_starts_every_clock_over() {
    let w = world().await;
    w.ecs.set(D, "INACTIVE", false);
    let (tracker, _) = w.run(A, new_tracker(Duration::from_secs(3600))).await;
    assert_eq!(tracker.pending().into_iter().collect::<Vec<_>>(), [D]);
    w.ecs.set_down(true);
    let (tracker, report) = w.run(A, tracker).await;
    assert!(matches!(report, Report::Skipped(_)), "{report:?}");
    assert!(
        tracker.pending().is_empty(),
        "ECS failed: no vouching for D meanwhile"
    );
    w.ecs.set_down(false);
    let (tracker, report) = w.run(A, tracker).await;
    let Report::Done(done) = report else {
        panic!("{report:?}")
    };
    assert_eq!(done.observed.newly_dead.len(), 1, "a new clock for D");
    w.ecs.set(A, "ACTIVE", false);
    let (tracker, report) = w.run(A, tracker).await;
    assert!(matches!(report, Report::NotElected { .. }), "{report:?}");
    assert!(tracker.pending().is_empty(), "lost the election");
}

#[actix_rt::test]
async fn a_cycle_that_finds_the_agent_draining_reads_no_page_and_sends_no_purge() {
    let w = world().await;
    w.ecs.set(D, "INACTIVE", false);
    w.health.set_draining();
    let before = w.zone.list_requests();
    let (_, report) = w.run(A, new_tracker(Duration::ZERO)).await;
    assert!(
        matches!(&report, Report::ZoneUnreadable(e) if e.to_string().contains("draining")),
        "{report:?}"
    );
    assert_eq!(
        w.zone.list_requests(),
        before,
        "no page read while draining"
    );
    assert!(w.batches.borrow().is_empty(), "nothing reached the writer");
    assert_eq!(owners_left(&w.ids()), [A, B, C, D]);
}

#[actix_rt::test]
async fn with_ecs_unreachable_the_cycle_is_skipped_before_anything_is_read() {
    let w = world().await;
    w.ecs.set_down(true);
    let (_, report) = w.run(A, new_tracker(Duration::ZERO)).await;
    assert!(
        matches!(&report, Report::Skipped(e) if e.is_transient()),
        "{report:?}"
    );
    assert_eq!(w.zone.list_requests(), 0);
    assert_eq!(w.ids().len(), 11);
}

#[path = "actor_tests.rs"]
mod actor;
