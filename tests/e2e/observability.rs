//! The observability pack through the real tools: promtool checks the alerting rules under `deploy/prometheus`
//! and runs their unit tests, and lints the `/metrics` body of a running agent that has published a record.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{env, run_with_input, wait_for};
use crate::World;

/// Runs `promtool args` in the repository's `deploy/prometheus`, with `stdin` as its input.
fn promtool(args: &[&str], stdin: &str) -> Output {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    run_with_input(
        Command::new(env("R53D_E2E_PROMTOOL"))
            .args(args)
            .current_dir(dir),
        stdin,
    )
}

/// promtool's exit status and what it printed, for an assertion's message.
fn report(out: &Output) -> String {
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    )
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let check = promtool(&["check", "rules", "alerts.yaml"], "");
    assert!(check.status.success(), "{}", report(&check));
    assert!(report(&check).contains("SUCCESS"), "{}", report(&check));
    let tests = promtool(&["test", "rules", "alerts.test.yaml"], "");
    assert!(tests.status.success(), "{}", report(&tests));
    assert!(report(&tests).contains("SUCCESS"), "{}", report(&tests));
}

#[test]
fn scraped_metrics_pass_promtool_check_metrics() {
    let w = World::new("promlint");
    let mut agent = w.agent();
    agent.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    w.wait_records(vec![w.expected("web", &tid, crate::HOST_IP)]);
    let body = wait_for(
        "the change in the histograms",
        Duration::from_secs(10),
        || {
            let (_, body) = agent.get("/metrics")?;
            body.contains("r53d_event_to_change_seconds_count 1\n")
                .then_some(body)
        },
    );
    let build_info = format!(
        "r53d_build_info{{revision=\"{}\",version=\"{}\"}} 1\n",
        route53_discovery_actors::build_info::REVISION,
        env!("CARGO_PKG_VERSION")
    );
    for series in [
        "r53d_ready 1\n",
        build_info.as_str(),
        "r53d_route53_request_duration_seconds_count{operation=\"change_resource_record_sets\"}",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(body.contains(series), "{series} missing in\n{body}");
    }
    let lint = promtool(&["check", "metrics"], &body);
    assert!(lint.status.success(), "{}\n{body}", report(&lint));
    let printed = lint
        .stdout
        .iter()
        .chain(&lint.stderr)
        .any(|b| !b.is_ascii_whitespace());
    assert!(!printed, "promtool found problems: {}", report(&lint));
}
