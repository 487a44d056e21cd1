//! Validation: reads every key of a built [`Config`] into typed settings, collecting every problem at once.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use config::{Config, Value};
use route53_discovery_actors::core::naming::ZoneName;
use route53_discovery_actors::core::ownership::{Owner, MAX_OWNER};
use serde::de::DeserializeOwned;

use super::checks::{distinct_labels, endpoint_url, label_key, record_type_set};
use super::*;

/// Reads typed values out of a [`Config`], collecting every problem.
struct Reader<'a> {
    cfg: &'a Config,
    errors: Vec<String>,
}

impl Reader<'_> {
    /// An optional value; an empty string counts as unset.
    fn opt<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        match self.cfg.get::<Value>(key) {
            Err(_) => None,
            Ok(v) if v.clone().into_string().is_ok_and(|s| s.is_empty()) => None,
            Ok(v) => match v.try_deserialize::<T>() {
                Ok(t) => Some(t),
                Err(e) => {
                    self.errors.push(format!("{key}: {e}"));
                    None
                }
            },
        }
    }

    /// A value the defaults always provide.
    fn req<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        let v = self.opt(key);
        if v.is_none()
            && !self
                .errors
                .iter()
                .any(|e| e.starts_with(&format!("{key}:")))
        {
            self.errors
                .push(format!("{key}: required ({})", env_name(key)));
        }
        v
    }

    /// A value that must also pass `check`.
    fn checked<T: DeserializeOwned>(
        &mut self,
        key: &str,
        required: bool,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Option<T> {
        let v = if required {
            self.req(key)
        } else {
            self.opt(key)
        }?;
        match check(&v) {
            Ok(()) => Some(v),
            Err(e) => {
                self.errors.push(format!("{key}: {e}"));
                None
            }
        }
    }

    fn secs(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<Duration> {
        self.checked(key, true, |v: &u64| in_range(*v, &range))
            .map(Duration::from_secs)
    }
}

fn env_name(key: &str) -> String {
    format!(
        "set it in the config file or as {ENV_PREFIX}__{}",
        key.replace('.', "__").to_uppercase()
    )
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    v: T,
    range: &std::ops::RangeInclusive<T>,
) -> Result<(), String> {
    if range.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{v} is out of range {}..={}",
            range.start(),
            range.end()
        ))
    }
}

fn unknown_keys(cfg: &Config) -> Vec<String> {
    let known: BTreeMap<&str, &[&str]> = KNOWN.iter().copied().collect();
    let Ok(root) = cfg.clone().try_deserialize::<HashMap<String, Value>>() else {
        return vec![];
    };
    let mut out = Vec::new();
    for (section, value) in root {
        let Some(keys) = known.get(section.as_str()) else {
            out.push(format!(
                "{section}: unknown section (known: {})",
                known.keys().copied().collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        let Ok(table) = value.into_table() else {
            out.push(format!("{section}: must be a table"));
            continue;
        };
        for key in table.keys().filter(|k| !keys.contains(&k.as_str())) {
            out.push(format!(
                "{section}.{key}: unknown key (known in [{section}]: {})",
                keys.join(", ")
            ));
        }
    }
    out.sort();
    out
}

/// Validates a built [`Config`] into [`Settings`].
pub fn validate(cfg: &Config) -> Result<Settings, SettingsError> {
    let mut r = Reader {
        cfg,
        errors: unknown_keys(cfg),
    };
    let docker = docker(&mut r);
    let ecs = ecs(&mut r);
    let agent = agent(&mut r);
    let route53 = route53(&mut r, agent.as_ref().map(|a| a.mode));
    let health = health(&mut r);
    let log = log(&mut r);
    let janitor = janitor(&mut r);
    if let (Some(a), Some(e)) = (&agent, &ecs) {
        if e.introspection_url.is_none() && a.cluster.is_none() {
            r.errors.push(
                "agent.cluster: required when ecs.introspection_url is \"\" (no ECS agent to ask)"
                    .into(),
            );
        }
    }
    match (docker, ecs, route53, agent, health, log, janitor) {
        (
            Some(docker),
            Some(ecs),
            Some(route53),
            Some(agent),
            Some(health),
            Some(log),
            Some(janitor),
        ) if r.errors.is_empty() => Ok(Settings {
            docker,
            ecs,
            route53,
            agent,
            health,
            janitor,
            log,
        }),
        _ => Err(SettingsError(r.errors)),
    }
}

fn docker(r: &mut Reader) -> Option<DockerSettings> {
    let socket = r.checked("docker.socket", true, |s: &String| nonempty(s));
    let label = r.checked("docker.label", true, label_key);
    let port_label = r.checked("docker.port_label", true, label_key);
    let records_label = r.checked("docker.records_label", true, label_key);
    let budget = r.secs("docker.reconnect_budget_secs", 1..=86_400);
    r.errors.extend(distinct_labels(&[
        ("docker.label", &label),
        ("docker.port_label", &port_label),
        ("docker.records_label", &records_label),
    ]));
    Some(DockerSettings {
        socket: socket?.trim_start_matches("unix://").to_string(),
        label: label?,
        port_label: port_label?,
        records_label: records_label?,
        reconnect_budget: budget?,
    })
}

fn nonempty(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(())
    }
}

fn http_url(s: &String) -> Result<(), String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(format!("{s:?} is not an http:// or https:// URL")),
    }
}

fn ecs(r: &mut Reader) -> Option<EcsSettings> {
    let url = r.checked("ecs.introspection_url", false, http_url);
    let timeout = r.checked("ecs.timeout_ms", true, |v: &u64| {
        in_range(*v, &(100..=60_000))
    });
    let attempts = r.checked("ecs.attempts", true, |v: &usize| in_range(*v, &(1..=20)));
    let api = r.checked("ecs.api_endpoint_url", false, http_url);
    let ec2 = r.checked("ec2.api_endpoint_url", false, http_url);
    Some(EcsSettings {
        introspection_url: url,
        timeout: Duration::from_millis(timeout?),
        attempts: attempts?,
        api_endpoint_url: api,
        ec2_endpoint_url: ec2,
    })
}

fn janitor(r: &mut Reader) -> Option<JanitorSettings> {
    let interval = r.secs("janitor.interval_secs", 1..=86_400);
    let grace = r.secs("janitor.grace_secs", 1..=604_800);
    let max_owners = r.checked("janitor.max_owners_per_cycle", true, |v: &usize| {
        in_range(*v, &(0..=10_000))
    });
    let zone_rate = r.checked("janitor.zone_read_per_sec", true, |v: &f64| {
        if (0.01..=100.0).contains(v) {
            Ok(())
        } else {
            Err(format!("{v} is out of range 0.01..=100"))
        }
    });
    Some(JanitorSettings {
        interval: interval?,
        grace: grace?,
        max_owners_per_cycle: max_owners?,
        zone_pace: Duration::from_secs_f64(1.0 / zone_rate?),
    })
}

fn route53(r: &mut Reader, mode: Option<Mode>) -> Option<Route53Settings> {
    let zone_id = r.checked("route53.hosted_zone_id", mode == Some(Mode::Route53), |s: &String| {
        let id = s.trim_start_matches("/hostedzone/");
        if !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(format!("{s:?} is not a hosted zone id (letters and digits, e.g. Z0123456789ABCDEFGHIJ)"))
        }
    });
    let zone_name = r.checked(
        "route53.zone_name",
        mode == Some(Mode::DryRun),
        |s: &String| ZoneName::new(s).map(|_| ()).map_err(|e| e.to_string()),
    );
    let endpoint = r.checked("route53.endpoint_url", false, http_url);
    let region: Option<String> = r.opt("route53.region");
    let ttl = r.checked("route53.ttl", true, |v: &i64| {
        in_range(*v, &(0..=2_147_483_647))
    });
    let weight = r.checked("route53.weight", true, |v: &i64| in_range(*v, &(0..=255)));
    let limits = route53_limits(r);
    let record_types = record_types(r);
    let hosted_zone_id = zone_id.map(|s| s.trim_start_matches("/hostedzone/").to_string());
    Some(Route53Settings {
        hosted_zone_id: if mode == Some(Mode::DryRun) {
            hosted_zone_id.unwrap_or_else(|| "DRYRUN".into())
        } else {
            hosted_zone_id?
        },
        zone_name: zone_name.map(|z| ZoneName::new(&z).expect("validated")),
        endpoint_url: endpoint,
        region,
        ttl: ttl?,
        weight: weight?,
        record_types: record_types?,
        ..limits?
    })
}

/// `route53.record_types`: a TOML list, or a comma-separated string (the environment), of A, AAAA, SRV.
fn record_types(r: &mut Reader) -> Option<RecordTypeSet> {
    const KEY: &str = "route53.record_types";
    let list: Vec<String> = match r.cfg.get::<String>(KEY) {
        Ok(s) => s.split(',').map(|t| t.trim().to_string()).collect(),
        Err(_) => r.req::<Vec<String>>(KEY)?,
    };
    match record_type_set(&list) {
        Ok(set) => Some(set),
        Err(problems) => {
            r.errors
                .extend(problems.into_iter().map(|p| format!("{KEY}: {p}")));
            None
        }
    }
}

/// The request-shaping keys of `[route53]`, in a partial [`Route53Settings`] the caller completes.
fn route53_limits(r: &mut Reader) -> Option<Route53Settings> {
    let quarantine = r.secs("route53.quarantine_secs", 1..=86_400);
    let rate = r.checked("route53.max_requests_per_sec", true, |v: &f64| {
        if (0.01..=100.0).contains(v) {
            Ok(())
        } else {
            Err(format!("{v} is out of range 0.01..=100"))
        }
    });
    let burst = r.checked("route53.burst", true, |v: &u32| in_range(*v, &(1..=1000)));
    let jitter = r.secs("route53.startup_jitter_secs", 0..=3600);
    let timeout = r.secs("route53.request_timeout_secs", 1..=300);
    let recheck = r.secs("route53.recheck_after_secs", 1..=3600);
    let verify = r.secs("route53.verify_interval_secs", 0..=604_800);
    let verify_reads = r.checked("route53.verify_reads_per_hour", true, |v: &f64| {
        if (0.1..=36_000.0).contains(v) {
            Ok(())
        } else {
            Err(format!("{v} is out of range 0.1..=36000"))
        }
    });
    Some(Route53Settings {
        hosted_zone_id: String::new(),
        zone_name: None,
        endpoint_url: None,
        region: None,
        ttl: 0,
        weight: 0,
        quarantine: quarantine?,
        max_requests_per_sec: rate?,
        burst: burst?,
        startup_jitter: jitter?,
        request_timeout: timeout?,
        recheck_after: recheck?,
        verify_interval: verify.filter(|d| !d.is_zero()),
        verify_reads_per_hour: verify_reads?,
        record_types: RecordTypeSet::default(),
    })
}

fn agent(r: &mut Reader) -> Option<AgentSettings> {
    let mode = r.checked("agent.mode", true, |s: &String| match s.as_str() {
        "route53" | "dry-run" => Ok(()),
        _ => Err(format!("{s:?} must be \"route53\" or \"dry-run\"")),
    });
    let owner = r.checked("agent.owner_id", false, |s: &String| {
        Owner::new("c", s)
            .map(|_| ())
            .map_err(|_| format!("{s:?} must be 1-{MAX_OWNER} characters of A-Z a-z 0-9 _ . -"))
    });
    let cluster = r.checked("agent.cluster", false, |s: &String| {
        Owner::new(s, "o").map(|_| ()).map_err(|e| e.to_string())
    });
    let workers = r.checked("agent.workers", true, |v: &usize| in_range(*v, &(1..=64)));
    let host_ip = r.checked("agent.host_ip", false, |s: &String| {
        s.parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| format!("{s:?} is not an IPv4 address"))
    });
    let host_ipv6 = r.checked("agent.host_ipv6", false, |s: &String| {
        s.parse::<Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("{s:?} is not an IPv6 address"))
    });
    let imds = r.checked("agent.imds_endpoint", false, endpoint_url);
    let container_address = r.req::<bool>("agent.container_address");
    let grace = r.secs("agent.shutdown_grace_secs", 1..=120);
    let retries = r.checked("agent.lookup_retries", true, |v: &u32| {
        in_range(*v, &(0..=1000))
    });
    let delay = r.secs("agent.lookup_retry_delay_secs", 1..=3600);
    let reconcile = r
        .secs("agent.reconcile_interval_secs", 0..=86_400)
        .map(Some);
    let when = r.checked("agent.register_when", true, |s: &String| match s.as_str() {
        "running" | "healthy" => Ok(()),
        _ => Err(format!("{s:?} must be \"running\" or \"healthy\"")),
    });
    let dereg = r.secs("agent.deregister_delay_secs", 0..=300);
    let state_dir = r.checked(
        "agent.state_dir",
        false,
        |s: &String| match std::path::Path::new(s).is_absolute() {
            true => Ok(()),
            false => Err(format!(
                "{s:?} must be an absolute path (or \"\" for no journal)"
            )),
        },
    );
    Some(AgentSettings {
        mode: if mode? == "dry-run" {
            Mode::DryRun
        } else {
            Mode::Route53
        },
        owner_id: owner,
        cluster,
        workers: workers?,
        host_ip: host_ip.map(|s| s.parse().expect("validated")),
        host_ipv6: host_ipv6.map(|s| s.parse().expect("validated")),
        imds_endpoint: imds,
        container_address: container_address?,
        shutdown_grace: grace?,
        lookup_retries: retries?,
        lookup_retry_delay: delay?,
        reconcile_interval: reconcile?.filter(|d| !d.is_zero()),
        register_when_healthy: when? == "healthy",
        deregister_delay: dereg?,
        state_dir: state_dir.map(std::path::PathBuf::from),
        full_read: false,
    })
}

fn health(r: &mut Reader) -> Option<HealthSettings> {
    let listen = r.checked("health.listen", true, |s: &String| {
        s.parse::<SocketAddr>()
            .map(|_| ())
            .map_err(|_| format!("{s:?} is not an address:port"))
    });
    let limit = r.secs("health.stream_down_limit_secs", 1..=86_400);
    let records = r.req::<bool>("health.records");
    let metrics = r.checked("health.metrics_listen", false, |s: &String| {
        s.parse::<SocketAddr>()
            .map(|_| ())
            .map_err(|_| format!("{s:?} is not an address:port"))
    });
    Some(HealthSettings {
        metrics_listen: metrics.map(|s| s.parse().expect("validated")),
        listen: listen?.parse().expect("validated"),
        stream_down_limit: limit?,
        records: records?,
    })
}

fn log(r: &mut Reader) -> Option<LogSettings> {
    let format = r.checked("log.format", true, |s: &String| match s.as_str() {
        "human" | "json" => Ok(()),
        _ => Err(format!("{s:?} must be \"human\" or \"json\"")),
    });
    let level = r.req::<String>("log.level");
    Some(LogSettings {
        format: if format? == "json" {
            LogFormat::Json
        } else {
            LogFormat::Human
        },
        level: level?,
    })
}
