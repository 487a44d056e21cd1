//! The registry and every collector in it: families are registered through [`Families`], which keeps a handle on
//! each collector so that every family can be described, also a labelled one with no series yet (which
//! `Registry::gather` leaves out).

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// A family as registered: its name, type and label names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family's name (`r53d_records_owned`).
    pub name: String,
    /// Its type; `None` when its collector produced no family of that name (a process collector without
    /// `/proc`).
    pub kind: Option<MetricType>,
    /// Its variable label names, in order.
    pub labels: Vec<String>,
}

/// One collector held by the registry and by [`Families`] alike.
struct Shared(Arc<dyn Collector>);

impl Collector for Shared {
    fn desc(&self) -> Vec<&Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.collect()
    }
}

/// The registry, and a handle on every collector registered in it.
#[derive(Default)]
pub(super) struct Families {
    pub(super) registry: Registry,
    all: Vec<Arc<dyn Collector>>,
}

impl Families {
    /// Registers `c`; panics on an invalid or duplicate family (a programming error, caught by every test).
    pub(super) fn add<C: Collector + 'static>(&mut self, c: C) {
        let shared: Arc<dyn Collector> = Arc::new(c);
        self.registry
            .register(Box::new(Shared(shared.clone())))
            .expect("unique metric");
        self.all.push(shared);
    }

    pub(super) fn keep<C: Collector + Clone + 'static>(&mut self, c: C) -> C {
        self.add(c.clone());
        c
    }

    pub(super) fn counter(&mut self, name: &str, help: &str) -> IntCounter {
        self.keep(IntCounter::new(name, help).expect("valid metric"))
    }

    pub(super) fn gauge(&mut self, name: &str, help: &str) -> IntGauge {
        self.keep(IntGauge::new(name, help).expect("valid metric"))
    }

    pub(super) fn counter_vec(&mut self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let opts = Opts::new(name, help);
        self.keep(IntCounterVec::new(opts, labels).expect("valid metric"))
    }

    pub(super) fn gauge_vec(&mut self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        let opts = Opts::new(name, help);
        self.keep(IntGaugeVec::new(opts, labels).expect("valid metric"))
    }

    pub(super) fn histogram(&mut self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.keep(Histogram::with_opts(opts).expect("valid metric"))
    }

    pub(super) fn histogram_vec(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.keep(HistogramVec::new(opts, labels).expect("valid metric"))
    }

    /// Every registered family, sorted by name.
    pub(super) fn describe(&self) -> Vec<Family> {
        let mut out = Vec::new();
        for c in &self.all {
            let kinds: HashMap<String, MetricType> = c
                .collect()
                .iter()
                .map(|mf| (mf.name().to_string(), mf.get_field_type()))
                .collect();
            out.extend(c.desc().into_iter().map(|d| Family {
                name: d.fq_name.clone(),
                kind: kinds.get(&d.fq_name).copied(),
                labels: d.variable_labels.clone(),
            }));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
