//! Actor tests of the registrars through a whole agent over the in-memory engine and zone ([`crate::testkit`]):
//! a slow lookup holds up no other container's stop, a bad label costs only its container, a lookup that gives up
//! is tried again by the next listing, an unhealthy container loses an inherited record.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::event_watcher::Resync;
use crate::route53::Flush;
use crate::testkit::agent::LABEL;
use crate::testkit::{container_id, set_identifier, sleep_ms, weighted_a, Host, TaskFault, Timing};

fn id(n: u8) -> String {
    container_id(n, "cd")
}

fn start(h: &Host, n: u8, service: &str) {
    h.start(&id(n), service, Ipv4Addr::new(10, 0, n, 1));
}

fn workers(n: usize) -> Timing {
    Timing {
        workers: n,
        ..Timing::default()
    }
}

/// The zone's records as (SetIdentifier of container `n`, address).
fn record(n: u8, ip: &str) -> (String, String) {
    (set_identifier(&id(n)), ip.into())
}

#[actix_rt::test]
async fn a_stop_is_not_held_up_by_another_containers_slow_lookup() {
    let h = Host::default();
    start(&h, 1, "web");
    let agent = h.agent(workers(1));
    agent.ready().await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![record(1, "10.0.1.1")]);
    // One worker; the ECS agent hangs on container 2's lookups for a minute.
    h.engine
        .task_fault(&id(2), Some(TaskFault::Slow(Duration::from_secs(60))));
    start(&h, 2, "api");
    sleep_ms(20).await;
    h.engine.stop(&id(1));
    sleep_ms(20).await;
    // Not the barrier: it would wait for the slow lookup. The stop must already be through.
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(
        h.zone_view(),
        vec![],
        "container 1's stop went out while container 2's lookup hangs"
    );
}

#[actix_rt::test]
async fn a_bad_label_skips_only_its_container() {
    let h = Host::default();
    start(&h, 3, "not a name!");
    start(&h, 4, "web");
    let agent = h.agent(workers(2));
    agent.ready().await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![record(4, "10.0.4.1")]);
    assert_eq!(agent.metrics.skipped_labels.get(), 1);
}

#[actix_rt::test]
async fn a_lookup_that_gave_up_is_tried_again_by_the_next_listing() {
    let h = Host::default();
    h.engine.task_fault(&id(5), Some(TaskFault::Fail(3)));
    start(&h, 5, "web");
    let agent = h.agent(workers(1));
    agent.ready().await;
    sleep_ms(100).await;
    agent.settle().await;
    assert_eq!(
        h.zone_view(),
        vec![],
        "three failures: more than the two retries"
    );
    agent.watcher.send(Resync).await.unwrap();
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![record(5, "10.0.5.1")]);
}

/// `register_when = "healthy"`: after an agent restart, a container that is not healthy (here: restarted, its
/// healthcheck still starting) loses the record an earlier agent wrote, though the launch listing finds it.
#[actix_rt::test]
async fn waiting_for_health_an_inherited_record_of_a_container_not_healthy_goes() {
    let h = Host::default();
    h.engine
        .start(&id(6), &[(LABEL, "web")], Ipv4Addr::new(10, 0, 6, 1), true);
    let sid = set_identifier(&id(6));
    h.zone
        .insert(weighted_a("web.example.com.", &sid, 1, 60, "10.0.6.99"));
    let agent = h.agent(Timing {
        healthy_mode: true,
        ..Timing::default()
    });
    agent.ready().await;
    agent.settle().await;
    agent.watcher.send(Resync).await.unwrap();
    agent.settle().await;
    assert_eq!(
        h.zone_view(),
        vec![],
        "starting: no record, inherited or not"
    );
    h.engine.health(&id(6), true);
    sleep_ms(20).await;
    agent.settle().await;
    assert_eq!(h.zone_view(), vec![record(6, "10.0.6.1")]);
}
