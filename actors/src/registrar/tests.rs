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

/// A metadata actor that stops while handling a lookup.
struct DeadMetadata;

impl actix::Actor for DeadMetadata {
    type Context = actix::Context<Self>;
}

impl actix::Handler<crate::metadata::Resolve> for DeadMetadata {
    type Result = Result<crate::metadata::Resolution, crate::metadata::MetadataError>;

    fn handle(
        &mut self,
        _: crate::metadata::Resolve,
        ctx: &mut actix::Context<Self>,
    ) -> Self::Result {
        use actix::ActorContext;
        ctx.stop();
        Err(crate::metadata::MetadataError::Docker("stopping".into()))
    }
}

/// A lookup whose metadata actor went away is over: the failure is reported and barriers do not wait for it.
#[actix_rt::test]
async fn a_lookup_whose_metadata_actor_is_gone_does_not_hold_the_barrier() {
    use actix::Actor;
    let h = Host::default();
    let reporter = h.probe.reporter();
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let writer = crate::route53::Route53Actor::new(
        h.zone.clone(),
        crate::testkit::agent::writer_config(),
        crate::testkit::agent::owner(),
        reporter.clone(),
        std::sync::Arc::default(),
        metrics.clone(),
    )
    .start();
    let metadata = DeadMetadata.start().recipient();
    let retry = crate::registrar::RetryPolicy {
        retries: 2,
        delay: Duration::from_millis(10),
        deregister_delay: Duration::ZERO,
    };
    let link = crate::route53::WriterLink::to(&writer);
    let policy = crate::testkit::agent::policy();
    let registrar =
        crate::registrar::RegistrarActor::new(0, policy, metadata, link, reporter, retry, metrics)
            .start();
    let labels = std::collections::HashMap::from([(LABEL.to_string(), "web".to_string())]);
    let running = crate::registrar::Work::Running {
        container_id: id(7),
        labels,
    };
    let received = std::time::Instant::now();
    registrar.do_send(crate::registrar::ContainerWork {
        work: running,
        received,
    });
    sleep_ms(50).await;
    let barrier = actix_rt::time::timeout(
        Duration::from_secs(2),
        registrar.send(crate::registrar::Barrier),
    );
    assert!(
        barrier.await.is_ok(),
        "the barrier waited for a lookup that can never answer"
    );
    sleep_ms(20).await;
    assert!(
        !h.probe.failures().is_empty(),
        "the unreachable metadata actor is reported"
    );
}
