//! Start-up of the janitor: the ECS and EC2 clients (set up like the Route53 one: no SDK retries, a per-request timeout, a
//! client-side rate limit, the endpoint override for emulators) and the `JanitorActor` beside the writer; and a
//! warning when an `agent.owner_id` override is not the container instance id the ECS agent reports.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use route53_discovery_actors::core::ownership::Owner;
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::janitor::ec2::Ec2Api;
use route53_discovery_actors::janitor::ecs::{EcsApi, RateLimitedEcs};
use route53_discovery_actors::janitor::once::{run_once, Once, OnceReport};
use route53_discovery_actors::janitor::plan::{looks_like_instance_id, CANDIDATE_ATTRIBUTE};
use route53_discovery_actors::janitor::sdk::{SdkEc2, SdkEcs};
use route53_discovery_actors::janitor::{Apis, JanitorActor, JanitorConfig};
use route53_discovery_actors::metadata::client::agent_metadata;
use route53_discovery_actors::metrics::JanitorCounters;
use route53_discovery_actors::route53::api::DnsApi;
use route53_discovery_actors::route53::limiter;
use route53_discovery_actors::route53::Route53Actor;
use route53_discovery_actors::supervisor::StopHooks;

use crate::settings::{Mode, Settings};

/// Client-side rate limit of this agent's ECS API requests; a cycle needs a few (see the README).
const ECS_REQUESTS_PER_SEC: f64 = 2.0;
/// Requests that may go at once before the rate applies.
const ECS_BURST: u32 = 4;
/// Timeout of one ECS request. A failed cycle is not retried: the next cycle is the retry.
const ECS_TIMEOUT: Duration = Duration::from_secs(10);

async fn ecs_api(settings: &Settings) -> Rc<dyn EcsApi> {
    let sdk = super::sdk_loader(settings, ECS_TIMEOUT).load().await;
    // A configured endpoint wins over the SDK's AWS_ENDPOINT_URL(_ECS) variables, which apply otherwise.
    let mut config = aws_sdk_ecs::config::Builder::from(&sdk);
    if let Some(url) = settings.ecs.api_endpoint_url.as_deref() {
        config = config.endpoint_url(url);
    }
    let client = aws_sdk_ecs::Client::from_conf(config.build());
    let bucket = limiter::bucket(ECS_REQUESTS_PER_SEC, ECS_BURST);
    Rc::new(RateLimitedEcs::new(Rc::new(SdkEcs::new(client)), bucket))
}

/// The EC2 client of the verdicts (asked only about owners ECS cannot vouch for: rarely, a few calls).
async fn ec2_api(settings: &Settings) -> Rc<dyn Ec2Api> {
    let sdk = super::sdk_loader(settings, ECS_TIMEOUT).load().await;
    // A configured endpoint wins over the SDK's AWS_ENDPOINT_URL(_EC2) variables, which apply otherwise.
    let mut config = aws_sdk_ec2::config::Builder::from(&sdk);
    if let Some(url) = settings.ecs.ec2_endpoint_url.as_deref() {
        config = config.endpoint_url(url);
    }
    Rc::new(SdkEc2::new(aws_sdk_ec2::Client::from_conf(config.build())))
}

/// Warns (once, in the background) when `agent.owner_id` is set and the ECS agent, asked once, reports another
/// container instance id: the cluster's janitor judges owners by ECS state, so this owner's records may be judged
/// dead. Nothing is logged when there is no ECS agent to ask or it does not answer.
fn check_owner_override(settings: &Settings, owner: &str, cluster: &str) {
    if settings.agent.owner_id.is_none() {
        return;
    }
    let Some(mut ic) = super::introspection(settings) else {
        return;
    };
    ic.attempts = 1;
    let (owner, cluster) = (owner.to_string(), cluster.to_string());
    actix_rt::spawn(async move {
        let Ok(meta) = agent_metadata(&ic).await else {
            return;
        };
        let Some(ecs_id) = meta.container_instance_id.filter(|id| *id != owner) else {
            return;
        };
        tracing::warn!(cluster, owner, ecs_instance_id = %ecs_id, judged = looks_like_instance_id(&owner),
            "agent.owner_id is not the container instance id the ECS agent reports. The cluster's janitor judges \
             owners shaped like container instance ids (judged = true) by ECS state: if ECS does not know this id \
             as a live instance, it deletes this agent's records after janitor.grace_secs.");
    });
}

/// What the janitor is started with.
pub(super) struct Janitor<'a> {
    /// This agent's owner.
    pub owner: &'a Owner,
    /// The full ECS cluster name.
    pub cluster: &'a str,
    /// The writer's rate-limited Route53 client, for the zone read.
    pub dns: Rc<dyn DnsApi>,
    /// The writer, for purges.
    pub writer: &'a Addr<Route53Actor>,
    /// `r53d_janitor_*`.
    pub counters: JanitorCounters,
    /// Read to stop once the agent drains.
    pub health: Arc<HealthState>,
    /// Where the withdrawal of the candidacy goes, to run after the drain.
    pub hooks: &'a StopHooks,
}

/// Longest a graceful stop waits for the candidacy's withdrawal.
const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(3);

/// Starts the janitor when it is enabled and the agent writes to Route53. It announces its candidacy at its first
/// cycle ([`CANDIDATE_ATTRIBUTE`]); the candidacy is withdrawn after a graceful stop's drain, so an agent
/// replaced by one with the janitor off leaves none behind. With the janitor off nothing asks ECS at all (the
/// agent needs no ECS permission then).
pub(super) async fn start(settings: &Settings, j: Janitor<'_>) {
    let zone_id = settings.route53.hosted_zone_id.clone();
    let (cluster, me) = (j.cluster.to_string(), j.owner.owner().to_string());
    if !settings.janitor.enabled {
        tracing::info!(cluster, "Janitor disabled (janitor.enabled = false).");
        return;
    }
    if settings.agent.mode == Mode::DryRun {
        tracing::info!(cluster, "Janitor not run in dry-run mode.");
        return;
    }
    let ecs = ecs_api(settings).await;
    check_owner_override(settings, &me, &cluster);
    let config = JanitorConfig {
        cluster: cluster.clone(),
        scope: j.owner.region_account().map(str::to_string),
        owner: me.clone(),
        zone_id: zone_id.clone(),
        interval: settings.janitor.interval,
        grace: settings.janitor.grace,
        max_owners_per_cycle: settings.janitor.max_owners_per_cycle,
        zone_pace: settings.janitor.zone_pace,
        standing_dir: settings.agent.state_dir.clone(),
    };
    let apis = Apis {
        ecs: ecs.clone(),
        ec2: ec2_api(settings).await,
        dns: j.dns,
    };
    let weak = j.writer.clone().recipient().downgrade();
    JanitorActor::new(config, apis, weak, j.counters, j.health).start();
    j.hooks.add(Box::new(move || {
        Box::pin(async move {
            let w = withdraw(ecs, cluster, me);
            if actix_rt::time::timeout(WITHDRAW_TIMEOUT, w).await.is_err() {
                tracing::warn!(
                    "ECS did not answer the withdrawal of this agent's janitor candidacy in time."
                );
            }
        })
    }));
}

/// Deletes this agent's [`CANDIDATE_ATTRIBUTE`] from its container instance.
async fn withdraw(ecs: Rc<dyn EcsApi>, cluster: String, me: String) {
    match ecs
        .delete_attribute(&cluster, &me, CANDIDATE_ATTRIBUTE)
        .await
    {
        Ok(()) => tracing::info!(cluster, owner = %me, "Withdrew this agent's janitor candidacy."),
        Err(e) => {
            tracing::debug!(cluster, owner = %me, error = %e, "Could not withdraw a janitor candidacy.")
        }
    }
}

/// `janitor --once`: the operator's one clean-up ([`route53_discovery_actors::janitor::once`]), with the agent's
/// own clients (rate-limited ECS, measured Route53) and identity (for the cluster and this host's owner id).
pub async fn once(settings: &Settings, allow_mass_delete: bool) -> Result<OnceReport, String> {
    let (owner, cluster) = super::identity(settings, settings.docker.reconnect_budget).await?;
    let metrics = std::sync::Arc::new(route53_discovery_actors::metrics::Metrics::default());
    let dns = super::route53_api(settings, &metrics).await;
    let ecs = ecs_api(settings).await;
    let ec2 = ec2_api(settings).await;
    let o = Once {
        scope: owner.region_account().map(str::to_string),
        cluster,
        zone_id: settings.route53.hosted_zone_id.clone(),
        me: owner.owner().to_string(),
        max_owners: settings.janitor.max_owners_per_cycle,
        allow_mass_delete,
    };
    run_once(&*ecs, &*ec2, &*dns, &o)
        .await
        .map_err(|e| e.to_string())
}
