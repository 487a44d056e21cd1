//! Tests of the metrics: every family is exported from the start, the janitor's counters as they count, the
//! records owned by type.

use std::net::Ipv4Addr;

use super::*;
use crate::core::record::RecordValue;

#[test]
fn every_family_is_exported() {
    let m = Metrics::default();
    m.events.with_label_values(&["start"]).inc();
    m.requests.with_label_values(&["change", "ok"]).inc();
    m.queue_depth.with_label_values(&["registrar"]).set(0);
    let text = m.encode();
    for family in [
        "r53d_docker_events_total{action=\"start\"} 1",
        "r53d_route53_requests_total{operation=\"change\",outcome=\"ok\"} 1",
        "r53d_route53_batch_size_bucket",
        "r53d_records_owned{type=\"SRV\"} 0",
        "r53d_registrations_total{type=\"AAAA\"} 0",
        "r53d_instance_address_known 0",
        "r53d_last_sync_timestamp_seconds 0",
        "r53d_janitor_records_removed_total 0",
    ] {
        assert!(text.contains(family), "{family} missing in\n{text}");
    }
}

#[test]
fn janitor_counters_are_exported_as_they_count() {
    let m = Metrics::default();
    let janitor = m.janitor.clone();
    janitor.records_removed.inc_by(3);
    assert!(m.encode().contains("r53d_janitor_records_removed_total 3"));
    janitor.records_removed.inc_by(2);
    assert_eq!(janitor.last_cycle.get(), 0);
    janitor.touch();
    assert!(janitor.last_cycle.get() > 1_600_000_000);
    let text = m.encode();
    assert!(
        text.contains("r53d_janitor_records_removed_total 5"),
        "{text}"
    );
    assert!(!text.contains("r53d_janitor_last_cycle_timestamp_seconds 0"));
}

#[test]
fn records_owned_counts_each_type() {
    let m = Metrics::default();
    let a = |i| {
        Record::new(
            "a.example.com.".into(),
            format!("s{i}"),
            RecordValue::A(Ipv4Addr::LOCALHOST),
            60,
            1,
        )
    };
    m.set_records_owned(&[a(1), a(2)]);
    let text = m.encode();
    assert!(text.contains("r53d_records_owned{type=\"A\"} 2"), "{text}");
    assert!(
        text.contains("r53d_records_owned{type=\"SRV\"} 0"),
        "{text}"
    );
    m.set_records_owned(&[]);
    assert!(m.encode().contains("r53d_records_owned{type=\"A\"} 0"));
}
