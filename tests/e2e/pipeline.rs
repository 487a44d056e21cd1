//! Containers on a real Docker Engine become weighted A records in moto, and go away when they stop.

use std::time::Duration;

use crate::support::docker::{Container, Spec};
use crate::support::ecs::CLUSTER;
use crate::World;

#[test]
fn awsvpc_task_is_registered_with_its_eni_address_and_removed_on_stop() {
    let w = World::new("awsvpc");
    let mut agent = w.agent();
    agent.wait_ready();
    // The pause container holds the task's network namespace (--network none; the ENI is CNI's business).
    let (app, _pause, tid) = w.awsvpc_task("web", "10.20.30.40");
    w.wait_records(vec![w.expected("web", &tid, "10.20.30.40")]);
    app.stop();
    w.wait_records(vec![]);
}

#[test]
fn bridge_task_is_registered_with_the_instance_address_never_its_bridge_address() {
    let w = World::new("bridge");
    let mut agent = w.agent();
    agent.wait_ready();
    let (_c, tid) = w.bridge_task("api", 0);
    w.wait_records(vec![w.expected("api", &tid, crate::HOST_IP)]);
}

#[test]
fn three_tasks_of_a_service_share_a_name_and_stopping_one_leaves_two() {
    let w = World::new("three");
    let mut agent = w.agent();
    agent.wait_ready();
    let tasks: Vec<_> = (0..3).map(|n| w.bridge_task("web", n)).collect();
    let expected: Vec<_> = tasks
        .iter()
        .map(|(_c, tid)| w.expected("web", tid, crate::HOST_IP))
        .collect();
    w.wait_records(expected.clone());
    let ids: std::collections::BTreeSet<_> =
        w.records().into_iter().map(|r| r.set_identifier).collect();
    assert_eq!(ids.len(), 3, "distinct SetIdentifiers");
    tasks[1].0.stop();
    w.wait_records(vec![expected[0].clone(), expected[2].clone()]);
}

#[test]
fn containers_that_are_not_ecs_tasks_are_keyed_by_container_id_and_bad_labels_skipped() {
    let w = World::new("plain");
    let mut agent = w.agent();
    agent.wait_ready();
    let good = Container::run(Spec {
        name: &format!("r53d-{}-good", w.name),
        labels: vec![(w.label.clone(), "plain".into())],
        network: None,
        ..Default::default()
    });
    let long_label = "a".repeat(64);
    let bad_values = ["not a name!", "ünïcode", long_label.as_str(), ""];
    let bad: Vec<Container> = bad_values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            Container::run(Spec {
                name: &format!("r53d-{}-bad{i}", w.name),
                labels: vec![(w.label.clone(), value.to_string())],
                network: None,
                ..Default::default()
            })
        })
        .collect();
    let set_identifier = format!(
        "r53d:{CLUSTER}@{}:{}:c-{}",
        crate::support::ecs::SCOPE,
        crate::support::imds::INSTANCE_ID,
        &good.id[..32]
    );
    let expected = crate::support::moto::Rec {
        set_identifier,
        ..w.expected("plain", "x", crate::HOST_IP)
    };
    w.wait_records(vec![expected]);
    let reported = crate::support::wait_for_result(Duration::from_secs(10), || {
        let logs = agent.logs();
        bad.iter().all(|c| {
            logs.lines()
                .any(|l| l.contains(&c.id) && l.contains("Skipping container"))
        })
    });
    assert!(
        reported,
        "every bad label is reported with its container id:\n{}",
        agent.logs()
    );
}
