//! Actor tests of the metadata actor over the in-memory engine ([`crate::testkit`]): instance addresses kept
//! across a failed read and followed when they change, an awsvpc task whose ECS agent is down, health gating.

use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::client::IntrospectionError;
use super::{MetadataActor, MetadataConfig, MetadataError, Resolution, Resolve};
use crate::core::address::AddressSettings;
use crate::core::instance::InstanceAddresses;
use crate::testkit::agent::LABEL;
use crate::testkit::{instance, FakeEngine, Probe, TaskFault};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn actor(engine: &Rc<FakeEngine>, require_healthy: bool) -> Addr<MetadataActor> {
    let config = MetadataConfig {
        require_healthy,
        address: AddressSettings::default(),
        host_ip: None,
        host_ipv6: None,
        instance_refresh: Duration::from_millis(20),
    };
    let metrics = Arc::default();
    MetadataActor::new(
        Rc::new(engine.clone()),
        config,
        Probe::default().reporter(),
        metrics,
    )
    .start()
}

async fn resolve(
    m: &Addr<MetadataActor>,
    engine: &FakeEngine,
) -> Result<Resolution, MetadataError> {
    let c = engine.running().into_iter().find(|c| c.id == ID).unwrap();
    m.send(Resolve {
        container_id: ID.into(),
        labels: c.labels,
    })
    .await
    .unwrap()
}

fn published_instance(r: Result<Resolution, MetadataError>) -> InstanceAddresses {
    match r {
        Ok(Resolution::Publish { instance, endpoint }) => {
            assert_eq!(
                endpoint.ipv4,
                Some(Ipv4Addr::new(10, 0, 9, 9)),
                "the task's ENI address"
            );
            instance
        }
        other => panic!("expected Publish, got {other:?}"),
    }
}

fn engine() -> Rc<FakeEngine> {
    let e = Rc::new(FakeEngine::new());
    e.start(ID, &[(LABEL, "web")], Ipv4Addr::new(10, 0, 9, 9), false);
    e
}

async fn sleep_ms(ms: u64) {
    actix_rt::time::sleep(Duration::from_millis(ms)).await;
}

#[actix_rt::test]
async fn a_failed_instance_metadata_read_keeps_the_addresses_read_last_and_a_change_is_followed() {
    let e = engine();
    let m = actor(&e, false);
    assert_eq!(published_instance(resolve(&m, &e).await), instance());
    e.set_instance(None);
    sleep_ms(100).await;
    assert_eq!(
        published_instance(resolve(&m, &e).await),
        instance(),
        "kept across failed reads"
    );
    let moved = InstanceAddresses {
        ipv4: Some(Ipv4Addr::new(10, 0, 255, 2)),
        ..instance()
    };
    e.set_instance(Some(moved.clone()));
    // After failed reads the next one comes within the backoff (at most 1 s here).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while published_instance(resolve(&m, &e).await) != moved {
        assert!(
            std::time::Instant::now() < deadline,
            "the new address was never read"
        );
        sleep_ms(20).await;
    }
}

#[actix_rt::test]
async fn an_awsvpc_task_whose_ecs_agent_is_down_is_retried_not_guessed() {
    let e = engine();
    e.task_fault(ID, Some(TaskFault::Fail(1)));
    let m = actor(&e, false);
    let first = resolve(&m, &e).await;
    assert!(
        matches!(
            first,
            Err(MetadataError::Introspection(
                IntrospectionError::Unavailable(_)
            ))
        ),
        "{first:?}"
    );
    published_instance(resolve(&m, &e).await);
}

#[actix_rt::test]
async fn waiting_for_health_skips_a_starting_container_until_it_is_healthy() {
    let e = Rc::new(FakeEngine::new());
    e.start(ID, &[(LABEL, "web")], Ipv4Addr::new(10, 0, 9, 9), true);
    let m = actor(&e, true);
    match resolve(&m, &e).await {
        Ok(Resolution::Skip {
            reason,
            keep_inherited,
        }) => {
            assert!(reason.contains("starting"), "{reason}");
            assert!(
                !keep_inherited,
                "an unhealthy container's records go, inherited ones too"
            );
        }
        other => panic!("expected Skip, got {other:?}"),
    }
    e.health(ID, true);
    published_instance(resolve(&m, &e).await);
}
