//! Tests of the janitor's cycle and actor against the in-memory EC2 and Route53 fakes: who is judged, the grace,
//! the brake, EC2 failing, two janitors at once, and a stop in the middle of a cycle.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::cycle::{self, Cycle, Done, Report};
use super::fake::FakeEc2;
use super::tracker::DeadTracker;
use super::{Apis, JanitorActor, JanitorConfig};
use crate::core::plan::Change;
use crate::core::record::{Record, RecordValue};
use crate::event_watcher::Drain;
use crate::health::HealthState;
use crate::messages::probe::Probe;
use crate::metrics::Metrics;
use crate::route53::api::{DnsApi, DnsError, ListPage, ListStart};
use crate::route53::fake::FakeRoute53;

/// The region and account of the cluster in these tests.
const SCOPE: &str = "us-east-1.111122223333";

/// Owners: EC2 instances A to D, an ECS Anywhere host and an owner id given by configuration.
const A: &str = "i-0aaaaaaaaaaaaaaaa";
const B: &str = "i-0bbbbbbbbbbbbbbbb";
const C: &str = "i-0cccccccccccccccc";
const D: &str = "i-0dddddddddddddddd";
const ANYWHERE: &str = "mi-0123456789abcdef0";
const CONFIGURED: &str = "host-1~0a1b2c3d";

struct World {
    ec2: Rc<FakeEc2>,
    zone: Rc<FakeRoute53>,
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

/// Every owner running, two records each under the same names; records of C in another cluster, another scope
/// and the legacy format, and a foreign one.
async fn world() -> World {
    let ec2 = Rc::new(FakeEc2::new(2));
    for id in [A, B, C, D] {
        ec2.set(id, Some("running"));
    }
    let zone = Rc::new(FakeRoute53::new("Z1", "z."));
    let mut ups = Vec::new();
    for (i, owner) in [A, B, C, D, ANYWHERE, CONFIGURED].iter().enumerate() {
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
    ups.push(rec("web.z.", &format!("r53d:staging@{SCOPE}:{C}:t-91"), 91));
    ups.push(rec(
        "web.z.",
        &format!("r53d:prod@us-west-2.111122223333:{C}:t-92"),
        92,
    ));
    ups.push(rec("web.z.", &format!("r53d:prod:{C}:t-93"), 93));
    ups.push(rec("web.z.", "hand-made", 94));
    let ups: Vec<Change> = ups.into_iter().map(Change::Upsert).collect();
    zone.change("Z1", &ups).await.unwrap();
    World {
        ec2,
        zone,
        health: Arc::new(HealthState::default()),
        max_owners: 5,
    }
}

impl World {
    fn cycle(&self) -> Rc<Cycle> {
        self.cycle_through(self.zone.clone())
    }

    /// A cycle that talks to the zone through `dns`.
    fn cycle_through(&self, dns: Rc<dyn DnsApi>) -> Rc<Cycle> {
        Rc::new(Cycle {
            ec2: self.ec2.clone(),
            dns,
            cluster: "prod".into(),
            scope: SCOPE.into(),
            zone_id: "Z1".into(),
            health: self.health.clone(),
            max_owners: self.max_owners,
            zone_pace: Duration::ZERO,
        })
    }

    async fn run(&self, tracker: DeadTracker) -> (DeadTracker, Done) {
        match cycle::run(self.cycle(), tracker).await {
            (t, Report::Done(done)) => (t, *done),
            (_, r) => panic!("{r:?}"),
        }
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

/// The owners with records left in this cluster and scope.
fn owners_left(ids: &[String]) -> Vec<&str> {
    let mut owners: Vec<&str> = ids
        .iter()
        .filter_map(|id| id.strip_prefix(&format!("r53d:prod@{SCOPE}:")))
        .filter_map(|rest| rest.split(':').next())
        .collect();
    owners.dedup();
    owners
}

#[actix_rt::test]
async fn a_host_unknown_to_ec2_loses_its_records_after_the_grace_and_nothing_else() {
    let w = world().await;
    w.ec2.set(C, None);
    let before = w.ids();
    let (t, first) = w.run(new_tracker(Duration::from_millis(1))).await;
    assert_eq!(
        first.observed.newly_dead,
        [(C.to_string(), "no such EC2 instance")]
    );
    assert!(
        first.purge.is_none(),
        "the grace starts at the first sighting"
    );
    assert_eq!(
        (first.owners, first.unjudged),
        (6, 2),
        "ECS Anywhere and a configured id"
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, second) = w.run(t).await;
    let p = second.purge.as_ref().expect("purged");
    assert_eq!((p.removed, p.already_gone, p.kept), (2, 0, 0));
    assert_eq!(second.owners_purged(), 1);
    let left = w.ids();
    assert_eq!(left.len(), before.len() - 2);
    assert_eq!(owners_left(&left), [CONFIGURED, A, B, D, ANYWHERE]);
    for other in ["staging@", "us-west-2", "r53d:prod:i-0c", "hand-made"] {
        assert!(left.iter().any(|s| s.contains(other)), "{other} went");
    }
}

#[actix_rt::test]
async fn a_host_back_within_the_grace_or_unjudged_in_between_keeps_its_records() {
    let w = world().await;
    let before = w.ids();
    w.ec2.set(B, Some("stopped"));
    let (t, _) = w.run(new_tracker(Duration::from_millis(1))).await;
    w.ec2.set(B, Some("pending"));
    let (t, back) = w.run(t).await;
    assert_eq!(back.observed.back_alive, [B]);
    w.ec2.set(B, Some("stopped"));
    let (t, _) = w.run(t).await;
    w.ec2.set(B, Some("stopping"));
    let (t, unsure) = w.run(t).await;
    assert_eq!(
        unsure.observed.unknown,
        [B],
        "a settling state is no verdict"
    );
    w.ec2.set(B, Some("stopped"));
    let (t, _) = w.run(t).await;
    w.ec2.set_down(true);
    let (_, failed) = w.run(t).await;
    assert!(failed.ec2_error.is_some() && failed.purge.is_none());
    assert_eq!(w.ids(), before, "never dead on consecutive judged cycles");
}

#[actix_rt::test]
async fn many_owners_dead_at_once_trip_the_brake_and_nothing_is_purged() {
    let mut w = world().await;
    w.max_owners = 1;
    for id in [B, C] {
        w.ec2.set(id, Some("terminated"));
    }
    let before = w.ids();
    let (t, _) = w.run(new_tracker(Duration::ZERO)).await;
    let (_, done) = w.run(t).await;
    assert_eq!(done.braked.len(), 2, "{done:?}");
    assert_eq!((done.limit, done.seen_dead), (1, 2));
    assert!(done.purge.is_none());
    assert_eq!(w.ids(), before);
}

#[actix_rt::test]
async fn an_unreadable_zone_skips_the_cycle_and_starts_every_clock_over() {
    let w = world().await;
    w.ec2.set(B, Some("terminated"));
    let (t, _) = w.run(new_tracker(Duration::from_millis(1))).await;
    w.zone.fail_next([crate::route53::api::DnsError::Permanent {
        code: "AccessDenied".into(),
        message: "no".into(),
    }]);
    let (t, r) = cycle::run(w.cycle(), t).await;
    assert!(matches!(r, Report::ZoneUnreadable(_)), "{r:?}");
    assert!(t.pending().is_empty());
    let (_, again) = w.run(t).await;
    assert!(again.purge.is_none() && again.observed.newly_dead.len() == 1);
}

/// The zone, letting other tasks run after each answer: two janitors' reads both come before either's deletes.
struct Interleaved(Rc<FakeRoute53>);

#[async_trait::async_trait(?Send)]
impl DnsApi for Interleaved {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.0.zone_name(zone_id).await
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.0.change(zone_id, changes).await
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max: i32,
    ) -> Result<ListPage, DnsError> {
        let page = self.0.list(zone_id, start, max).await;
        tokio::task::yield_now().await;
        page
    }
}

#[actix_rt::test]
async fn two_janitors_at_once_remove_each_record_once_and_touch_nothing_live() {
    let w = world().await;
    w.ec2.set(B, Some("terminated"));
    let grace = Duration::from_millis(1);
    let one = w.cycle_through(Rc::new(Interleaved(w.zone.clone())));
    let two = w.cycle_through(Rc::new(Interleaved(w.zone.clone())));
    let ((t1, _), (t2, _)) = futures::join!(
        cycle::run(one.clone(), new_tracker(grace)),
        cycle::run(two.clone(), new_tracker(grace))
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let ((_, r1), (_, r2)) = futures::join!(cycle::run(one, t1), cycle::run(two, t2));
    let outcome = |r: Report| match r {
        Report::Done(d) => d.purge.expect("both purged"),
        r => panic!("{r:?}"),
    };
    let (p1, p2) = (outcome(r1), outcome(r2));
    assert_eq!((p1.removed, p1.already_gone), (2, 0), "{p1:?}");
    assert_eq!(
        (p2.removed, p2.already_gone, p2.kept),
        (0, 2, 0),
        "the other one was first: {p2:?}"
    );
    assert!(p1.error.is_none() && p2.error.is_none());
    assert_eq!(owners_left(&w.ids()), [CONFIGURED, A, C, D, ANYWHERE]);
}

#[actix_rt::test]
async fn a_cycle_that_finds_the_janitor_stopping_reads_no_page_and_sends_no_purge() {
    let w = world().await;
    w.ec2.set(B, Some("terminated"));
    let (t, _) = w.run(new_tracker(Duration::ZERO)).await;
    let lists = w.zone.list_requests();
    w.health.set_draining();
    let (_, r) = cycle::run(w.cycle(), t).await;
    assert!(matches!(r, Report::ZoneUnreadable(_)), "{r:?}");
    assert_eq!(w.zone.list_requests(), lists, "no page after the stop");
    assert!(owners_left(&w.ids()).contains(&B));
}

/// The zone, starting the process's stop once its last page is served: the read completes, the purge must not go.
struct StopAfterRead(Rc<FakeRoute53>, Arc<HealthState>);

#[async_trait::async_trait(?Send)]
impl DnsApi for StopAfterRead {
    async fn zone_name(&self, zone_id: &str) -> Result<String, DnsError> {
        self.0.zone_name(zone_id).await
    }

    async fn change(&self, zone_id: &str, changes: &[Change]) -> Result<(), DnsError> {
        self.0.change(zone_id, changes).await
    }

    async fn list(
        &self,
        zone_id: &str,
        start: Option<&ListStart>,
        max: i32,
    ) -> Result<ListPage, DnsError> {
        let page = self.0.list(zone_id, start, max).await;
        if page.as_ref().is_ok_and(|p| p.next.is_none()) {
            self.1.set_draining();
        }
        page
    }
}

#[actix_rt::test]
async fn a_stop_that_comes_after_the_read_sends_no_purge() {
    let w = world().await;
    w.ec2.set(B, Some("terminated"));
    let (t, _) = w.run(new_tracker(Duration::from_millis(1))).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let changes = w.zone.change_requests().len();
    let c = w.cycle_through(Rc::new(StopAfterRead(w.zone.clone(), w.health.clone())));
    let (_, r) = cycle::run(c, t).await;
    let Report::Done(done) = r else {
        panic!("{r:?}")
    };
    assert_eq!(done.doomed.len(), 1, "B was due");
    let p = done.purge.expect("a purge outcome");
    assert!(
        p.error.as_deref().is_some_and(|e| e.contains("stopping")),
        "{p:?}"
    );
    assert_eq!((p.removed, p.kept), (0, 2));
    assert_eq!(w.zone.change_requests().len(), changes, "nothing sent");
    assert!(owners_left(&w.ids()).contains(&B));
}

fn actor(w: &World, probe: &Probe, interval: Duration) -> Addr<JanitorActor> {
    let config = JanitorConfig {
        cluster: "prod".into(),
        scope: SCOPE.into(),
        zone_id: "Z1".into(),
        interval,
        first_within: Duration::ZERO,
        grace: Duration::from_millis(1),
        max_owners_per_cycle: 5,
        zone_pace: Duration::ZERO,
    };
    let apis = Apis {
        ec2: w.ec2.clone(),
        dns: w.zone.clone(),
    };
    let stats = Metrics::default().janitor.clone();
    JanitorActor::new(config, apis, stats, w.health.clone(), probe.reporter()).start()
}

#[actix_rt::test]
async fn the_actor_cleans_in_cycles_and_stops_at_once_when_drained_between_them() {
    let w = world().await;
    w.ec2.set(D, None);
    let probe = Probe::default();
    let janitor = actor(&w, &probe, Duration::from_millis(20));
    for _ in 0..100 {
        if !owners_left(&w.ids()).contains(&D) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!owners_left(&w.ids()).contains(&D), "D's records removed");
    janitor.send(Drain).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!janitor.connected(), "stopped");
    assert_eq!(probe.stopped("janitor"), 1, "reported to the supervisor");
}
