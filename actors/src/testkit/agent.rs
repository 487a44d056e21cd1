//! A whole agent over fakes: [`Agent::start`] wires the watcher, a registrar pool, the metadata actor and the
//! writer the way the binary's bootstrap does, over a [`FakeEngine`] and a [`FakeRoute53`], with fast timings.
//! [`Probe`] (from [`crate::messages::probe`]) stands in for the supervisor.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::engine::FakeEngine;
use crate::core::address::{AddressSettings, RecordTypes};
use crate::core::desired::RecordPolicy;
use crate::core::events::DrainWindow;
use crate::core::naming::ZoneName;
use crate::core::ownership::Owner;
use crate::event_watcher::{DockerConfig, Drain, EventWatcherActor};
use crate::health::HealthState;
pub use crate::messages::probe::Probe;
use crate::messages::Reporter;
use crate::metadata::{MetadataActor, MetadataConfig};
use crate::metrics::Metrics;
use crate::registrar::pool::RegistrarPool;
use crate::registrar::{RegistrarActor, RetryPolicy};
use crate::route53::fake::FakeRoute53;
use crate::route53::{Route53Actor, Route53Config, WriterLink};

/// The service label the test agent reads.
pub const LABEL: &str = "discovery.service.name";

/// The knobs tests turn; everything else is fixed and fast.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// `register_when = "healthy"`.
    pub healthy_mode: bool,
    /// Registrars in the pool.
    pub workers: usize,
    /// Lookup retries after the first try.
    pub lookup_retries: u32,
    /// `agent.deregister_delay_secs`.
    pub deregister_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            healthy_mode: false,
            workers: 3,
            lookup_retries: 2,
            deregister_delay: Duration::ZERO,
        }
    }
}

/// A running agent: the addresses a test drives it with.
pub struct Agent {
    /// The watcher (send it `Resync`, `Drain`).
    pub watcher: Addr<EventWatcherActor>,
    /// The registrars (`barrier`).
    pub pool: RegistrarPool,
    /// The writer (`Flush`).
    pub writer: Addr<Route53Actor>,
    /// The health state its actors write.
    pub health: Arc<HealthState>,
    /// The metrics its actors count into.
    pub metrics: Arc<Metrics>,
}

/// The owner the test agent writes as: cluster `prod`, owner `me`.
pub fn owner() -> Owner {
    Owner::new("prod", "me").unwrap_or_else(|e| panic!("test owner: {e}"))
}

/// The test agent's record policy: label `discovery.service.name`, zone `example.com.`, TTL 60, weight 1.
pub fn policy() -> Arc<RecordPolicy> {
    Arc::new(RecordPolicy {
        label_key: LABEL.into(),
        zone: ZoneName::new("example.com.").unwrap_or_else(|e| panic!("test zone: {e}")),
        owner: owner(),
        ttl: 60,
        weight: 1,
    })
}

/// The test agent's writer settings: zone `Z1`, fast quarantine, recheck and backoff.
pub fn writer_config() -> Route53Config {
    Route53Config {
        zone_id: "Z1".into(),
        quarantine: Duration::from_millis(40),
        ttl: 60,
        weight: 1,
        startup_jitter: Duration::ZERO,
        recheck_after: Duration::from_millis(100),
        verify_interval: None,
        verify_reads_per_hour: None,
        backoff: (Duration::from_millis(5), Duration::from_millis(50)),
    }
}

impl Agent {
    /// Starts an agent (A records only, TTL 60, owner `prod`/`me`) over `engine` and `zone` (id `Z1`,
    /// `example.com.`), reporting to `reporter`.
    pub fn start(
        engine: &Rc<FakeEngine>,
        zone: &Rc<FakeRoute53>,
        reporter: &Reporter,
        t: Timing,
    ) -> Self {
        let health = Arc::new(HealthState::default());
        let metrics = Arc::new(Metrics::default());
        let (r, h, m) = (reporter.clone(), health.clone(), metrics.clone());
        let writer = Route53Actor::new(zone.clone(), writer_config(), owner(), r, h, m).start();
        let link = WriterLink::to(&writer);
        let meta = MetadataConfig {
            require_healthy: t.healthy_mode,
            address: AddressSettings {
                record_types: RecordTypes {
                    a: true,
                    aaaa: false,
                    srv: false,
                },
                ..AddressSettings::default()
            },
            host_ip: None,
            host_ipv6: None,
            instance_refresh: Duration::from_secs(60),
        };
        let (r, m) = (reporter.clone(), metrics.clone());
        let metadata = MetadataActor::new(Rc::new(engine.clone()), meta, r, m).start();
        let retry = RetryPolicy {
            retries: t.lookup_retries,
            delay: Duration::from_millis(10),
            deregister_delay: t.deregister_delay,
        };
        let policy = policy();
        let pool = RegistrarPool::start(t.workers, |i| {
            let m = metadata.clone().recipient();
            let (l, r, metrics) = (link.clone(), reporter.clone(), metrics.clone());
            RegistrarActor::new(i, policy.clone(), m, l, r, retry, metrics)
        });
        let docker = DockerConfig {
            reconnect_budget: Duration::from_secs(3600),
            reconcile_interval: None,
            register_when_healthy: t.healthy_mode,
            first_reconnect_delay: Duration::from_millis(5),
            drain: DrainWindow {
                quiet: Duration::from_millis(20),
                max: Duration::from_millis(200),
            },
        };
        let (source, r, h) = (Rc::new(engine.clone()), reporter.clone(), health.clone());
        let m = metrics.clone();
        let watcher = EventWatcherActor::new(docker, source, policy, pool.clone(), link, r, h, m);
        Self {
            watcher: watcher.start(),
            pool,
            writer,
            health,
            metrics,
        }
    }

    /// Waits until the launch sync is done (the agent is ready); panics after 10 s.
    pub async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.health.readiness(Duration::MAX).is_err() {
            assert!(Instant::now() < deadline, "the agent never became ready");
            actix_rt::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Drains the agent and waits until its writer has stopped (every change it was given sent or given up);
    /// panics after 20 s.
    pub async fn drain(self, probe: &Probe) {
        let before = probe.stopped("route53");
        self.watcher.do_send(Drain);
        drop(self);
        let deadline = Instant::now() + Duration::from_secs(20);
        while probe.stopped("route53") == before {
            let stopped = probe.stopped_counts();
            assert!(
                Instant::now() < deadline,
                "the writer never stopped; stopped so far: {stopped:?}"
            );
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
