//! Actor tests of the watcher over the in-memory engine and zone ([`crate::testkit`]): the launch sync, listings
//! that overlap events or answer out of order, stream cuts and the drain.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::Resync;
use crate::route53::api::DnsError;
use crate::testkit::{container_id, set_identifier, sleep_ms, weighted_a, Host, TaskFault, Timing};

fn id(n: u8) -> String {
    container_id(n, "ab")
}

fn sid(n: u8) -> String {
    set_identifier(&id(n))
}

/// The record an earlier agent left for container `n`.
fn inherited(n: u8, ip: &str) -> crate::core::record::RecordSet {
    weighted_a("web.example.com.", &sid(n), 1, 60, ip)
}

fn start(h: &Host, n: u8, ip: u8) {
    h.start(&id(n), "web", Ipv4Addr::new(10, 0, n, ip));
}

#[actix_rt::test]
async fn a_container_that_dies_during_the_launch_lookups_loses_its_inherited_record() {
    let h = Host::default();
    start(&h, 1, 5);
    start(&h, 2, 6);
    h.zone.insert(inherited(1, "10.0.1.5"));
    h.zone.insert(inherited(2, "10.0.2.6"));
    h.engine
        .task_fault(&id(1), Some(TaskFault::Slow(Duration::from_millis(300))));
    let agent = h.agent(Timing::default());
    sleep_ms(50).await;
    h.engine.die(&id(1));
    agent.ready().await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![(sid(2), "10.0.2.6".into())]);
}

/// `docker stop` during the launch lookups: `kill`, `die`, then `stop` (which comes after the exit).
#[actix_rt::test]
async fn a_container_stopped_during_the_launch_lookups_loses_its_inherited_record() {
    let h = Host::default();
    start(&h, 12, 16);
    h.zone.insert(inherited(12, "10.0.12.16"));
    h.engine
        .task_fault(&id(12), Some(TaskFault::Slow(Duration::from_millis(300))));
    let agent = h.agent(Timing::default());
    sleep_ms(50).await;
    h.engine.stop(&id(12));
    agent.ready().await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![]);
}

#[actix_rt::test]
async fn a_container_started_during_a_listing_is_not_stopped_by_it() {
    let h = Host::default();
    let agent = h.agent(Timing::default());
    agent.ready().await;
    h.hold_a_listing(&agent).await;
    start(&h, 3, 7);
    sleep_ms(20).await;
    h.engine.release_listings();
    agent.watcher.send(Resync).await.unwrap();
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![(sid(3), "10.0.3.7".into())]);
}

/// A container this agent could not look up keeps the record an earlier agent wrote (the launch listing protects
/// it); when it dies while a listing is under way, the listing's answer must not protect that record again.
#[actix_rt::test]
async fn a_container_that_died_during_a_listing_is_not_kept_by_it() {
    let h = Host::default();
    start(&h, 4, 8);
    h.zone.insert(inherited(4, "10.0.4.8"));
    h.engine.task_fault(&id(4), Some(TaskFault::Fail(1000)));
    let agent = h.agent(Timing::default());
    agent.ready().await;
    agent.settle().await;
    assert_eq!(
        h.zone_view(),
        vec![(sid(4), "10.0.4.8".into())],
        "kept while it runs"
    );
    h.hold_a_listing(&agent).await;
    // Route53 throttles the delete, so the listing's answer comes while the record is still there.
    h.zone.fail_next([DnsError::Throttled {
        code: "Throttling".into(),
        message: "Rate exceeded".into(),
    }]);
    h.engine.die(&id(4));
    sleep_ms(20).await;
    h.engine.release_listings();
    sleep_ms(20).await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![]);
}

/// A periodic listing is still under way when the stream is cut and the reconnect lists again; the reconnect's
/// answer comes first. The older answer, which predates a container's start, must not stop that container.
#[actix_rt::test]
async fn a_listing_that_answers_after_a_newer_one_is_dropped() {
    let h = Host::default();
    let agent = h.agent(Timing::default());
    agent.ready().await;
    h.hold_a_listing(&agent).await;
    start(&h, 9, 13);
    sleep_ms(20).await;
    h.engine.cut_streams();
    sleep_ms(50).await;
    h.engine.release_newest_listing();
    sleep_ms(20).await;
    h.engine.release_listings();
    sleep_ms(20).await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![(sid(9), "10.0.9.13".into())]);
}

/// While the stream is down the reconnect's listing is the one that counts: a periodic listing asked meanwhile
/// must not overtake it and make it look stale (its answer would then protect nothing, and the inherited record of
/// a container this agent cannot look up would go).
#[actix_rt::test]
async fn a_listing_asked_while_the_stream_is_down_does_not_overtake_the_reconnect() {
    let h = Host::default();
    start(&h, 10, 14);
    h.zone.insert(inherited(10, "10.0.10.14"));
    h.engine.task_fault(&id(10), Some(TaskFault::Fail(1000)));
    let agent = h.agent(Timing::default());
    agent.ready().await;
    h.engine.hold_listings();
    h.engine.cut_streams();
    sleep_ms(50).await;
    let asked = actix_rt::time::timeout(Duration::from_secs(2), agent.watcher.send(Resync));
    assert!(
        asked.await.is_ok(),
        "a listing asked while the stream is down answers at once"
    );
    h.engine.release_newest_listing();
    sleep_ms(20).await;
    h.engine.release_listings();
    sleep_ms(20).await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![(sid(10), "10.0.10.14".into())]);
}

/// A container being stopped (SIGTERM, still running) during the launch lookups keeps the record an earlier agent
/// wrote until its deregistration delay has passed, like a registered one.
#[actix_rt::test]
async fn a_container_stopping_during_the_launch_keeps_its_inherited_record_until_the_delay() {
    let h = Host::default();
    start(&h, 11, 15);
    h.zone.insert(inherited(11, "10.0.11.15"));
    h.engine
        .task_fault(&id(11), Some(TaskFault::Slow(Duration::from_millis(100))));
    let agent = h.agent(Timing {
        deregister_delay: Duration::from_millis(1500),
        ..Timing::default()
    });
    sleep_ms(30).await;
    h.engine.kill(&id(11));
    agent.ready().await;
    agent.settle().await;
    assert_eq!(
        h.zone_view(),
        vec![(sid(11), "10.0.11.15".into())],
        "still draining"
    );
    sleep_ms(2000).await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![], "gone after the delay");
}

#[actix_rt::test]
async fn events_during_a_stream_cut_are_read_when_it_resumes() {
    let h = Host::default();
    start(&h, 5, 9);
    let agent = h.agent(Timing::default());
    agent.ready().await;
    h.engine.cut_streams();
    h.engine.die(&id(5));
    start(&h, 6, 10);
    sleep_ms(100).await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![(sid(6), "10.0.6.10".into())]);
}

#[actix_rt::test]
async fn a_drain_removes_tasks_stopping_with_the_agent_and_keeps_the_others() {
    let h = Host::default();
    start(&h, 7, 11);
    start(&h, 8, 12);
    let agent = h.agent(Timing::default());
    agent.ready().await;
    agent.settle().await;
    agent.watcher.do_send(super::Drain);
    h.engine.stop(&id(7));
    agent.drain(&h.probe).await;
    assert_eq!(h.zone_view(), vec![(sid(8), "10.0.8.12".into())]);
    assert!(h.probe.failures().is_empty(), "{:?}", h.probe.failures());
}
