//! Start-up of the janitor, its own process (`janitor`, one task of an ECS REPLICA service) and the operator's
//! `janitor --once`: the ECS and EC2 clients (set up like the Route53 one: no SDK retries, a per-request timeout,
//! the endpoint override for emulators), the cluster's scope from ECS, then the `JanitorActor` under the supervisor.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use route53_discovery_actors::build_info;
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::janitor::ec2::Ec2Api;
use route53_discovery_actors::janitor::ecs::{cluster_scope, EcsApi};
use route53_discovery_actors::janitor::once::{run_once, Once, OnceReport};
use route53_discovery_actors::janitor::sdk::{SdkEc2, SdkEcs};
use route53_discovery_actors::janitor::{Apis, JanitorActor, JanitorConfig};
use route53_discovery_actors::messages::ActorFailed;
use route53_discovery_actors::metrics::Metrics;
use route53_discovery_actors::supervisor::{Attach, SupervisorActor};

use crate::settings::Settings;

/// Timeout of one ECS or EC2 request. A failed cycle is not retried: the next cycle is the retry.
const API_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the start-up retries ECS and Route53 when they fail transiently.
const START_BUDGET: Duration = Duration::from_secs(300);
/// The first cycle comes at a random time within this (or the interval, when shorter).
const FIRST_CYCLE_WITHIN: Duration = Duration::from_secs(10);

async fn ecs_api(settings: &Settings) -> Rc<dyn EcsApi> {
    let sdk = super::sdk_loader(settings, API_TIMEOUT).load().await;
    // A configured endpoint wins over the SDK's AWS_ENDPOINT_URL(_ECS) variables, which apply otherwise.
    let mut config = aws_sdk_ecs::config::Builder::from(&sdk);
    if let Some(url) = settings.ecs.api_endpoint_url.as_deref() {
        config = config.endpoint_url(url);
    }
    Rc::new(SdkEcs::new(aws_sdk_ecs::Client::from_conf(config.build())))
}

/// The EC2 client of the verdicts.
async fn ec2_api(settings: &Settings) -> Rc<dyn Ec2Api> {
    let sdk = super::sdk_loader(settings, API_TIMEOUT).load().await;
    // A configured endpoint wins over the SDK's AWS_ENDPOINT_URL(_EC2) variables, which apply otherwise.
    let mut config = aws_sdk_ec2::config::Builder::from(&sdk);
    if let Some(url) = settings.ecs.ec2_endpoint_url.as_deref() {
        config = config.endpoint_url(url);
    }
    Rc::new(SdkEc2::new(aws_sdk_ec2::Client::from_conf(config.build())))
}

/// The cluster's name (`agent.cluster`) and `<region>.<account>` (from its ARN, `DescribeClusters`), retrying
/// transient failures for [`START_BUDGET`].
async fn cluster(settings: &Settings) -> Result<(String, String), String> {
    let cluster = settings
        .agent
        .cluster
        .clone()
        .ok_or("the janitor needs agent.cluster (the ECS cluster whose hosts it judges)")?;
    let ecs = ecs_api(settings).await;
    let start = Instant::now();
    loop {
        match cluster_scope(&*ecs, &cluster).await {
            Ok(scope) => return Ok((cluster, scope)),
            Err(e) if e.is_transient() && start.elapsed() < START_BUDGET => {
                tracing::warn!(cluster, error = %e, "Cannot describe the cluster yet; retrying.");
                actix_rt::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(format!("cluster {cluster}: {e}")),
        }
    }
}

/// Starts the janitor service; a failure goes to the supervisor (exit 1).
pub async fn start(
    settings: Settings,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    supervisor: Addr<SupervisorActor>,
) {
    if let Err(error) = try_start(&settings, health, metrics, &supervisor).await {
        supervisor.do_send(ActorFailed {
            actor: "bootstrap",
            error,
        });
    }
}

async fn try_start(
    settings: &Settings,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    supervisor: &Addr<SupervisorActor>,
) -> Result<(), String> {
    let (cluster, scope) = cluster(settings).await?;
    let dns = super::route53_api(settings, &metrics).await;
    let zone = super::zone_name(&*dns, settings, START_BUDGET).await?;
    let j = &settings.janitor;
    let config = JanitorConfig {
        cluster,
        scope,
        zone_id: settings.route53.hosted_zone_id.clone(),
        interval: j.interval,
        first_within: j.interval.min(FIRST_CYCLE_WITHIN),
        grace: j.grace,
        max_owners_per_cycle: j.max_owners_per_cycle,
        zone_pace: j.zone_pace,
    };
    tracing::info!(
        version = build_info::VERSION,
        revision = build_info::REVISION,
        zone = zone.as_str(),
        "Janitor ready."
    );
    let apis = Apis {
        ec2: ec2_api(settings).await,
        dns,
    };
    let reporter = SupervisorActor::reporter(supervisor);
    health.set_synced();
    let janitor =
        JanitorActor::new(config, apis, metrics.janitor.clone(), health, reporter).start();
    supervisor.do_send(Attach {
        watcher: janitor.recipient(),
        expected: 1,
    });
    Ok(())
}

/// `janitor --once`: the operator's one clean-up ([`route53_discovery_actors::janitor::once`]), from anywhere the
/// credentials allow: the cluster from the configuration, its scope from ECS.
pub async fn once(settings: &Settings, allow_mass_delete: bool) -> Result<OnceReport, String> {
    let (cluster, scope) = cluster(settings).await?;
    let metrics = Arc::new(Metrics::default());
    let dns = super::route53_api(settings, &metrics).await;
    let ec2 = ec2_api(settings).await;
    let o = Once {
        cluster,
        scope,
        zone_id: settings.route53.hosted_zone_id.clone(),
        max_owners: settings.janitor.max_owners_per_cycle,
        allow_mass_delete,
    };
    run_once(&*ec2, &*dns, &o).await.map_err(|e| e.to_string())
}
