//! Faults and restarts through the real parts: each test ends with the zone's records equal to the running
//! labelled containers, and the foreign record in the zone unchanged.

use std::time::Duration;

use crate::support::agent::{run_once, Agent};
use crate::support::docker::{Container, Spec};
use crate::support::moto::Rec;
use crate::support::wait_for_result;
use crate::World;

fn foreign(w: &World) -> Rec {
    Rec {
        name: w.name_of("web"),
        set_identifier: "hand-made".into(),
        weight: 3,
        ttl: 300,
        values: vec!["192.0.2.7".into()],
    }
}

/// Our record under the foreign record's name: Route53 forces one TTL per weighted group, so it adopts the
/// foreign writer's TTL instead of rewriting it.
fn beside_foreign(w: &World, tid: &str, ip: &str) -> Rec {
    Rec {
        ttl: foreign(w).ttl,
        ..w.expected("web", tid, ip)
    }
}

#[test]
fn sync_once_registers_running_containers_removes_stale_ones_and_exits_zero() {
    let w = World::new("once");
    let (_c, tid) = w.bridge_task("web", 0);
    let stale = beside_foreign(&w, "0123456789abcdef0123456789abcdef", "10.9.9.9");
    w.moto.put(&w.zone_id, &stale);
    w.moto.put(&w.zone_id, &foreign(&w));
    let (status, _, err) = run_once(&["sync", "--once"], &w.config());
    assert_eq!(status.code(), Some(0), "{err}");
    let mut expected = vec![beside_foreign(&w, &tid, crate::HOST_IP), foreign(&w)];
    expected.sort();
    assert_eq!(w.records(), expected);
}

#[test]
fn agent_killed_mid_burst_then_restarted_converges() {
    let w = World::new("sigkill");
    w.moto.put(&w.zone_id, &foreign(&w));
    let mut agent = w.agent();
    agent.wait_ready();
    let tasks: Vec<_> = (0..6).map(|n| w.bridge_task("web", n)).collect();
    agent.kill(); // SIGKILL in the middle of the burst: no drain, no goodbye
    tasks[0].0.stop();
    tasks[3].0.stop();
    let late = w.bridge_task("web", 6);
    let mut agent = w.agent();
    agent.wait_ready();
    let mut expected: Vec<Rec> = tasks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != 3)
        .map(|(_, (_c, tid))| beside_foreign(&w, tid, crate::HOST_IP))
        .collect();
    expected.push(beside_foreign(&w, &late.1, crate::HOST_IP));
    expected.push(foreign(&w));
    w.wait_records(expected);
}

#[test]
fn ecs_agent_down_while_a_task_starts_then_back_registers_it() {
    let w = World::new("ecsdown");
    w.moto.put(&w.zone_id, &foreign(&w));
    let config = w.config().replace(
        "[agent]\n",
        "[agent]\nreconcile_interval_secs = 3\nlookup_retries = 1\n",
    );
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    w.ecs.set_tasks_down(true);
    // awsvpc: only the ECS agent knows the address, so nothing can be registered while it is down.
    let (_app, _pause, tid) = w.awsvpc_task("web", "10.20.30.41");
    std::thread::sleep(Duration::from_secs(30)); // the ECS agent is down for 30 s, longer than a lookup's whole retry budget
    assert_eq!(
        w.records(),
        vec![foreign(&w)],
        "nothing to register while the ECS agent is down"
    );
    assert!(
        agent.logs().contains("giving up until the next sync"),
        "{}",
        agent.logs()
    );
    w.ecs.set_tasks_down(false);
    let mut expected = vec![beside_foreign(&w, &tid, "10.20.30.41"), foreign(&w)];
    expected.sort();
    w.wait_records(expected);
}

#[test]
fn malformed_introspection_answers_are_logged_and_retried_never_a_crash() {
    let w = World::new("garbage");
    let config = w
        .config()
        .replace("[agent]\n", "[agent]\nreconcile_interval_secs = 3\n");
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    w.ecs.set_tasks_garbage(true);
    let (_app, _pause, tid) = w.awsvpc_task("web", "10.20.30.42");
    let logged = wait_for_result(Duration::from_secs(10), || {
        agent.logs().contains("malformed JSON")
    });
    assert!(logged, "{}", agent.logs());
    assert!(w.records().is_empty());
    w.ecs.set_tasks_garbage(false);
    w.wait_records(vec![w.expected("web", &tid, "10.20.30.42")]);
    assert!(agent.is_running());
}

/// A labelled container that ignores SIGTERM (so `docker stop` leaves it running until its timeout), once it
/// has its record.
fn registered_slow_stopper(w: &World) -> Container {
    let c = Container::run(Spec {
        name: &format!("r53d-{}-slow", w.name),
        labels: vec![(w.label.clone(), "web".into())],
        ignore_term: true,
        ..Default::default()
    });
    assert!(
        wait_for_result(crate::CONVERGE, || w.records().len() == 1),
        "registered"
    );
    c
}

#[test]
fn kill_removes_the_record_before_the_container_exits() {
    let w = World::new("killfirst");
    let mut agent = w.agent();
    agent.wait_ready();
    let c = registered_slow_stopper(&w);
    let mut stopping = c.stop_in_background(20); // SIGTERM is ignored: the container runs for 20 s more
    assert!(
        wait_for_result(Duration::from_secs(10), || w.records().is_empty()),
        "the kill event removes the record"
    );
    assert!(
        c.is_running(),
        "the record went before the container exited"
    );
    let _ = stopping.kill();
    let _ = stopping.wait();
}

#[test]
fn a_deregistration_delay_keeps_the_record_while_the_container_stops_then_removes_it() {
    let w = World::new("deregdelay");
    let config = w
        .config()
        .replace("[agent]\n", "[agent]\nderegister_delay_secs = 4\n");
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    let c = registered_slow_stopper(&w);
    let mut stopping = c.stop_in_background(30);
    let seen = wait_for_result(Duration::from_secs(10), || {
        agent.logs().contains("after the deregistration delay")
    });
    assert!(seen, "the kill event was handled: {}", agent.logs());
    assert_eq!(w.records().len(), 1, "kept during the delay");
    assert!(
        wait_for_result(Duration::from_secs(10), || w.records().is_empty()),
        "removed once the delay has passed"
    );
    assert!(
        c.is_running(),
        "the record went before the container exited"
    );
    let _ = stopping.kill();
    let _ = stopping.wait();
}

#[test]
fn with_register_when_healthy_a_container_is_registered_only_while_healthy() {
    let w = World::new("health");
    let config = w
        .config()
        .replace("[agent]\n", "[agent]\nregister_when = \"healthy\"\n");
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    let checked = Container::run(Spec {
        name: &format!("r53d-{}-hc", w.name),
        labels: vec![(w.label.clone(), "web".into())],
        healthcheck: true,
        ..Default::default()
    });
    let plain = Container::run(Spec {
        name: &format!("r53d-{}-plain", w.name),
        labels: vec![(w.label.clone(), "api".into())],
        ..Default::default()
    });
    let names = || w.records().into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert!(
        wait_for_result(crate::CONVERGE, || names() == vec![w.name_of("api")]),
        "a container without a healthcheck registers at once"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        names(),
        vec![w.name_of("api")],
        "not registered while the healthcheck fails"
    );
    checked.exec(&["touch", "/ok"]);
    assert!(
        wait_for_result(crate::CONVERGE, || names().len() == 2),
        "registered once healthy:\n{}",
        agent.logs()
    );
    checked.exec(&["rm", "/ok"]);
    assert!(
        wait_for_result(crate::CONVERGE, || names() == vec![w.name_of("api")]),
        "removed when unhealthy"
    );
    drop(plain);
}

#[test]
fn route53_throttling_5xx_and_timeouts_lose_nothing() {
    use crate::support::faulty::{Fault, FaultyRoute53};
    let w = World::new("r53faults");
    w.moto.put(&w.zone_id, &foreign(&w));
    let proxy = FaultyRoute53::start(&w.moto.url);
    let config = w.config().replace(&w.moto.url, &proxy.url).replace(
        "[agent]\n",
        "request_timeout_secs = 1\nrecheck_after_secs = 4\n[agent]\n",
    );
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    // A change that times out for the agent and lands after its re-read: the container stops meanwhile, so the
    // record appears late, and the recheck must find and remove it.
    proxy.inject([Fault::Delay(Duration::from_millis(2500))]);
    let (late, late_tid) = w.bridge_task("web", 9);
    let late_rec = beside_foreign(&w, &late_tid, crate::HOST_IP);
    let sent = wait_for_result(Duration::from_secs(10), || proxy.counts() == (1, 0));
    assert!(sent, "the delayed change was never sent");
    let mut stopping = late.stop_in_background(5);
    let landed = wait_for_result(Duration::from_secs(10), || w.records().contains(&late_rec));
    assert!(landed, "the late change never landed");
    w.wait_records(vec![foreign(&w)]);
    stopping.wait().unwrap();
    proxy.inject([
        Fault::Throttle,
        Fault::Unavailable,
        Fault::PriorRequestNotComplete,
        Fault::Throttle,
        Fault::Unavailable,
    ]);
    let tasks: Vec<_> = (0..4).map(|n| w.bridge_task("web", n)).collect();
    let mut expected: Vec<Rec> = tasks
        .iter()
        .map(|(_c, tid)| beside_foreign(&w, tid, crate::HOST_IP))
        .collect();
    expected.push(foreign(&w));
    w.wait_records(expected.clone());
    tasks[1].0.stop();
    expected.remove(1);
    w.wait_records(expected);
    let (injected, queued) = proxy.counts();
    assert_eq!(queued, 0, "every fault was served ({injected} injected)");
    assert!(
        agent.logs().contains("Route53 request failed; retrying"),
        "{}",
        agent.logs()
    );
}

/// Route53 rejects the next change's credentials as expired: the agent refreshes them, retries, and keeps
/// running; the record lands.
#[test]
fn credentials_rejected_as_expired_are_refreshed_and_the_change_retried() {
    use crate::support::faulty::{Fault, FaultyRoute53};
    let w = World::new("r53expired");
    let proxy = FaultyRoute53::start(&w.moto.url);
    let config = w.config().replace(&w.moto.url, &proxy.url);
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    proxy.inject([Fault::ExpiredToken]);
    let (_c, tid) = w.bridge_task("web", 0);
    w.wait_records(vec![w.expected("web", &tid, crate::HOST_IP)]);
    assert_eq!(proxy.counts(), (1, 0), "the fault was served");
    let logs = agent.logs();
    assert!(
        logs.contains("Route53 rejected the credentials as expired; refreshing them."),
        "{logs}"
    );
    assert!(agent.is_running(), "{logs}");
}

/// One worker and an ECS agent that hangs on one container's lookup: another container's stop still reaches
/// Route53 within seconds (lookups run side by side; a stop never waits behind one).
#[test]
fn a_hanging_lookup_holds_up_no_other_containers_stop() {
    let w = World::new("hol");
    let config = w.config().replace("workers = 3", "workers = 1");
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    let (a, a_tid) = w.bridge_task("web", 0);
    w.wait_records(vec![w.expected("web", &a_tid, crate::HOST_IP)]);
    // The next task's lookup hangs (the ECS agent stuck on it), on the same (only) worker.
    let b = w.bridge_task_hanging("web", 1);
    std::thread::sleep(Duration::from_millis(500));
    let t0 = std::time::Instant::now();
    a.stop();
    let gone = wait_for_result(Duration::from_secs(5), || w.records().is_empty());
    assert!(
        gone,
        "the stop waited behind the hanging lookup ({:?}):\n{}",
        t0.elapsed(),
        agent.logs()
    );
    eprintln!(
        "hol: stop reached Route53 {:?} after docker stop returned",
        t0.elapsed()
    );
    drop(b);
}

/// A registered container that resolves to "not registered" later (here: ECS set its task's desired status to
/// STOPPED, seen at a reconcile) loses its record; before, a skip only logged and the record stayed.
#[test]
fn a_registered_task_that_ecs_is_stopping_loses_its_record_at_the_next_lookup() {
    let w = World::new("skipgo");
    let config = w
        .config()
        .replace("[agent]\n", "[agent]\nreconcile_interval_secs = 2\n");
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    let (_stays, stays_tid) = w.bridge_task("web", 0);
    let (_c, tid) = w.bridge_task("web", 1);
    let both = vec![
        w.expected("web", &stays_tid, crate::HOST_IP),
        w.expected("web", &tid, crate::HOST_IP),
    ];
    let mut both_sorted = both.clone();
    both_sorted.sort();
    w.wait_records(both_sorted);
    w.ecs.set_desired(&tid, "STOPPED");
    w.wait_records(vec![both[0].clone()]);
    assert!(
        agent.logs().contains("the ECS task is stopping"),
        "{}",
        agent.logs()
    );
}

/// A record inherited at launch whose task ECS is stopping goes at the new agent's lookup, like a record this
/// agent wrote itself (a definite "not registrable"), without waiting for the container's stop.
#[test]
fn an_inherited_record_of_a_task_ecs_is_stopping_goes_at_the_lookup() {
    let w = World::new("inheritstop");
    let mut first = w.agent();
    first.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    w.wait_records(vec![w.expected("web", &tid, crate::HOST_IP)]);
    first.kill();
    w.ecs.set_desired(&tid, "STOPPED");
    let mut second = w.agent();
    second.wait_ready();
    let gone = wait_for_result(Duration::from_secs(10), || w.records().is_empty());
    assert!(
        gone,
        "the stopping task's inherited record stayed:\n{}",
        second.logs()
    );
    assert!(
        second.logs().contains("the ECS task is stopping"),
        "{}",
        second.logs()
    );
}

/// A record inherited at launch whose container is listed but cannot be looked up (the ECS agent is down, and
/// only it knows an awsvpc address) stays while the container runs (no blank DNS), and goes with the container's
/// stop, not at the next listing.
#[test]
fn an_inherited_record_of_a_container_never_registered_goes_with_its_stop() {
    let w = World::new("inherit");
    let config = w
        .config()
        .replace("[agent]\n", "[agent]\nlookup_retries = 0\n");
    let mut first = Agent::start(&config, w.port);
    first.wait_ready();
    let (app, _pause, tid) = w.awsvpc_task("web", "10.20.30.42");
    let rec = w.expected("web", &tid, "10.20.30.42");
    w.wait_records(vec![rec.clone()]);
    first.kill();
    w.ecs.set_tasks_down(true);
    let mut second = Agent::start(&config, w.port);
    second.wait_ready();
    let gave_up = wait_for_result(Duration::from_secs(20), || {
        second.logs().contains("giving up until the next sync")
    });
    assert!(gave_up, "{}", second.logs());
    assert_eq!(
        w.records(),
        vec![rec],
        "listed and running: its inherited record stays"
    );
    app.stop();
    let gone = wait_for_result(Duration::from_secs(5), || w.records().is_empty());
    assert!(gone, "the record stayed after the stop:\n{}", second.logs());
}
