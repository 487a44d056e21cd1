//! The SDK's standard endpoint variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ROUTE_53`) reach Route53 when no
//! endpoint is configured, and a configured `route53.endpoint_url` wins over them.

use crate::support::agent::Agent;
use crate::World;

/// A loopback port nothing listens on: requests sent there fail at once.
const DEAD: &str = "http://127.0.0.1:9";

fn registers_an_awsvpc_task(w: &World, config: &str, env: &[(&str, &str)]) {
    let mut agent = Agent::start_with_env(config, w.port, env);
    agent.wait_ready();
    let (_app, _pause, tid) = w.awsvpc_task("web", "10.20.30.50");
    w.wait_records(vec![w.expected("web", &tid, "10.20.30.50")]);
}

#[test]
fn the_sdk_endpoint_variable_for_route53_is_honoured_without_a_configured_endpoint() {
    let w = World::new("ep-env");
    let endpoint_line = format!("endpoint_url = \"{}\"\n", w.moto.url);
    let config = w.config().replace(&endpoint_line, "");
    assert!(!config.contains("endpoint_url"), "{config}");
    registers_an_awsvpc_task(
        &w,
        &config,
        &[("AWS_ENDPOINT_URL_ROUTE_53", w.moto.url.as_str())],
    );
}

#[test]
fn the_generic_sdk_endpoint_variable_is_honoured_too() {
    let w = World::new("ep-global");
    let endpoint_line = format!("endpoint_url = \"{}\"\n", w.moto.url);
    let config = w.config().replace(&endpoint_line, "");
    registers_an_awsvpc_task(&w, &config, &[("AWS_ENDPOINT_URL", w.moto.url.as_str())]);
}

#[test]
fn a_configured_endpoint_wins_over_the_sdk_endpoint_variables() {
    let w = World::new("ep-config");
    let env = [
        ("AWS_ENDPOINT_URL", DEAD),
        ("AWS_ENDPOINT_URL_ROUTE_53", DEAD),
    ];
    registers_an_awsvpc_task(&w, &w.config(), &env);
}
