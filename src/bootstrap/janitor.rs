//! Start-up of the janitor: the ECS client (set up like the Route53 one: no SDK retries, a per-request timeout, a
//! client-side rate limit, the endpoint override for emulators) and the `JanitorActor` beside the writer.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use route53_discovery_actors::core::ownership::Owner;
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::janitor::ecs::{EcsApi, RateLimitedEcs};
use route53_discovery_actors::janitor::sdk::SdkEcs;
use route53_discovery_actors::janitor::{JanitorActor, JanitorConfig, JanitorStats};
use route53_discovery_actors::route53::api::DnsApi;
use route53_discovery_actors::route53::limiter;
use route53_discovery_actors::route53::Route53Actor;

use crate::settings::{Mode, Settings};

/// Client-side rate limit of this agent's ECS API requests; a cycle needs a few (see the README).
const ECS_REQUESTS_PER_SEC: f64 = 2.0;
/// Requests that may go at once before the rate applies.
const ECS_BURST: u32 = 4;
/// Timeout of one ECS request. A failed cycle is not retried: the next cycle is the retry.
const ECS_TIMEOUT: Duration = Duration::from_secs(10);

async fn ecs_api(settings: &Settings) -> Rc<dyn EcsApi> {
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(ECS_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts);
    if let Some(region) = &settings.route53.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.ecs.api_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let client = aws_sdk_ecs::Client::new(&loader.load().await);
    let bucket = limiter::bucket(ECS_REQUESTS_PER_SEC, ECS_BURST);
    Rc::new(RateLimitedEcs::new(Rc::new(SdkEcs::new(client)), bucket))
}

/// Starts the janitor when it is enabled and the agent writes to Route53; returns its counters.
pub(super) async fn start(
    settings: &Settings,
    owner: &Owner,
    cluster: &str,
    dns: Rc<dyn DnsApi>,
    writer: &Addr<Route53Actor>,
    health: Arc<HealthState>,
) -> Option<Arc<JanitorStats>> {
    if !settings.janitor.enabled {
        tracing::info!(cluster, "Janitor disabled (janitor.enabled = false).");
        return None;
    }
    if settings.agent.mode == Mode::DryRun {
        tracing::info!(cluster, "Janitor not run in dry-run mode.");
        return None;
    }
    let config = JanitorConfig {
        cluster: cluster.to_string(),
        owner: owner.owner().to_string(),
        zone_id: settings.route53.hosted_zone_id.clone(),
        interval: settings.janitor.interval,
        grace: settings.janitor.grace,
    };
    let stats = Arc::new(JanitorStats::default());
    let ecs = ecs_api(settings).await;
    let weak = writer.clone().recipient().downgrade();
    JanitorActor::new(config, ecs, dns, weak, stats.clone(), health).start();
    Some(stats)
}
