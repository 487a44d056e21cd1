//! The Docker daemon restarts under the agent: the event stream breaks, the daemon stops every container, those
//! with a restart policy come back (perhaps at a new address), new ones start — the agent reconnects, lists again
//! and converges. This test holds Docker alone ([`World::alone`]).

use std::time::Duration;

use crate::support::dockerd;
use crate::support::moto::Rec;
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
    w.wait_records(vec![
        w.expected("web", &gone_tid, &gone.bridge_ip()),
        w.expected("web", &back_tid, &back.bridge_ip()),
        foreign.clone(),
    ]);

    dockerd::restart();
    let (new, new_tid) = w.bridge_task("web", 2); // started while the agent is still reconnecting
    assert!(
        wait_for_result(Duration::from_secs(30), || back.is_running()),
        "the restart-policy container came back"
    );
    assert!(!gone.is_running());
    w.wait_records(vec![
        w.expected("web", &back_tid, &back.bridge_ip()),
        w.expected("web", &new_tid, &new.bridge_ip()),
        foreign,
    ]);
    assert!(
        agent
            .logs()
            .contains("Docker event stream down; reconnecting"),
        "{}",
        agent.logs()
    );
    assert!(agent.is_running(), "the agent rode out the restart");
}
