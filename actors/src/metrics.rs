//! The agent's Prometheus metrics (`prometheus` crate), in one registry served at `/metrics`.
//!
//! Family names are stable (they are part of the agent's interface; dashboards and alerts use them):
//!
//! | family | type | labels | meaning |
//! |---|---|---|---|
//! | `r53d_docker_events_total` | counter | `action` | container events received, by action verb |
//! | `r53d_docker_event_stream_up` | gauge | | 1 while the Docker event stream is connected |
//! | `r53d_registrations_total` | counter | `type` | records created or updated in Route53, by record type |
//! | `r53d_deregistrations_total` | counter | `type` | records deleted from Route53, by record type |
//! | `r53d_route53_requests_total` | counter | `operation`, `outcome` | Route53 requests by kind and result |
//! | `r53d_route53_throttled_total` | counter | | requests answered `Throttling` / `PriorRequestNotComplete` |
//! | `r53d_route53_batch_size` | histogram | | changes per change batch sent |
//! | `r53d_route53_consecutive_errors` | gauge | | failed Route53 requests since the last success |
//! | `r53d_route53_conflicts_total` | counter | | batches rejected with `InvalidChangeBatch` |
//! | `r53d_route53_quarantined_total` | counter | | changes put aside after failing on their own |
//! | `r53d_route53_refused_full_total` | counter | | new records refused: the name holds 100 weighted records |
//! | `r53d_route53_drift_total` | counter | | own records found different from what the agent expected |
//! | `r53d_launch_read_pages_total` | counter | | pages of the zone read at a start without a journal |
//! | `r53d_queue_depth` | gauge | `queue` | work waiting: `registrar` (container events), `route53` (changes) |
//! | `r53d_records_owned` | gauge | `type` | records this agent holds, by record type |
//! | `r53d_last_sync_timestamp_seconds` | gauge | | Unix time of the last successful sync with Docker |
//! | `r53d_skipped_labels_total` | counter | | containers skipped for an unusable service label |
//! | `r53d_srv_skipped_total` | counter | | containers published without an SRV record (port label bad, ambiguous ports) |
//! | `r53d_no_instance_address_total` | counter | | bridge/host containers not registered: the instance's address is unknown |
//! | `r53d_instance_address_known` | gauge | | 1 while this host's own address is known (instance metadata or override) |
//! | `r53d_janitor_cycles_total` | counter | | janitor cycles that judged the zone's owners |
//! | `r53d_janitor_owners_found_dead_total` | counter | | dead hosts whose records were purged |
//! | `r53d_janitor_records_removed_total` | counter | | records the janitor deleted |
//! | `r53d_janitor_cycles_skipped_total` | counter | | janitor cycles skipped (the zone unreadable) |
//! | `r53d_janitor_last_cycle_timestamp_seconds` | gauge | | Unix time of the last janitor cycle (0: none yet) |
//! | `r53d_janitor_brake_engaged` | gauge | | 1 while the brake holds removals (too many owners look dead at once) |
//! | `r53d_janitor_brakes_total` | counter | | janitor cycles whose brake held removals |
//! | `r53d_janitor_owners_unjudged` | gauge | | owners no authority can judge (ECS Anywhere, configured ids): never removed |
//! | `r53d_janitor_ec2_errors_total` | counter | | janitor cycles in which EC2 could not be asked (nobody judged) |
//!
//! The janitor counts into its families directly ([`JanitorCounters`], held in [`Metrics::janitor`]).
//!
//! The actors hold an `Arc<Metrics>` beside (not inside) the [`crate::health::HealthState`]; this module depends
//! on nothing of the agent but [`crate::core`].

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::core::events::WATCHED_ACTIONS;
use crate::core::record::{Record, RecordType};

/// The janitor's counters (`r53d_janitor_*`): it counts into them directly, and logs their values every cycle.
#[derive(Clone)]
pub struct JanitorCounters {
    /// Cycles that read the zone and judged its owners.
    pub cycles: IntCounter,
    /// Owners declared dead past the grace period whose records were all removed (deleted, or found already
    /// gone) by one purge. An owner with a record left (changed since it was read, refused, or still failing) is
    /// counted by the later cycle that removes the rest.
    pub owners_found_dead: IntCounter,
    /// Records the janitor deleted.
    pub records_removed: IntCounter,
    /// Cycles skipped because the zone could not be read.
    pub cycles_skipped: IntCounter,
    /// Unix time (seconds) of the last cycle that completed; 0 before the first.
    pub last_cycle: IntGauge,
    /// 1 while the last cycle's brake held removals (alert on it), else 0.
    pub brake_engaged: IntGauge,
    /// Cycles whose brake held removals.
    pub brakes: IntCounter,
    /// Owners of the last cycle that no authority can judge: never removed.
    pub owners_unjudged: IntGauge,
    /// Cycles in which EC2 could not be asked, so nobody was judged.
    pub ec2_errors: IntCounter,
}

impl JanitorCounters {
    fn new(r: &Registry) -> Self {
        Self {
            cycles: counter(
                r,
                "r53d_janitor_cycles_total",
                "Janitor cycles that judged the zone's owners.",
            ),
            owners_found_dead: counter(
                r,
                "r53d_janitor_owners_found_dead_total",
                "Dead hosts whose records were purged.",
            ),
            records_removed: counter(
                r,
                "r53d_janitor_records_removed_total",
                "Records the janitor deleted.",
            ),
            cycles_skipped: counter(
                r,
                "r53d_janitor_cycles_skipped_total",
                "Janitor cycles skipped (the zone unreadable).",
            ),
            last_cycle: gauge(
                r,
                "r53d_janitor_last_cycle_timestamp_seconds",
                "Unix time of the last janitor cycle (0: none yet).",
            ),
            brake_engaged: gauge(
                r,
                "r53d_janitor_brake_engaged",
                "1 while the janitor's brake holds removals (too many owners look dead at once).",
            ),
            brakes: counter(
                r,
                "r53d_janitor_brakes_total",
                "Janitor cycles whose brake held removals.",
            ),
            owners_unjudged: gauge(
                r,
                "r53d_janitor_owners_unjudged",
                "Owners no authority can judge (ECS Anywhere hosts, configured owner ids); their records are never removed.",
            ),
            ec2_errors: counter(
                r,
                "r53d_janitor_ec2_errors_total",
                "Janitor cycles in which EC2 could not be asked, so nobody was judged.",
            ),
        }
    }

    /// Marks a completed cycle now.
    pub fn touch(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_cycle.set(now as i64);
    }
}

impl std::fmt::Debug for JanitorCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JanitorCounters").finish_non_exhaustive()
    }
}

/// Every metric of the agent, and the registry they are in.
pub struct Metrics {
    registry: Registry,
    /// `r53d_docker_events_total{action}`.
    pub events: IntCounterVec,
    /// `r53d_docker_event_stream_up`.
    pub stream_up: IntGauge,
    /// `r53d_registrations_total`.
    pub registrations: IntCounterVec,
    /// `r53d_deregistrations_total`.
    pub deregistrations: IntCounterVec,
    /// `r53d_route53_requests_total{operation,outcome}`.
    pub requests: IntCounterVec,
    /// `r53d_route53_throttled_total`.
    pub throttled: IntCounter,
    /// `r53d_route53_batch_size`.
    pub batch_size: Histogram,
    /// `r53d_route53_consecutive_errors`.
    pub consecutive_errors: IntGauge,
    /// `r53d_route53_conflicts_total`.
    pub conflicts: IntCounter,
    /// `r53d_route53_quarantined_total`.
    pub quarantined: IntCounter,
    /// `r53d_route53_refused_full_total`.
    pub refused_full: IntCounter,
    /// `r53d_route53_drift_total`.
    pub drift: IntCounter,
    /// `r53d_launch_read_pages_total`.
    pub launch_read_pages: IntCounter,
    /// `r53d_queue_depth{queue}`.
    pub queue_depth: IntGaugeVec,
    /// `r53d_records_owned`.
    pub records_owned: IntGaugeVec,
    /// `r53d_last_sync_timestamp_seconds`.
    pub last_sync: Gauge,
    /// `r53d_skipped_labels_total`.
    pub skipped_labels: IntCounter,
    /// `r53d_srv_skipped_total`.
    pub srv_skipped: IntCounter,
    /// `r53d_no_instance_address_total`.
    pub no_instance_address: IntCounter,
    /// `r53d_instance_address_known`.
    pub instance_address_known: IntGauge,
    /// `r53d_janitor_*`.
    pub janitor: JanitorCounters,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

impl Default for Metrics {
    fn default() -> Self {
        let r = Registry::new();
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("r53d_route53_batch_size", "Changes per change batch sent.")
                .buckets(vec![1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0]),
        )
        .expect("valid metric");
        r.register(Box::new(batch_size.clone()))
            .expect("unique metric");
        let queue_depth = IntGaugeVec::new(
            Opts::new("r53d_queue_depth", "Work waiting, by queue."),
            &["queue"],
        )
        .expect("valid metric");
        r.register(Box::new(queue_depth.clone()))
            .expect("unique metric");
        let last_sync = Gauge::new(
            "r53d_last_sync_timestamp_seconds",
            "Unix time of the last successful sync with Docker.",
        )
        .expect("valid metric");
        r.register(Box::new(last_sync.clone()))
            .expect("unique metric");
        Self {
            events: counter_vec(
                &r,
                "r53d_docker_events_total",
                "Container events received.",
                &["action"],
            ),
            stream_up: gauge(
                &r,
                "r53d_docker_event_stream_up",
                "1 while the Docker event stream is connected.",
            ),
            registrations: counter_vec(
                &r,
                "r53d_registrations_total",
                "Records created or updated in Route53, by record type.",
                &["type"],
            ),
            deregistrations: counter_vec(
                &r,
                "r53d_deregistrations_total",
                "Records deleted from Route53, by record type.",
                &["type"],
            ),
            requests: counter_vec(
                &r,
                "r53d_route53_requests_total",
                "Route53 requests.",
                &["operation", "outcome"],
            ),
            throttled: counter(
                &r,
                "r53d_route53_throttled_total",
                "Route53 requests answered Throttling or PriorRequestNotComplete.",
            ),
            consecutive_errors: gauge(
                &r,
                "r53d_route53_consecutive_errors",
                "Failed Route53 requests since the last success.",
            ),
            conflicts: counter(
                &r,
                "r53d_route53_conflicts_total",
                "Change batches rejected with InvalidChangeBatch.",
            ),
            quarantined: counter(
                &r,
                "r53d_route53_quarantined_total",
                "Changes put aside after failing on their own.",
            ),
            refused_full: counter(
                &r,
                "r53d_route53_refused_full_total",
                "New records refused: the name holds 100 weighted records.",
            ),
            drift: counter(
                &r,
                "r53d_route53_drift_total",
                "Own records found different from what the agent expected.",
            ),
            launch_read_pages: counter(
                &r,
                "r53d_launch_read_pages_total",
                "Pages of the zone read at a start without a journal.",
            ),
            records_owned: gauge_vec(
                &r,
                "r53d_records_owned",
                "Records this agent holds, by record type.",
                &["type"],
            ),
            skipped_labels: counter(
                &r,
                "r53d_skipped_labels_total",
                "Containers skipped for an unusable service label.",
            ),
            srv_skipped: counter(
                &r,
                "r53d_srv_skipped_total",
                "Containers published without an SRV record (port label bad, ambiguous ports).",
            ),
            no_instance_address: counter(
                &r,
                "r53d_no_instance_address_total",
                "Bridge/host containers not registered because the instance's address is unknown.",
            ),
            instance_address_known: gauge(
                &r,
                "r53d_instance_address_known",
                "1 while this host's own address is known (instance metadata or override).",
            ),
            batch_size,
            queue_depth,
            last_sync,
            janitor: JanitorCounters::new(&r),
            registry: r,
        }
        .with_initial_series()
    }
}

/// Route53 operations, likewise.
const OPERATIONS: &[&str] = &[
    "change_resource_record_sets",
    "list_resource_record_sets",
    "get_hosted_zone",
];

impl Metrics {
    /// Creates the labelled series that should exist from the start.
    fn with_initial_series(self) -> Self {
        for a in WATCHED_ACTIONS {
            self.events.with_label_values(&[a]);
        }
        for op in OPERATIONS {
            self.requests.with_label_values(&[op, "ok"]);
        }
        for q in ["registrar", "route53"] {
            self.queue_depth.with_label_values(&[q]);
        }
        for t in RecordType::ALL {
            self.registrations.with_label_values(&[t.as_str()]);
            self.deregistrations.with_label_values(&[t.as_str()]);
            self.records_owned.with_label_values(&[t.as_str()]);
        }
        self
    }

    /// The registry, for other parts to add their families to.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Sets `r53d_last_sync_timestamp_seconds` to now.
    pub fn synced_now(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_sync.set(now.as_secs_f64());
    }

    /// Sets `r53d_records_owned{type}` to the count of each type among `records` (all this agent holds).
    pub fn set_records_owned(&self, records: &[Record]) {
        for t in RecordType::ALL {
            let n = records.iter().filter(|r| r.key.record_type == t).count();
            self.records_owned
                .with_label_values(&[t.as_str()])
                .set(n as i64);
        }
    }

    /// Everything in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "Encoding metrics failed.");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
