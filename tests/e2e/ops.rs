//! The operations surface through the real parts: `/metrics` parsed by a Prometheus text-format parser (every
//! family present, and moving after events), `/records` as an HTML page, a metrics-only listener, and the
//! `healthcheck` subcommand's exit codes.

use std::time::Duration;

use prometheus_parse::{Scrape, Value};

use crate::support::agent::{free_port, run_once, Agent};
use crate::support::wait_for_result;
use crate::World;

/// Every family the agent promises (`actors/src/metrics.rs`).
const FAMILIES: &[&str] = &[
    "r53d_docker_events_total",
    "r53d_docker_event_stream_up",
    "r53d_registrations_total",
    "r53d_deregistrations_total",
    "r53d_route53_requests_total",
    "r53d_route53_throttled_total",
    "r53d_route53_batch_size",
    "r53d_route53_consecutive_errors",
    "r53d_route53_conflicts_total",
    "r53d_route53_quarantined_total",
    "r53d_route53_refused_full_total",
    "r53d_route53_drift_total",
    "r53d_queue_depth",
    "r53d_records_owned",
    "r53d_last_sync_timestamp_seconds",
    "r53d_skipped_labels_total",
    "r53d_janitor_cycles_total",
    "r53d_janitor_owners_found_dead_total",
    "r53d_janitor_records_removed_total",
    "r53d_janitor_cycles_skipped_total",
    "r53d_janitor_last_cycle_timestamp_seconds",
];

fn scrape(url: &str) -> Scrape {
    let body = ureq::get(url)
        .timeout(Duration::from_secs(2))
        .call()
        .expect("GET /metrics")
        .into_string()
        .unwrap();
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format")
}

/// The value of `metric` with all of `labels` (summed over other labels; a histogram's count).
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.iter().map(|c| c.count).fold(0.0, f64::max),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

#[test]
fn metrics_have_every_family_and_move_after_events() {
    let w = World::new("metrics");
    let metrics_port = free_port();
    let config = w.config().replace(
        "[health]\n",
        &format!("[health]\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n"),
    );
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    let url = format!("http://127.0.0.1:{}/metrics", w.port);
    let before = scrape(&url);
    let families: Vec<&str> = before.docs.keys().map(String::as_str).collect();
    for f in FAMILIES {
        assert!(families.contains(f), "{f} missing; have {families:?}");
    }
    assert!(value(&before, "r53d_last_sync_timestamp_seconds", &[]) > 1.0e9);
    assert_eq!(value(&before, "r53d_docker_event_stream_up", &[]), 1.0);

    let (c, tid) = w.bridge_task("web", 0);
    w.wait_records(vec![w.expected("web", &tid, crate::HOST_IP)]);
    let changes = [
        ("operation", "change_resource_record_sets"),
        ("outcome", "ok"),
    ];
    let after = scrape(&url);
    let start = [("action", "start")];
    assert!(value(&after, "r53d_docker_events_total", &start) >= 1.0);
    assert_eq!(value(&after, "r53d_registrations_total", &[]), 1.0);
    assert_eq!(value(&after, "r53d_records_owned", &[]), 1.0);
    assert!(value(&after, "r53d_route53_requests_total", &changes) >= 1.0);
    assert!(value(&after, "r53d_route53_batch_size", &[]) >= 1.0);
    assert_eq!(value(&after, "r53d_route53_consecutive_errors", &[]), 0.0);

    c.stop();
    w.wait_records(vec![]);
    let stopped = wait_for_result(Duration::from_secs(5), || {
        value(&scrape(&url), "r53d_deregistrations_total", &[]) == 1.0
    });
    assert!(stopped, "deregistration counted");
    let end = scrape(&url);
    assert_eq!(value(&end, "r53d_records_owned", &[]), 0.0);
    assert!(value(&end, "r53d_docker_events_total", &[("action", "die")]) >= 1.0);

    // The metrics-only listener serves /metrics and nothing else.
    let only = format!("http://127.0.0.1:{metrics_port}");
    assert!(scrape(&format!("{only}/metrics"))
        .docs
        .contains_key("r53d_records_owned"));
    match ureq::get(&format!("{only}/records")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("/records on the metrics listener: {other:?}"),
    }
}

#[test]
fn records_page_is_html_for_a_browser_and_json_otherwise() {
    let w = World::new("page");
    let mut agent = w.agent();
    agent.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    let ip = crate::HOST_IP.to_string();
    w.wait_records(vec![w.expected("web", &tid, &ip)]);
    let url = format!("http://127.0.0.1:{}/records", w.port);
    let page = ureq::get(&url)
        .set("Accept", "text/html,application/xhtml+xml")
        .call()
        .unwrap();
    assert!(page.content_type().starts_with("text/html"));
    let html = page.into_string().unwrap();
    assert!(
        html.contains(&format!("<h2>{}</h2>", w.name_of("web"))),
        "{html}"
    );
    assert!(html.contains(&format!("<td>{ip}</td>")), "{html}");
    let body = ureq::get(&url).call().unwrap().into_string().unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json[0]["type"], "A");
    assert_eq!(json[0]["value"], ip.as_str());
    assert!(json[0]["port"].is_null(), "an A record has no port: {json}");
}

#[test]
fn healthcheck_exits_zero_while_the_agent_runs_and_one_when_it_is_down() {
    let w = World::new("hc");
    let mut agent = w.agent();
    agent.wait_ready();
    let (up, _, _) = run_once(&["healthcheck"], &w.config());
    assert_eq!(up.code(), Some(0));
    agent.kill();
    let (down, _, _) = run_once(&["healthcheck"], &w.config());
    assert_eq!(down.code(), Some(1));
}

#[test]
fn at_trace_level_no_credential_and_no_request_body_reaches_the_logs() {
    let w = World::new("secrets");
    let secret = "r53d-e2e-SECRET-do-not-log";
    let env = [
        ("RUST_LOG", "trace"),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_SESSION_TOKEN", "r53d-e2e-TOKEN-do-not-log"),
    ];
    let mut agent = Agent::start_with_env(&w.config(), w.port, &env);
    agent.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    w.wait_records(vec![w.expected("web", &tid, crate::HOST_IP)]);
    let logs = agent.logs();
    assert!(logs.contains("TRACE"), "trace logging is on");
    for leak in [
        secret,
        "r53d-e2e-TOKEN-do-not-log",
        "ChangeResourceRecordSetsRequest",
        "Signature=",
    ] {
        assert!(!logs.contains(leak), "{leak:?} reached the logs");
    }
}
