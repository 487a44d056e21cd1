//! Actor tests of the registrars through a whole agent over the in-memory engine and zone ([`crate::testkit`]):
//! a slow lookup holds up no other container's stop, a bad label costs only its container, a lookup that gives up
//! is tried again by the next listing.

use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use crate::event_watcher::Resync;
use crate::route53::fake::FakeRoute53;
use crate::route53::Flush;
use crate::testkit::agent::LABEL;
use crate::testkit::{Agent, FakeEngine, Probe, TaskFault, Timing};

fn id(n: u8) -> String {
    format!("{n:02x}{}", "cd".repeat(31))
}

/// Record name → value of every record in the zone.
fn zone_view(zone: &FakeRoute53) -> Vec<(String, String)> {
    let sets = zone.sets().into_iter();
    sets.map(|s| (s.name, s.values.join(","))).collect()
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
    fn start(&self, n: u8, service: &str) {
        let addr = Ipv4Addr::new(10, 0, n, 1);
        self.engine.start(&id(n), &[(LABEL, service)], addr, false);
    }

    fn agent(&self, workers: usize) -> Agent {
        let t = Timing {
            workers,
            ..Timing::default()
        };
        Agent::start(&self.engine, &self.zone, &self.probe.reporter(), t)
    }
}

async fn settle(agent: &Agent) {
    agent.pool.barrier().await.unwrap();
    agent.writer.send(Flush).await.unwrap();
}

#[actix_rt::test]
async fn a_stop_is_not_held_up_by_another_containers_slow_lookup() {
    let w = world();
    w.start(1, "web");
    let agent = w.agent(1);
    agent.ready().await;
    settle(&agent).await;
    assert_eq!(
        zone_view(&w.zone),
        vec![("web.example.com.".into(), "10.0.1.1".into())]
    );
    // One worker; the ECS agent hangs on container 2's lookups for a minute.
    w.engine
        .task_fault(&id(2), Some(TaskFault::Slow(Duration::from_secs(60))));
    w.start(2, "api");
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    w.engine.stop(&id(1));
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    // Not the barrier: it would wait for the slow lookup. The stop must already be through.
    agent.writer.send(Flush).await.unwrap();
    assert_eq!(
        zone_view(&w.zone),
        vec![],
        "container 1's stop went out while container 2's lookup hangs"
    );
}

#[actix_rt::test]
async fn a_bad_label_skips_only_its_container() {
    let w = world();
    w.start(3, "not a name!");
    w.start(4, "web");
    let agent = w.agent(2);
    agent.ready().await;
    settle(&agent).await;
    assert_eq!(
        zone_view(&w.zone),
        vec![("web.example.com.".into(), "10.0.4.1".into())]
    );
    assert_eq!(agent.metrics.skipped_labels.get(), 1);
}

#[actix_rt::test]
async fn a_lookup_that_gave_up_is_tried_again_by_the_next_listing() {
    let w = world();
    w.engine.task_fault(&id(5), Some(TaskFault::Fail(3)));
    w.start(5, "web");
    let agent = w.agent(1);
    agent.ready().await;
    actix_rt::time::sleep(Duration::from_millis(100)).await;
    settle(&agent).await;
    assert_eq!(
        zone_view(&w.zone),
        vec![],
        "three failures: more than the two retries"
    );
    agent.watcher.send(Resync).await.unwrap();
    settle(&agent).await;
    assert_eq!(
        zone_view(&w.zone),
        vec![("web.example.com.".into(), "10.0.5.1".into())]
    );
}

/// `register_when = "healthy"`: after an agent restart, a container that is not healthy (here: restarted, its
/// healthcheck still starting) loses the record an earlier agent wrote, though the launch listing finds it.
#[actix_rt::test]
async fn waiting_for_health_an_inherited_record_of_a_container_not_healthy_goes() {
    let w = world();
    let addr = Ipv4Addr::new(10, 0, 6, 1);
    w.engine.start(&id(6), &[(LABEL, "web")], addr, true);
    let sid = crate::testkit::agent::owner().set_identifier(
        &crate::core::ownership::InstanceId::from_task_arn(&crate::testkit::task_arn(&id(6)))
            .unwrap(),
    );
    w.zone.insert(crate::core::record::RecordSet {
        name: "web.example.com.".into(),
        record_type: "A".into(),
        set_identifier: Some(sid),
        weight: Some(1),
        ttl: Some(60),
        values: vec!["10.0.6.99".into()],
        has_extras: false,
    });
    let t = Timing {
        healthy_mode: true,
        ..Timing::default()
    };
    let agent = Agent::start(&w.engine, &w.zone, &w.probe.reporter(), t);
    agent.ready().await;
    settle(&agent).await;
    agent.watcher.send(Resync).await.unwrap();
    settle(&agent).await;
    assert_eq!(
        zone_view(&w.zone),
        vec![],
        "starting: no record, inherited or not"
    );
    w.engine.health(&id(6), true);
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    settle(&agent).await;
    assert_eq!(
        zone_view(&w.zone),
        vec![("web.example.com.".into(), "10.0.6.1".into())]
    );
}
