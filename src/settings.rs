//! Settings: layered loading (built-in defaults → `--config FILE` → `R53D__SECTION__KEY` environment), then one
//! validation pass that reports every problem at once into types that cannot hold bad values.
//!
//! The module is called `settings`, not `config`, so it does not clash with the `config` crate.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use route53_discovery_actors::core::naming::ZoneName;

/// The documented defaults, compiled in.
pub const DEFAULTS: &str = include_str!("../config/default.toml");
/// Environment variable prefix (`R53D__ROUTE53__HOSTED_ZONE_ID`).
pub const ENV_PREFIX: &str = "R53D";

/// Every key the settings know, by section.
const KNOWN: &[(&str, &[&str])] = &[
    (
        "docker",
        &[
            "socket",
            "label",
            "port_label",
            "records_label",
            "reconnect_budget_secs",
        ],
    ),
    (
        "ecs",
        &[
            "introspection_url",
            "timeout_ms",
            "attempts",
            "api_endpoint_url",
        ],
    ),
    ("ec2", &["api_endpoint_url"]),
    (
        "route53",
        &[
            "hosted_zone_id",
            "zone_name",
            "endpoint_url",
            "region",
            "ttl",
            "weight",
            "quarantine_secs",
            "max_requests_per_sec",
            "burst",
            "startup_jitter_secs",
            "request_timeout_secs",
            "recheck_after_secs",
            "verify_interval_secs",
            "verify_reads_per_hour",
            "record_types",
        ],
    ),
    (
        "agent",
        &[
            "mode",
            "owner_id",
            "cluster",
            "workers",
            "host_ip",
            "host_ipv6",
            "imds_endpoint",
            "container_address",
            "shutdown_grace_secs",
            "lookup_retries",
            "lookup_retry_delay_secs",
            "reconcile_interval_secs",
            "register_when",
            "deregister_delay_secs",
            "state_dir",
        ],
    ),
    (
        "janitor",
        &[
            "interval_secs",
            "grace_secs",
            "max_owners_per_cycle",
            "zone_read_per_sec",
        ],
    ),
    (
        "health",
        &[
            "listen",
            "metrics_listen",
            "stream_down_limit_secs",
            "records",
        ],
    ),
    ("log", &["format", "level"]),
];

/// Invalid settings: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct SettingsError(pub Vec<String>);

/// Where records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write to the hosted zone.
    Route53,
    /// Log planned changes, write nothing.
    DryRun,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// `[docker]`.
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// Socket path (without `unix://`).
    pub socket: String,
    /// Service label key.
    pub label: String,
    /// Label key whose value picks the container port to publish.
    pub port_label: String,
    /// Label key whose value picks the record types of one container (as `route53.record_types`).
    pub records_label: String,
    /// How long Docker may stay unreachable.
    pub reconnect_budget: Duration,
}

/// `[ecs]`.
#[derive(Debug, Clone)]
pub struct EcsSettings {
    /// Introspection base URL; `None` when disabled.
    pub introspection_url: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Tries per lookup (≥ 1).
    pub attempts: usize,
    /// ECS API endpoint override (emulators); `None`: the SDK's regional endpoint.
    pub api_endpoint_url: Option<String>,
    /// `ec2.api_endpoint_url`: the EC2 API endpoint override (emulators) of the janitor's `DescribeInstances`;
    /// `None`: the SDK's (`AWS_ENDPOINT_URL_EC2`, else the regional endpoint).
    pub ec2_endpoint_url: Option<String>,
}

/// `[janitor]`.
#[derive(Debug, Clone)]
pub struct JanitorSettings {
    /// Time between cycles (jittered ±20 %).
    pub interval: Duration,
    /// How long an owner must be seen dead before its records are deleted.
    pub grace: Duration,
    /// The most owners one cycle removes (also never more than a quarter of the cluster); 0: none, report only.
    pub max_owners_per_cycle: usize,
    /// Least time between two pages of the janitor's zone read (`1 / janitor.zone_read_per_sec`).
    pub zone_pace: Duration,
}

/// `[route53]`.
#[derive(Debug, Clone)]
pub struct Route53Settings {
    /// Hosted zone id, without `/hostedzone/`.
    pub hosted_zone_id: String,
    /// Zone name, when configured.
    pub zone_name: Option<ZoneName>,
    /// Endpoint override.
    pub endpoint_url: Option<String>,
    /// Region override.
    pub region: Option<String>,
    /// Record TTL.
    pub ttl: i64,
    /// Record weight.
    pub weight: i64,
    /// Quarantine of persistently failing changes.
    pub quarantine: Duration,
    /// Client-side request rate.
    pub max_requests_per_sec: f64,
    /// Client-side burst.
    pub burst: u32,
    /// Start-up jitter before the first request.
    pub startup_jitter: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// After an ambiguous failure, the names are read again this much later (a late-landing change shows then).
    pub recheck_after: Duration,
    /// Targeted re-read of every name this agent holds records under; `None` when disabled.
    pub verify_interval: Option<Duration>,
    /// The verification's reads per hour of one agent, at most.
    pub verify_reads_per_hour: f64,
    /// The record types the agent may publish.
    pub record_types: RecordTypeSet,
}

/// A validated, non-empty set of record types (`route53.record_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTypeSet {
    /// `A` (IPv4).
    pub a: bool,
    /// `AAAA` (IPv6).
    pub aaaa: bool,
    /// `SRV` (port and per-instance or per-task target).
    pub srv: bool,
}

impl Default for RecordTypeSet {
    fn default() -> Self {
        Self {
            a: true,
            aaaa: true,
            srv: true,
        }
    }
}

/// `[agent]`.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// Route53 or dry run.
    pub mode: Mode,
    /// Owner id override.
    pub owner_id: Option<String>,
    /// Cluster override.
    pub cluster: Option<String>,
    /// Registrar workers (1–64).
    pub workers: usize,
    /// Host IPv4 for bridge and host-network containers; overrides IMDS `local-ipv4`.
    pub host_ip: Option<Ipv4Addr>,
    /// Host IPv6; overrides IMDS `ipv6`.
    pub host_ipv6: Option<Ipv6Addr>,
    /// IMDS endpoint (`http(s)://host[:port]`); `None`: `AWS_EC2_METADATA_SERVICE_ENDPOINT` or the SDK default.
    pub imds_endpoint: Option<String>,
    /// Publish Docker's own container address for bridge containers (routable container networks only).
    pub container_address: bool,
    /// Drain deadline.
    pub shutdown_grace: Duration,
    /// Retries of a failed address lookup.
    pub lookup_retries: u32,
    /// Delay between them.
    pub lookup_retry_delay: Duration,
    /// Periodic reconcile interval; `None` when disabled.
    pub reconcile_interval: Option<Duration>,
    /// Register containers with a healthcheck only while healthy.
    pub register_when_healthy: bool,
    /// How long a stopping container's record stays before it is removed (zero: at once).
    pub deregister_delay: Duration,
    /// Where the journal of what this agent has written is kept; `None`: no journal (every start reads the zone).
    pub state_dir: Option<std::path::PathBuf>,
    /// Ignore the journal at this start and read the zone in full (`sync --once --full`; not a config key).
    pub full_read: bool,
}

/// `[health]`.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Event stream outage tolerated by `/readyz`.
    pub stream_down_limit: Duration,
    /// Serve `/records`.
    pub records: bool,
    /// A second address serving `/metrics` only, for a scraper; `None`: metrics on `listen` only.
    pub metrics_listen: Option<SocketAddr>,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// Filter directive.
    pub level: String,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[docker]`.
    pub docker: DockerSettings,
    /// `[ecs]`.
    pub ecs: EcsSettings,
    /// `[route53]`.
    pub route53: Route53Settings,
    /// `[agent]`.
    pub agent: AgentSettings,
    /// `[health]`.
    pub health: HealthSettings,
    /// `[janitor]`.
    pub janitor: JanitorSettings,
    /// `[log]`.
    pub log: LogSettings,
}

/// Loads the layers: defaults, then `file` (if any), then the process environment.
pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
    let env: HashMap<String, String> = std::env::vars().collect();
    load_from(
        file.map(|p| File::from(p).format(FileFormat::Toml).required(true)),
        env,
    )
}

/// Loads from explicit layers (tests pass strings and a map instead of touching the process environment).
pub fn load_from(
    file: Option<File<config::FileSourceFile, FileFormat>>,
    env: HashMap<String, String>,
) -> Result<Settings, SettingsError> {
    let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
    if let Some(f) = file {
        builder = builder.add_source(f);
    }
    let env = Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("__")
        .separator("__")
        .source(Some(env));
    let cfg = builder
        .add_source(env)
        .build()
        .map_err(|e| SettingsError(vec![e.to_string()]))?;
    validate(&cfg)
}

/// Loads defaults plus a TOML string (for tests and `check-config`).
pub fn from_toml(toml: &str) -> Result<Settings, SettingsError> {
    let cfg = Config::builder()
        .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
        .add_source(File::from_str(toml, FileFormat::Toml))
        .build()
        .map_err(|e| SettingsError(vec![e.to_string()]))?;
    validate(&cfg)
}

mod checks;
mod validate;

pub use validate::validate;

#[cfg(test)]
mod tests;
