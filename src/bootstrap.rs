//! Start-up: reach Docker, learn who we are (owner, cluster), learn the zone's name, then start the actors.
//!
//! Each step retries transient failures; a permanent one (no such zone, access denied, a zone name that does not
//! match the configuration) goes to the supervisor as `ActorFailed`, which exits non-zero.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use bollard::Docker;
use route53_discovery_actors::build_info;
use route53_discovery_actors::core::address::{AddressSettings, RecordTypes};
use route53_discovery_actors::core::desired::RecordPolicy;
use route53_discovery_actors::core::events::DrainWindow;
use route53_discovery_actors::core::naming::ZoneName;
use route53_discovery_actors::event_watcher::{
    BollardSource, DockerConfig, EventWatcherActor, FIRST_RECONNECT_DELAY,
};
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::messages::ActorFailed;
use route53_discovery_actors::metadata::client::IntrospectionConfig;
use route53_discovery_actors::metadata::imds::{ImdsClient, ImdsSource};
use route53_discovery_actors::metadata::{LiveSources, MetadataActor, MetadataConfig};
use route53_discovery_actors::metrics::Metrics;
use route53_discovery_actors::registrar::pool::RegistrarPool;
use route53_discovery_actors::registrar::{RegistrarActor, RetryPolicy};
use route53_discovery_actors::route53::api::{DnsApi, ErrorClass};
use route53_discovery_actors::route53::dry_run::DryRunDns;
use route53_discovery_actors::route53::journal::WriterJournal;
use route53_discovery_actors::route53::limiter::{self, RateLimited};
use route53_discovery_actors::route53::measured::Measured;
use route53_discovery_actors::route53::sdk::SdkDns;
use route53_discovery_actors::route53::{Route53Actor, Route53Config, WriterLink, WRITER_BACKOFF};
use route53_discovery_actors::supervisor::{Attach, SupervisorActor};

use crate::settings::{Mode, Settings};

mod identity;
pub mod janitor;
mod launch;

/// Actors besides the registrars that report `ActorStopped`: watcher, metadata, route53.
const FIXED_ACTORS: usize = 3;

/// Runs the start-up steps and starts the pipeline; failures go to the supervisor.
pub async fn start_pipeline(
    settings: Settings,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    supervisor: Addr<SupervisorActor>,
) {
    if let Err(error) = try_start(settings, health, metrics, &supervisor).await {
        supervisor.do_send(ActorFailed {
            actor: "bootstrap",
            error,
        });
    }
}

fn introspection(settings: &Settings) -> Option<IntrospectionConfig> {
    settings
        .ecs
        .introspection_url
        .as_ref()
        .map(|url| IntrospectionConfig {
            url: url.clone(),
            timeout: settings.ecs.timeout,
            attempts: settings.ecs.attempts,
            first_delay: Duration::from_millis(200),
        })
}

async fn connect_docker(socket: &str, budget: Duration) -> Result<Docker, String> {
    let start = Instant::now();
    loop {
        match Docker::connect_with_unix(socket, 120, bollard::API_DEFAULT_VERSION) {
            Ok(d) => return Ok(d),
            Err(e) if start.elapsed() < budget => {
                tracing::warn!(socket, error = %e, "Docker socket not available yet; retrying.");
                actix_rt::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(format!("Docker socket {socket}: {e}")),
        }
    }
}

/// AWS SDK settings shared by the Route53 and ECS clients: no SDK retries (the caller retries, behind its own
/// rate limit, so nothing bypasses it), a per-attempt timeout, the region and an endpoint override.
///
/// The endpoint is not set here: the SDK's standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables
/// would win over an endpoint set on the loader, so a configured endpoint is set on each service's own config
/// ([`route53_client`], `janitor::ecs_api`), where it wins over them.
pub(crate) fn sdk_loader(settings: &Settings, timeout: Duration) -> aws_config::ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts);
    if let Some(region) = &settings.route53.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader
}

/// A Route53 client: the configured `route53.endpoint_url` when set, else the SDK's endpoint resolution (which
/// honours `AWS_ENDPOINT_URL_ROUTE_53` and `AWS_ENDPOINT_URL`).
pub(crate) fn route53_client(
    sdk: &aws_config::SdkConfig,
    endpoint: Option<&str>,
) -> aws_sdk_route53::Client {
    let mut config = aws_sdk_route53::config::Builder::from(sdk);
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    aws_sdk_route53::Client::from_conf(config.build())
}

/// The Route53 API the agent uses, measured (`r53d_route53_*` metrics).
async fn route53_api(settings: &Settings, metrics: &Arc<Metrics>) -> Rc<dyn DnsApi> {
    Rc::new(Measured::new(
        raw_route53_api(settings).await,
        metrics.clone(),
    ))
}

async fn raw_route53_api(settings: &Settings) -> Rc<dyn DnsApi> {
    if settings.agent.mode == Mode::DryRun {
        let zone = settings
            .route53
            .zone_name
            .as_ref()
            .expect("validated: dry-run has a zone name");
        return Rc::new(DryRunDns::new(zone.as_str()));
    }
    // Retries and pacing are the writer's (full-jitter backoff behind one token bucket), not the SDK's, so every
    // request is counted against the client-side rate limit.
    let loader = sdk_loader(settings, settings.route53.request_timeout);
    let sdk = loader.load().await;
    let client = route53_client(&sdk, settings.route53.endpoint_url.as_deref());
    let bucket = limiter::bucket(
        settings.route53.max_requests_per_sec,
        settings.route53.burst,
    );
    Rc::new(RateLimited::new(Rc::new(SdkDns::new(client)), bucket))
}

/// The zone's name from Route53 (retrying transient failures), checked against the configured one.
async fn zone_name(
    api: &dyn DnsApi,
    settings: &Settings,
    budget: Duration,
) -> Result<ZoneName, String> {
    let zone_id = &settings.route53.hosted_zone_id;
    let start = Instant::now();
    let name = loop {
        match api.zone_name(zone_id).await {
            Ok(n) => break n,
            Err(e) if e.class() == ErrorClass::Transient && start.elapsed() < budget => {
                tracing::warn!(zone_id, error = %e, "Cannot read the hosted zone yet; retrying.");
                actix_rt::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(format!("hosted zone {zone_id}: {e}")),
        }
    };
    let actual = ZoneName::new(&name)
        .map_err(|e| format!("hosted zone {zone_id} has an unusable name: {e}"))?;
    match &settings.route53.zone_name {
        Some(configured) if *configured != actual => Err(format!(
            "route53.zone_name is {} but hosted zone {zone_id} is {}",
            configured.as_str(),
            actual.as_str()
        )),
        _ => Ok(actual),
    }
}

/// ECS's default container stop timeout: a task is killed this long after SIGTERM unless its task definition
/// says otherwise.
const ECS_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Warns when resolvers may keep answering with a stopped task's address for longer than the task is kept
/// alive: a record goes at the stop (plus `agent.deregister_delay_secs`), but resolvers cache it for its TTL.
fn warn_ttl_outlives_drain(settings: &Settings) {
    let ttl = Duration::from_secs(u64::try_from(settings.route53.ttl).unwrap_or(0));
    if ttl_outlives_drain(ttl, settings.agent.deregister_delay) {
        tracing::warn!(ttl = ?ttl, deregister_delay = ?settings.agent.deregister_delay, stop_timeout = ?ECS_STOP_TIMEOUT,
            "route53.ttl is longer than a stopping task is kept alive (agent.deregister_delay_secs plus ECS's default 30 s stop timeout): resolvers may answer with a stopped task's address for up to the TTL after it is gone. Lower route53.ttl, or keep tasks serving after SIGTERM for the TTL (raise agent.deregister_delay_secs and the task's stopTimeout).");
    }
}

/// True when a record's TTL is longer than a stopping task is kept alive.
fn ttl_outlives_drain(ttl: Duration, deregister_delay: Duration) -> bool {
    ttl > deregister_delay + ECS_STOP_TIMEOUT
}

/// The metadata actor's settings: introspection, health gating, addressing rules and the address overrides.
fn metadata_config(settings: &Settings) -> MetadataConfig {
    let t = settings.route53.record_types;
    MetadataConfig {
        require_healthy: settings.agent.register_when_healthy,
        address: AddressSettings {
            container_address: settings.agent.container_address,
            port_label: settings.docker.port_label.clone(),
            records_label: settings.docker.records_label.clone(),
            record_types: RecordTypes {
                a: t.a,
                aaaa: t.aaaa,
                srv: t.srv,
            },
        },
        host_ip: settings.agent.host_ip,
        host_ipv6: settings.agent.host_ipv6,
        instance_refresh: settings
            .agent
            .reconcile_interval
            .unwrap_or(DEFAULT_INSTANCE_REFRESH),
    }
}

/// How often the instance's addresses are read again when periodic reconciles are off.
const DEFAULT_INSTANCE_REFRESH: Duration = Duration::from_secs(300);

async fn try_start(
    settings: Settings,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    supervisor: &Addr<SupervisorActor>,
) -> Result<(), String> {
    let budget = settings.docker.reconnect_budget;
    let docker = connect_docker(&settings.docker.socket, budget).await?;
    let owner = identity::identity(&settings, budget).await?;
    let api = route53_api(&settings, &metrics).await;
    let store = launch::journal_store(&settings);
    let journal = launch::trusted_journal(store.as_ref(), &settings, &owner);
    let jitter = settings.route53.startup_jitter;
    let zone = launch::zone_name(&*api, &settings, journal.as_ref(), jitter, budget).await?;
    let zone_id = settings.route53.hosted_zone_id.clone();
    tracing::info!(version = build_info::VERSION, revision = build_info::REVISION, zone_id = %zone_id, zone = zone.as_str(), cluster = owner.cluster_tag(), scope = owner.scope().unwrap_or(""), owner = owner.owner(), mode = ?settings.agent.mode, "Starting.");
    warn_ttl_outlives_drain(&settings);
    let reporter = SupervisorActor::reporter(supervisor);
    let policy = Arc::new(RecordPolicy {
        label_key: settings.docker.label.clone(),
        zone,
        owner: owner.clone(),
        ttl: settings.route53.ttl,
        weight: settings.route53.weight,
    });
    let r53_config = Route53Config {
        zone_id,
        quarantine: settings.route53.quarantine,
        ttl: settings.route53.ttl,
        weight: settings.route53.weight,
        // Taken before GetHostedZone already (none with a trusted journal: nothing is read at the launch).
        startup_jitter: Duration::ZERO,
        recheck_after: settings.route53.recheck_after,
        verify_interval: settings.route53.verify_interval,
        verify_reads_per_hour: Some(settings.route53.verify_reads_per_hour),
        backoff: WRITER_BACKOFF,
    };
    let mut route53 = Route53Actor::new(
        api,
        r53_config,
        owner.clone(),
        reporter.clone(),
        health.clone(),
        metrics.clone(),
    );
    if let Some(store) = store {
        let zone_id = &settings.route53.hosted_zone_id;
        let kept = WriterJournal::new(store, zone_id, policy.zone.as_str(), &owner);
        route53 = route53.with_journal(kept, journal);
    }
    let route53 = route53.start();
    let imds = ImdsClient::new(&ImdsSource::from_env(
        settings.agent.imds_endpoint.as_deref(),
    ))
    .map_err(|e| format!("instance metadata: {e}"))?;
    let sources = LiveSources::new(docker, introspection(&settings), imds);
    let metadata = MetadataActor::new(
        Rc::new(sources),
        metadata_config(&settings),
        reporter.clone(),
        metrics.clone(),
    )
    .start()
    .recipient();
    let writer = WriterLink::to(&route53);
    let retry = RetryPolicy {
        retries: settings.agent.lookup_retries,
        delay: settings.agent.lookup_retry_delay,
        deregister_delay: settings.agent.deregister_delay,
    };
    let depth = metrics.queue_depth.with_label_values(&["registrar"]);
    let pool = RegistrarPool::start(settings.agent.workers, |i| {
        RegistrarActor::new(
            i,
            policy.clone(),
            metadata.clone(),
            writer.clone(),
            reporter.clone(),
            retry,
            metrics.clone(),
        )
    })
    .with_depth_gauge(depth);
    let docker_config = DockerConfig {
        reconnect_budget: budget,
        reconcile_interval: settings.agent.reconcile_interval,
        register_when_healthy: settings.agent.register_when_healthy,
        first_reconnect_delay: FIRST_RECONNECT_DELAY,
        drain: DrainWindow::default(),
    };
    let source = Rc::new(BollardSource::new(settings.docker.socket.clone()));
    let watcher = EventWatcherActor::new(
        docker_config,
        source,
        policy,
        pool,
        writer,
        reporter,
        health,
        metrics,
    )
    .start();
    supervisor.do_send(Attach {
        watcher: watcher.recipient(),
        expected: FIXED_ACTORS + settings.agent.workers,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_is_covered_by_the_deregistration_delay_plus_the_stop_timeout() {
        let s = Duration::from_secs;
        assert!(ttl_outlives_drain(s(60), s(0)));
        assert!(!ttl_outlives_drain(s(30), s(0)));
        assert!(!ttl_outlives_drain(s(60), s(30)));
        assert!(ttl_outlives_drain(s(300), s(60)));
    }

    #[test]
    fn the_default_configuration_starts_without_the_ttl_warning() {
        let settings = crate::settings::from_toml("[route53]\nhosted_zone_id = \"Z1\"\n").unwrap();
        let ttl = Duration::from_secs(u64::try_from(settings.route53.ttl).unwrap());
        assert!(!ttl_outlives_drain(ttl, settings.agent.deregister_delay));
    }
}
