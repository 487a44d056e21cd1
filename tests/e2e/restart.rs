//! The Docker daemon restarts under the agent: the event stream breaks, the daemon stops every container, those
//! with a restart policy come back (perhaps at a new address), new ones start — the agent reconnects, lists again
//! and converges. This test holds Docker alone ([`World::alone`]). And the event stream breaks while the daemon
//! runs on and forgets more events than it keeps: only listing again after the reconnect can find what happened.

use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::dockerd;
use crate::support::moto::Rec;
use crate::support::sockproxy::SocketProxy;
use crate::support::wait_for_result;
use crate::World;

#[test]
fn docker_daemon_restarted_while_containers_start_and_stop_converges() {
    let w = World::alone("dockerd");
    let foreign = Rec {
        name: w.name_of("web"),
        set_identifier: "hand-made".into(),
        weight: 3,
        ttl: 300,
        values: vec!["192.0.2.7".into()],
    };
    w.moto.put(&w.zone_id, &foreign);
    let mut agent = w.agent();
    agent.wait_ready();
    let (gone, gone_tid) = w.bridge_task("web", 0); // stopped by the daemon's shutdown, not restarted
    let (back, back_tid) = w.bridge_task_with("web", 1, true); // restart policy: back after the restart
                                                               // Beside the foreign record, ours adopt its TTL (one TTL per weighted group).
    let ours = |tid: &str| Rec {
        ttl: foreign.ttl,
        ..w.expected("web", tid, crate::HOST_IP)
    };
    w.wait_records(vec![ours(&gone_tid), ours(&back_tid), foreign.clone()]);

    dockerd::restart();
    let (_new, new_tid) = w.bridge_task("web", 2); // started while the agent is still reconnecting
    assert!(
        wait_for_result(Duration::from_secs(30), || back.is_running()),
        "the restart-policy container came back"
    );
    assert!(!gone.is_running());
    w.wait_records(vec![ours(&back_tid), ours(&new_tid), foreign.clone()]);
    assert!(
        agent
            .logs()
            .contains("Docker event stream down; reconnecting"),
        "{}",
        agent.logs()
    );
    assert!(agent.is_running(), "the agent rode out the restart");
}

/// More events than the daemon keeps (256), all of them volume events that do not concern the agent.
fn flood_events(tag: &str) {
    let names: Vec<String> = (0..150).map(|i| format!("r53d-{tag}-v{i}")).collect();
    std::thread::scope(|s| {
        for chunk in names.chunks(19) {
            s.spawn(move || {
                for n in chunk {
                    docker_cli(&["volume", "create", "--label", "r53d-test=1", n]);
                }
            });
        }
    });
    let mut rm = vec!["volume", "rm"];
    rm.extend(names.iter().map(String::as_str));
    docker_cli(&rm);
}

fn docker_cli(args: &[&str]) {
    let ok = std::process::Command::new("docker")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "docker {args:?}");
}

#[test]
fn events_lost_while_the_stream_was_down_are_recovered_by_listing_again() {
    let w = World::new("gap");
    let proxy = SocketProxy::start(std::path::Path::new("/var/run/docker.sock"));
    let config = w.config().replace(
        "[docker]\n",
        &format!("[docker]\nsocket = \"{}\"\n", proxy.path.display()),
    );
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    let (stops, stops_tid) = w.bridge_task("web", 0);
    let (_stays, stays_tid) = w.bridge_task("web", 1);
    w.wait_records(vec![
        w.expected("web", &stops_tid, crate::HOST_IP),
        w.expected("web", &stays_tid, crate::HOST_IP),
    ]);
    proxy.cut();
    stops.stop();
    let (_starts, starts_tid) = w.bridge_task("web", 2);
    // The daemon forgets the stop and the start: replaying the stream with `since` cannot bring them back.
    flood_events(&w.name);
    proxy.restore();
    w.wait_records(vec![
        w.expected("web", &stays_tid, crate::HOST_IP),
        w.expected("web", &starts_tid, crate::HOST_IP),
    ]);
    assert!(agent.is_running());
}
