//! The shipped container image: built from ./Dockerfile by `scripts/test` (on offline base images), run as a
//! container the way an ECS daemon service runs it, against moto and the fake ECS agent.

use std::time::Duration;

use crate::support::image::{agent_image, image_inspect, AgentContainer};
use crate::World;

/// The image-size target (decimal megabytes, as `docker images` shows them).
const MAX_IMAGE_BYTES: u64 = 40_000_000;

#[test]
fn agent_image_registers_a_task_reports_healthy_and_stops_cleanly_on_sigterm() {
    let w = World::new("image");
    let image = agent_image();
    // The image is the Dockerfile's: its HEALTHCHECK runs the binary's own `healthcheck` subcommand.
    let check = image_inspect(&image, "{{json .Config.Healthcheck.Test}}");
    assert_eq!(
        check, r#"["CMD","/usr/local/bin/route53-discovery","healthcheck"]"#,
        "the image's HEALTHCHECK"
    );
    // Built from this checkout: the image's binary names its version and this checkout's revision.
    assert_eq!(
        crate::support::docker::docker(&["run", "--rm", &image, "--version"]),
        format!(
            "route53-discovery {}",
            route53_discovery_actors::build_info::LONG_VERSION
        ),
        "the image's --version"
    );
    let size: u64 = image_inspect(&image, "{{.Size}}").parse().unwrap();
    assert!(
        size <= MAX_IMAGE_BYTES,
        "image {image} is {size} bytes, over the {MAX_IMAGE_BYTES}-byte target"
    );

    let agent = AgentContainer::start(&format!("r53d-{}-agent", w.name), &w.config(), w.port);
    agent.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    let expected = vec![w.expected("web", &tid, crate::HOST_IP)];
    w.wait_records(expected.clone());
    // Docker runs the image's health check (every second here) inside the container: `healthcheck` reaches
    // /healthz on the configured listen address, which R53D_CONFIG gives it.
    agent.wait_health("healthy", Duration::from_secs(30));

    // The agent is PID 1 of its container: `docker stop` sends it SIGTERM, it drains and exits 0, and the records
    // of running containers stay (an agent upgrade does not blank DNS).
    assert_eq!(
        agent.stop(15),
        0,
        "exit code after SIGTERM:\n{}",
        agent.logs()
    );
    assert_eq!(w.records(), expected, "records after the agent stopped");
}
