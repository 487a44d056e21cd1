//! Launch sync, shutdown, failure, health and configuration: the agent's life around the pipeline.

use std::time::{Duration, Instant};

use crate::support::agent::{run_once, Agent};
use crate::support::docker::{Container, Spec};
use crate::support::ecs::CLUSTER;
use crate::support::moto::Rec;
use crate::support::wait_for;
use crate::World;

#[test]
fn launch_sync_registers_running_containers_and_removes_only_our_stale_records() {
    let w = World::new("launch");
    let (_c, tid) = w.bridge_task("web", 0);
    let stale = w.expected("web", "deadbeefdeadbeefdeadbeefdeadbeef", "10.9.9.9");
    let other_owner = Rec {
        set_identifier: format!("r53d:{CLUSTER}:another-instance:t-cafe"),
        ..stale.clone()
    };
    let foreign = Rec {
        set_identifier: "hand-made".into(),
        weight: 7,
        ..stale.clone()
    };
    for r in [&stale, &other_owner, &foreign] {
        w.moto.put(&w.zone_id, r);
    }
    let mut agent = w.agent();
    agent.wait_ready();
    let mut expected = vec![
        w.expected("web", &tid, crate::HOST_IP),
        other_owner,
        foreign,
    ];
    expected.sort();
    assert_eq!(w.records(), expected, "ready means the launch sync is done");
}

#[test]
fn sigterm_drains_and_exits_zero_leaving_records_of_running_containers() {
    let w = World::new("sigterm");
    let mut agent = w.agent();
    agent.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    let expected = vec![w.expected("web", &tid, crate::HOST_IP)];
    w.wait_records(expected.clone());
    agent.terminate();
    let status = agent.wait_exit(Duration::from_secs(25));
    assert_eq!(status.code(), Some(0), "{}", agent.logs());
    assert!(agent.logs().contains("Draining"), "{}", agent.logs());
    // Every actor stops by itself (no timer of the default settings keeps one alive), well before the deadline.
    assert!(
        !agent.logs().contains("Drain deadline reached"),
        "{}",
        agent.logs()
    );
    assert_eq!(w.records(), expected, "an agent restart must not blank DNS");
}

/// Host shutdown or a spot reclaim: the agent and the host's tasks get SIGTERM together. The agent reads the
/// tasks' stop events before it stops watching, so their records are gone when it exits; a task that keeps
/// running keeps its record.
#[test]
fn sigterm_together_with_the_hosts_tasks_removes_their_records_and_keeps_the_running_ones() {
    let w = World::new("shutdown");
    let mut agent = w.agent();
    agent.wait_ready();
    let stopping: Vec<_> = (0..3).map(|n| w.bridge_task("web", n)).collect();
    let (_keeper, keep_tid) = w.bridge_task("keep", 9);
    let keep = w.expected("keep", &keep_tid, crate::HOST_IP);
    let mut all: Vec<_> = stopping
        .iter()
        .map(|(_, tid)| w.expected("web", tid, crate::HOST_IP))
        .collect();
    all.push(keep.clone());
    w.wait_records(all);
    let stops: Vec<_> = stopping
        .iter()
        .map(|(c, _)| c.stop_in_background(10))
        .collect();
    agent.terminate();
    let status = agent.wait_exit(Duration::from_secs(25));
    assert_eq!(status.code(), Some(0), "{}", agent.logs());
    assert_eq!(
        w.records(),
        vec![keep],
        "the stopped tasks' records go before the agent exits:\n{}",
        agent.logs()
    );
    for mut s in stops {
        let _ = s.wait();
    }
}

#[test]
fn a_missing_hosted_zone_is_a_clear_error_and_a_non_zero_exit() {
    let w = World::new("nozone");
    let config = w.config().replace(&w.zone_id, "ZNOSUCHZONE0000000000");
    let mut agent = Agent::start(&config, w.port);
    let status = agent.wait_exit(Duration::from_secs(25));
    assert_eq!(status.code(), Some(1));
    let logs = agent.logs();
    assert!(
        logs.contains("ZNOSUCHZONE0000000000") && logs.contains("NoSuchHostedZone"),
        "{logs}"
    );
}

#[test]
fn readyz_is_503_until_the_launch_sync_and_200_after() {
    let w = World::new("health");
    w.ecs.set_metadata_up(false); // the ECS agent is still starting: no identity yet, so no sync
    let mut agent = w.agent();
    let healthz = wait_for("/healthz", Duration::from_secs(20), || {
        agent.get("/healthz").filter(|(s, _)| *s == 200)
    });
    assert_eq!(healthz.1, "ok\n");
    let (status, body) = agent.get("/readyz").unwrap();
    assert_eq!((status, body.as_str()), (503, "launch sync in progress\n"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        agent.get("/readyz").unwrap().0,
        503,
        "still not ready while the ECS agent is down"
    );
    w.ecs.set_metadata_up(true);
    agent.wait_ready();
    assert_eq!(agent.get("/readyz").unwrap(), (200, "ready\n".to_string()));
}

#[test]
fn bad_config_names_every_wrong_key_and_exits_64() {
    let w = World::new("badconfig");
    let bad = format!(
        "{}\n[extra]\nx = 1\n",
        w.config()
            .replace("workers = 3", "workers = 0")
            .replace("[docker]\n", "[docker]\nsockt = \"/x\"\n")
    );
    for args in [&["check-config"][..], &[][..]] {
        let (status, _out, err) = run_once(args, &bad);
        assert_eq!(status.code(), Some(64), "{args:?}: {err}");
        for key in ["docker.sockt", "agent.workers", "extra"] {
            assert!(err.contains(key), "{args:?}: {key} not named in:\n{err}");
        }
    }
}

/// The README's run command: `config/local.toml`, as shipped (only the label and the port are this test's).
#[test]
fn dry_run_against_the_local_docker_serves_the_planned_records_without_a_warning() {
    let w = World::new("dryrun");
    let listen = format!("127.0.0.1:{}", w.port);
    let env = [
        ("R53D__DOCKER__LABEL", w.label.as_str()),
        ("R53D__HEALTH__LISTEN", listen.as_str()),
    ];
    let config = include_str!("../../config/local.toml");
    let mut agent = Agent::start_with_env(config, w.port, &env);
    agent.wait_ready();
    let c = Container::run(Spec {
        name: &format!("r53d-{}-c", w.name),
        labels: vec![(w.label.clone(), "web".into())],
        network: None,
        ..Default::default()
    });
    let body = wait_for("/records to list the container", crate::CONVERGE, || {
        agent
            .get("/records")
            .map(|(_, b)| b)
            .filter(|b| b.contains("127.0.0.1"))
    });
    let records: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(records[0]["name"], "web.local.example.com.");
    assert_eq!(records[0]["type"], "A");
    assert_eq!(
        records[0]["value"], "127.0.0.1",
        "agent.host_ip, never the bridge address"
    );
    assert_eq!(
        records[0]["set_identifier"],
        format!("r53d:local:local:c-{}", &c.id[..32])
    );
    assert!(w.records().is_empty(), "dry run writes nothing");
    let logs = agent.logs();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" WARN") || l.contains("ERROR"))
        .collect();
    assert!(warnings.is_empty(), "warnings in a dry run: {warnings:#?}");
}

/// The promise: a live owner's record deleted (by hand, or by a janitor that misjudged) is back within one
/// verification interval (`route53.verify_interval_secs`, ±20 %; a small cluster does not stretch it) plus the
/// time to read and write. Here the interval is 2 s.
#[test]
fn a_live_owners_record_deleted_by_hand_is_back_within_the_verification_interval() {
    let w = World::new("by-hand");
    let interval = Duration::from_secs(2);
    let config = w.config().replace(
        "burst = 20\n",
        &format!(
            "burst = 20\nverify_interval_secs = {}\nverify_reads_per_hour = 36000.0\n",
            interval.as_secs()
        ),
    );
    let mut agent = Agent::start(&config, w.port);
    agent.wait_ready();
    let (_c, tid) = w.bridge_task("web", 0);
    let expected = vec![w.expected("web", &tid, crate::HOST_IP)];
    w.wait_records(expected.clone());
    w.moto.delete(&w.zone_id, &expected[0]);
    let t0 = Instant::now();
    assert_eq!(w.records(), vec![], "deleted by hand");
    w.wait_records(expected);
    let took = t0.elapsed();
    assert!(
        took <= interval.mul_f64(1.2) + Duration::from_secs(5),
        "back after {took:?}, later than promised"
    );
    assert!(agent
        .logs()
        .contains("Record differs from what this agent expects; fixing it."));
    eprintln!(
        "by-hand: a deleted record was back after {took:?} (verification every {interval:?} ±20 %)"
    );
    agent.terminate();
    assert!(agent.wait_exit(Duration::from_secs(25)).success());
}
