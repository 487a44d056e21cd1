//! `MetadataActor`: finds where a container can be reached from other hosts, and keeps this host's own addresses.
//!
//! ```text
//! docker inspect ──▶ (ECS task label?) introspection /v1/tasks?dockerid=<id>
//!                └─▶ (container:<id>?) docker inspect <id> (the pause container)
//!                          │
//!                          ▼
//!      core::address::decide(inspect, introspection, instance addresses, labels, settings)
//!          awsvpc ─▶ the task ENI's IPv4/IPv6 · bridge/host ─▶ this instance's IPv4/IPv6 + host port
//! ```
//!
//! The instance's addresses come from EC2 instance metadata (IMDSv2, [`imds`]) with the operator's overrides,
//! read at start (before the first lookup is answered) and again every `instance_refresh`; a failed read is retried
//! with backoff ([`imds::RefreshSchedule`]), keeping the addresses of the last good read meanwhile. While no
//! address is known (the agent started while instance metadata was off or unreachable), bridge and host containers
//! are skipped with the reason (and `r53d_no_instance_address_total`), awsvpc tasks go on. A changed address reaches the
//! records at the next reconcile, which resolves every running container again.

pub mod client;
pub mod imds;
mod resolve;
pub mod sources;
#[cfg(test)]
mod tests;

pub use sources::{LiveSources, Sources};

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use self::client::IntrospectionError;
use self::imds::{with_overrides, RefreshSchedule};
use crate::core::address::{AddressSettings, Endpoint};
use crate::core::instance::InstanceAddresses;
use crate::messages::Reporter;
use crate::metrics::Metrics;

const ACTOR: &str = "metadata";
/// How often the refresh timer looks at the clock (and whether the actor should stop in a drain).
const TICK: Duration = Duration::from_secs(1);

/// Settings of the metadata lookups.
#[derive(Debug, Clone)]
pub struct MetadataConfig {
    /// A container with a Docker HEALTHCHECK gets an address only while it is healthy.
    pub require_healthy: bool,
    /// Addressing rules: labels, record types, the container-address opt-in.
    pub address: AddressSettings,
    /// `agent.host_ip`: overrides the instance's IPv4 from instance metadata.
    pub host_ip: Option<Ipv4Addr>,
    /// `agent.host_ipv6`: overrides the instance's IPv6.
    pub host_ipv6: Option<Ipv6Addr>,
    /// How often the instance's addresses are read again (the reconcile interval).
    pub instance_refresh: Duration,
}

/// Where a container's records should point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Publish records for this endpoint.
    Publish {
        /// Addresses, port, record types and SRV target kind.
        endpoint: Endpoint,
        /// This host's addresses as known now (they name the per-instance SRV target).
        instance: InstanceAddresses,
    },
    /// Do not register the container, for this reason.
    Skip {
        /// Why, for the log line.
        reason: String,
        /// The reason is only that this instance's address is unknown (instance metadata down): records an
        /// earlier agent wrote for the container stay, as a listing protects them, rather than blank DNS. Any other
        /// reason (not running, unhealthy, its task stopping) is definite: they go.
        keep_inherited: bool,
    },
}

/// Failures worth trying again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Docker could not be asked.
    #[error("docker inspect failed: {0}")]
    Docker(String),
    /// An awsvpc task whose address only the (unavailable) ECS agent knows.
    #[error("{0}")]
    Introspection(#[from] IntrospectionError),
    /// Not decidable yet (a dynamic host port not bound yet).
    #[error("{0}")]
    NotYet(String),
}

/// Resolve where a running container can be reached.
#[derive(Debug, Message)]
#[rtype(result = "Result<Resolution, MetadataError>")]
pub struct Resolve {
    /// Full container id.
    pub container_id: String,
    /// The container's labels.
    pub labels: HashMap<String, String>,
}

/// The lookup actor. Holds its [`Sources`] and this host's addresses.
pub struct MetadataActor {
    sources: Rc<dyn Sources>,
    config: Arc<MetadataConfig>,
    instance: Arc<InstanceAddresses>,
    schedule: RefreshSchedule,
    next_refresh: Option<Instant>,
    /// The addresses held came from a successful read: a later failed read keeps them (a blip must not unpublish
    /// every bridge and host task, nor rename the per-instance SRV target).
    read_ok: bool,
    reporter: Reporter,
    /// `r53d_instance_address_known`, `r53d_no_instance_address_total`.
    metrics: Arc<Metrics>,
}

impl MetadataActor {
    /// Builds the actor; call on the arbiter it will run on (the live sources are not `Send`).
    pub fn new(
        sources: Rc<dyn Sources>,
        config: MetadataConfig,
        reporter: Reporter,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            sources,
            schedule: RefreshSchedule::new(config.instance_refresh),
            config: Arc::new(config),
            instance: Arc::new(InstanceAddresses::default()),
            next_refresh: None,
            read_ok: false,
            reporter,
            metrics,
        }
    }

    /// Reads the instance's addresses (unless instance metadata is off) and keeps them; schedules the next read.
    fn refresh(&mut self, ctx: &mut Context<Self>, first: bool) {
        self.next_refresh = None;
        let fut = self.sources.instance().into_actor(self).map(move |found, act, _ctx| {
            let delay = act.schedule.after(&found);
            if !act.sources.instance_disabled() {
                act.next_refresh = Some(Instant::now() + delay);
            }
            if let (Err(e), true) = (&found, act.read_ok) {
                tracing::warn!(error = %e, ?delay, "Reading instance metadata failed; keeping the addresses read last.");
                return;
            }
            act.read_ok = found.is_ok();
            let (v4, v6) = (act.config.host_ip, act.config.host_ipv6);
            act.set_instance(with_overrides(found, v4, v6), first);
        });
        if first {
            ctx.wait(fut);
        } else {
            ctx.spawn(fut);
        }
    }

    fn set_instance(&mut self, now: InstanceAddresses, first: bool) {
        if first || now != *self.instance {
            match &now.unavailable {
                None => {
                    tracing::info!(ipv4 = ?now.ipv4, ipv6 = ?now.ipv6, instance_id = ?now.instance_id,
                    "This instance's addresses (bridge and host tasks are published on them).")
                }
                Some(why) => tracing::warn!(reason = %why,
                    "This instance's address is unknown: bridge and host containers are not registered until it is (set agent.host_ip, or allow IMDSv2); awsvpc tasks are."),
            }
        }
        let known = i64::from(now.has_address());
        self.metrics.instance_address_known.set(known);
        self.instance = Arc::new(now);
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if !ctx.connected() {
            ctx.stop();
            return;
        }
        if self.next_refresh.is_some_and(|t| t <= Instant::now()) {
            self.refresh(ctx, false);
        }
    }
}

impl Actor for MetadataActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
        self.refresh(ctx, true);
        ctx.run_interval(TICK.min(self.config.instance_refresh), Self::tick);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.reporter.stopped(ACTOR);
    }
}

impl Handler<Resolve> for MetadataActor {
    type Result = ResponseActFuture<Self, Result<Resolution, MetadataError>>;

    fn handle(&mut self, msg: Resolve, _ctx: &mut Context<Self>) -> Self::Result {
        let lookup = resolve::Lookup {
            sources: self.sources.clone(),
            config: self.config.clone(),
            instance: self.instance.clone(),
        };
        Box::pin(
            async move { lookup.resolve(&msg).await }
                .into_actor(self)
                .map(|outcome, act, _| {
                    if outcome.no_instance_address {
                        act.metrics.no_instance_address.inc();
                    }
                    outcome.result
                }),
        )
    }
}
