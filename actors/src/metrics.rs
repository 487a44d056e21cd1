//! The agent's Prometheus metrics (`prometheus` crate), in one registry served at `/metrics`.
//!
//! Family names are stable: they are part of the agent's interface, and dashboards and alerts use them. Every
//! family, with its type, labels and meaning, is listed in `docs/metrics.md`; a test holds that table and the
//! registry to each other, and another checks every name the alerts and the dashboard under `deploy/` use.
//!
//! The janitor counts into its families directly ([`JanitorCounters`], held in [`Metrics::janitor`]).
//! The actors hold an `Arc<Metrics>` beside (not inside) the [`crate::health::HealthState`]; this module depends
//! on nothing of the agent but [`crate::core`] and [`crate::build_info`].

mod families;
mod janitor;
#[cfg(test)]
mod latency_tests;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::process_collector::ProcessCollector;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    TextEncoder,
};

pub use families::Family;
pub use janitor::JanitorCounters;

use crate::build_info::{REVISION, VERSION};
use crate::core::events::WATCHED_ACTIONS;
use crate::core::record::{Record, RecordType};
use families::Families;

/// Buckets of `r53d_route53_request_duration_seconds`: a Route53 request takes some 50 ms to a few seconds.
const REQUEST_BUCKETS: &[f64] = &[0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Buckets of `r53d_event_to_change_seconds`: well under a second when idle, minutes under throttling or a
/// launch read of a large zone.
const EVENT_TO_CHANGE_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Every metric of the agent, and the registry they are in.
pub struct Metrics {
    families: Families,
    /// `r53d_build_info{version,revision}`, always 1.
    pub build_info: IntGaugeVec,
    /// `r53d_ready`: 1 while `/readyz` would answer 200 (set at each scrape).
    pub ready: IntGauge,
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
    /// `r53d_route53_request_duration_seconds{operation}`.
    pub request_duration: HistogramVec,
    /// `r53d_event_to_change_seconds`.
    pub event_to_change: Histogram,
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

impl Default for Metrics {
    fn default() -> Self {
        let mut f = Families::default();
        f.add(ProcessCollector::for_self());
        let last_sync = Gauge::new(
            "r53d_last_sync_timestamp_seconds",
            "Unix time of the last successful sync with Docker.",
        );
        Self {
            build_info: f.gauge_vec(
                "r53d_build_info",
                "The agent's version and git revision; always 1.",
                &["version", "revision"],
            ),
            ready: f.gauge("r53d_ready", "1 while /readyz answers ready (as of the scrape)."),
            events: f.counter_vec("r53d_docker_events_total", "Container events received.", &["action"]),
            stream_up: f.gauge(
                "r53d_docker_event_stream_up",
                "1 while the Docker event stream is connected.",
            ),
            registrations: f.counter_vec(
                "r53d_registrations_total",
                "Records created or updated in Route53, by record type.",
                &["type"],
            ),
            deregistrations: f.counter_vec(
                "r53d_deregistrations_total",
                "Records deleted from Route53, by record type.",
                &["type"],
            ),
            requests: f.counter_vec(
                "r53d_route53_requests_total",
                "Route53 requests.",
                &["operation", "outcome"],
            ),
            request_duration: f.histogram_vec(
                "r53d_route53_request_duration_seconds",
                "Duration of Route53 requests, by operation, whatever their outcome.",
                &["operation"],
                REQUEST_BUCKETS,
            ),
            event_to_change: f.histogram(
                "r53d_event_to_change_seconds",
                "From a Docker event (or listing) reaching the agent to Route53 accepting the change it caused.",
                EVENT_TO_CHANGE_BUCKETS,
            ),
            throttled: f.counter(
                "r53d_route53_throttled_total",
                "Route53 requests answered Throttling or PriorRequestNotComplete.",
            ),
            batch_size: f.histogram(
                "r53d_route53_batch_size",
                "Changes per change batch sent.",
                &[1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0],
            ),
            consecutive_errors: f.gauge(
                "r53d_route53_consecutive_errors",
                "Failed Route53 requests since the last success.",
            ),
            conflicts: f.counter(
                "r53d_route53_conflicts_total",
                "Change batches rejected with InvalidChangeBatch.",
            ),
            quarantined: f.counter(
                "r53d_route53_quarantined_total",
                "Changes put aside after failing on their own.",
            ),
            refused_full: f.counter(
                "r53d_route53_refused_full_total",
                "New records refused: the name holds 100 weighted records.",
            ),
            drift: f.counter(
                "r53d_route53_drift_total",
                "Own records found different from what the agent expected.",
            ),
            launch_read_pages: f.counter(
                "r53d_launch_read_pages_total",
                "Pages of the zone read at a start without a journal.",
            ),
            queue_depth: f.gauge_vec("r53d_queue_depth", "Work waiting, by queue.", &["queue"]),
            records_owned: f.gauge_vec(
                "r53d_records_owned",
                "Records this agent holds, by record type.",
                &["type"],
            ),
            last_sync: f.keep(last_sync.expect("valid metric")),
            skipped_labels: f.counter(
                "r53d_skipped_labels_total",
                "Containers skipped for an unusable service label.",
            ),
            srv_skipped: f.counter(
                "r53d_srv_skipped_total",
                "Containers published without an SRV record (port label bad, ambiguous ports).",
            ),
            no_instance_address: f.counter(
                "r53d_no_instance_address_total",
                "Bridge/host containers not registered because the instance's address is unknown.",
            ),
            instance_address_known: f.gauge(
                "r53d_instance_address_known",
                "1 while this host's own address is known (instance metadata or override).",
            ),
            janitor: JanitorCounters::new(&mut f),
            families: f,
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
        self.build_info
            .with_label_values(&[VERSION, REVISION])
            .set(1);
        for a in WATCHED_ACTIONS {
            self.events.with_label_values(&[a]);
        }
        for op in OPERATIONS {
            self.requests.with_label_values(&[op, "ok"]);
            self.request_duration.with_label_values(&[op]);
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

    /// Every registered family, sorted by name, also those with no series yet.
    pub fn families(&self) -> Vec<Family> {
        self.families.describe()
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

    /// Observes one Route53 request of `operation` that took `took` into
    /// `r53d_route53_request_duration_seconds`.
    pub fn observe_request(&self, operation: &str, took: Duration) {
        let h = self.request_duration.with_label_values(&[operation]);
        h.observe(took.as_secs_f64());
    }

    /// Everything in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.families.registry.gather(), &mut out) {
            tracing::error!(error = %e, "Encoding metrics failed.");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
