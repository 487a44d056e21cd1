//! Actor tests of the watcher over the in-memory engine and zone ([`crate::testkit`]): the launch sync, listings
//! that overlap events, stream cuts and the drain.

use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use super::Resync;
use crate::core::ownership::InstanceId;
use crate::core::record::RecordSet;
use crate::route53::api::DnsError;
use crate::route53::fake::FakeRoute53;
use crate::route53::Flush;
use crate::testkit::agent::{owner, LABEL};
use crate::testkit::{task_arn, Agent, FakeEngine, Probe, TaskFault, Timing};

fn id(n: u8) -> String {
    format!("{n:02x}{}", "ab".repeat(31))
}

fn sid(n: u8) -> String {
    let task = InstanceId::from_task_arn(&task_arn(&id(n))).unwrap();
    owner().set_identifier(&task)
}

/// The record an earlier agent left for container `n`.
fn inherited(n: u8, ip: &str) -> RecordSet {
    RecordSet {
        name: "web.example.com.".into(),
        record_type: "A".into(),
        set_identifier: Some(sid(n)),
        weight: Some(1),
        ttl: Some(60),
        values: vec![ip.into()],
        has_extras: false,
    }
}

/// SetIdentifier → value of every record in the zone.
fn zone_view(zone: &FakeRoute53) -> Vec<(String, String)> {
    let sets = zone.sets().into_iter();
    sets.map(|s| (s.set_identifier.unwrap_or_default(), s.values.join(",")))
        .collect()
}

struct World {
    engine: Rc<FakeEngine>,
    zone: Rc<FakeRoute53>,
    probe: Probe,
}

fn world() -> World {
    World {
        engine: Rc::new(FakeEngine::new()),
        zone: Rc::new(FakeRoute53::new("Z1", "example.com.")),
        probe: Probe::default(),
    }
}

impl World {
    fn start(&self, n: u8, ip: u8) {
        let addr = Ipv4Addr::new(10, 0, n, ip);
        self.engine.start(&id(n), &[(LABEL, "web")], addr, false);
    }

    fn agent(&self) -> Agent {
        Agent::start(
            &self.engine,
            &self.zone,
            &self.probe.reporter(),
            Timing::default(),
        )
    }
}

async fn sleep_ms(ms: u64) {
    actix_rt::time::sleep(Duration::from_millis(ms)).await;
}

#[actix_rt::test]
async fn a_container_that_dies_during_the_launch_lookups_loses_its_inherited_record() {
    let w = world();
    w.start(1, 5);
    w.start(2, 6);
    w.zone.insert(inherited(1, "10.0.1.5"));
    w.zone.insert(inherited(2, "10.0.2.6"));
    w.engine
        .task_fault(&id(1), Some(TaskFault::Slow(Duration::from_millis(300))));
    let agent = w.agent();
    sleep_ms(50).await;
    w.engine.die(&id(1));
    agent.ready().await;
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(zone_view(&w.zone), vec![(sid(2), "10.0.2.6".into())]);
}

#[actix_rt::test]
async fn a_container_started_during_a_listing_is_not_stopped_by_it() {
    let w = world();
    let agent = w.agent();
    agent.ready().await;
    w.engine.hold_listings();
    agent.watcher.do_send(Resync);
    sleep_ms(20).await;
    w.start(3, 7);
    sleep_ms(20).await;
    w.engine.release_listings();
    agent.watcher.send(Resync).await.unwrap();
    agent.pool.barrier().await.unwrap();
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(zone_view(&w.zone), vec![(sid(3), "10.0.3.7".into())]);
}

/// A container this agent could not look up keeps the record an earlier agent wrote (the launch listing protects
/// it); when it dies while a listing is under way, the listing's answer must not protect that record again.
#[actix_rt::test]
async fn a_container_that_died_during_a_listing_is_not_kept_by_it() {
    let w = world();
    w.start(4, 8);
    w.zone.insert(inherited(4, "10.0.4.8"));
    w.engine.task_fault(&id(4), Some(TaskFault::Fail(1000)));
    let agent = w.agent();
    agent.ready().await;
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(
        zone_view(&w.zone),
        vec![(sid(4), "10.0.4.8".into())],
        "kept while it runs"
    );
    w.engine.hold_listings();
    agent.watcher.do_send(Resync);
    sleep_ms(20).await;
    // Route53 throttles the delete, so the listing's answer comes while the record is still there.
    w.zone.fail_next([DnsError::Throttled {
        code: "Throttling".into(),
        message: "Rate exceeded".into(),
    }]);
    w.engine.die(&id(4));
    sleep_ms(20).await;
    w.engine.release_listings();
    sleep_ms(20).await;
    agent.pool.barrier().await.unwrap();
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(zone_view(&w.zone), vec![]);
}

/// A periodic listing is still under way when the stream is cut and the reconnect lists again; the reconnect's
/// answer comes first. The older answer, which predates a container's start, must not stop that container.
#[actix_rt::test]
async fn a_listing_that_answers_after_a_newer_one_is_dropped() {
    let w = world();
    let agent = w.agent();
    agent.ready().await;
    w.engine.hold_listings();
    agent.watcher.do_send(Resync);
    sleep_ms(20).await;
    w.start(9, 13);
    sleep_ms(20).await;
    w.engine.cut_streams();
    sleep_ms(50).await;
    w.engine.release_newest_listing();
    sleep_ms(20).await;
    w.engine.release_listings();
    sleep_ms(20).await;
    agent.pool.barrier().await.unwrap();
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(zone_view(&w.zone), vec![(sid(9), "10.0.9.13".into())]);
}

#[actix_rt::test]
async fn events_during_a_stream_cut_are_read_when_it_resumes() {
    let w = world();
    w.start(5, 9);
    let agent = w.agent();
    agent.ready().await;
    w.engine.cut_streams();
    w.engine.die(&id(5));
    w.start(6, 10);
    sleep_ms(100).await;
    agent.pool.barrier().await.unwrap();
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(zone_view(&w.zone), vec![(sid(6), "10.0.6.10".into())]);
}

#[actix_rt::test]
async fn a_drain_removes_tasks_stopping_with_the_agent_and_keeps_the_others() {
    let w = world();
    w.start(7, 11);
    w.start(8, 12);
    let agent = w.agent();
    agent.ready().await;
    agent.writer.send(Flush).await.unwrap();
    agent.watcher.do_send(super::Drain);
    w.engine.stop(&id(7));
    agent.drain(&w.probe).await;
    assert_eq!(zone_view(&w.zone), vec![(sid(8), "10.0.8.12".into())]);
    assert!(w.probe.failures().is_empty(), "{:?}", w.probe.failures());
}
