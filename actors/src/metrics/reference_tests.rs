//! The metrics' references outside the code against the registry: the tables of `docs/metrics.md` both ways
//! (every registered family documented with its type and labels, every documented family registered), and every
//! metric name the Prometheus alerts, their unit tests and the Grafana dashboard under `deploy/` use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use prometheus::proto::MetricType;

use super::{Family, Metrics};

/// A file of the repository, by its path from the repository's root.
fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn type_name(kind: Option<MetricType>) -> &'static str {
    match kind {
        Some(MetricType::COUNTER) => "counter",
        Some(MetricType::GAUGE) => "gauge",
        Some(MetricType::HISTOGRAM) => "histogram",
        Some(MetricType::SUMMARY) => "summary",
        Some(MetricType::UNTYPED) => "untyped",
        None => "not collected",
    }
}

/// The rows of the tables in `text`: family → (type, labels).
fn documented(text: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let unquote = |s: &str| s.trim_matches('`').to_string();
        let labels = cells[3].split(',').map(str::trim).filter(|s| !s.is_empty());
        let row = (cells[2].to_string(), labels.map(unquote).collect());
        assert!(
            rows.insert(unquote(cells[1]), row).is_none(),
            "{line}: twice"
        );
    }
    rows
}

#[test]
fn docs_metrics_md_lists_every_registered_family_and_no_other() {
    let families = Metrics::default().families();
    let docs = documented(&repo_file("docs/metrics.md"));
    assert!(
        families.len() >= 40 && docs.len() >= 40,
        "{families:?} {docs:?}"
    );
    for Family { name, kind, labels } in &families {
        let Some((doc_type, doc_labels)) = docs.get(name) else {
            panic!("{name} is registered but not in docs/metrics.md");
        };
        assert_eq!(doc_type, type_name(*kind), "the type of {name}");
        assert_eq!(doc_labels, labels, "the labels of {name}");
    }
    for name in docs.keys() {
        let registered = families.iter().any(|f| &f.name == name);
        assert!(
            registered,
            "{name} is in docs/metrics.md but not registered"
        );
    }
}

/// Every word of `text` that looks like one of the agent's metric names (`r53d_…`, `process_…`).
fn metric_names(text: &str) -> Vec<&str> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.split(|c: char| !is_word(c))
        .filter(|w| w.starts_with("r53d_") || w.starts_with("process_"))
        .collect()
}

/// True when `name` is a series of a registered family: its name, or a histogram's `_bucket`, `_sum`, `_count`.
fn is_series(families: &[Family], name: &str) -> bool {
    families.iter().any(|f| {
        let histogram = f.kind == Some(MetricType::HISTOGRAM);
        let suffix = name.strip_prefix(f.name.as_str());
        suffix == Some("") || histogram && matches!(suffix, Some("_bucket" | "_sum" | "_count"))
    })
}

#[test]
fn every_metric_name_in_the_alerts_and_the_dashboard_is_registered() {
    let families = Metrics::default().families();
    for path in [
        "deploy/prometheus/alerts.yaml",
        "deploy/prometheus/alerts.test.yaml",
        "deploy/grafana/route53-discovery.json",
    ] {
        let text = repo_file(path);
        let names = metric_names(&text);
        assert!(names.len() >= 10, "{path} uses only {names:?}");
        for name in names {
            assert!(
                is_series(&families, name),
                "{path}: {name} is no registered family"
            );
        }
    }
}

#[test]
fn names_are_told_from_misspellings_and_histogram_series() {
    let families = Metrics::default().families();
    let text = "rate(r53d_route53_throttled_total[5m]) r53d_route53_throtled_total \
                r53d_event_to_change_seconds_bucket r53d_ready_bucket process_open_fds";
    let found: Vec<bool> = metric_names(text)
        .into_iter()
        .map(|n| is_series(&families, n))
        .collect();
    assert_eq!(found, [true, false, true, false, true]);
}
