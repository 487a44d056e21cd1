//! Ownership that cannot collide, end to end: two clusters of one name, in us-east-1 and us-west-2 of moto,
//! share a zone. Each agent learns its region and account from its ECS agent's container instance ARN and
//! writes them into its SetIdentifiers; each janitor judges only its own cluster's records, so neither deletes
//! the other's (moto reports the other region's instances `MISSING`, which the old format took for dead). A
//! record this agent wrote in the legacy format is recognised as its own and migrated at the launch sync.

use std::time::Duration;

use super::{plain, Fleet, GRACE, LIMIT};
use crate::support::agent::{free_port, Agent};
use crate::support::ecs::FakeEcsAgent;
use crate::support::moto::Rec;
use crate::support::moto_ecs::MotoEcs;
use crate::support::spy::Spy;
use crate::support::wait_for;

const EAST: &str = "us-east-1.123456789012";
const WEST: &str = "us-west-2.123456789012";

/// A scoped record of `owner` (as an agent of the cluster in `scope` writes it).
fn scoped(f: &Fleet, scope: &str, owner: &str, n: u8) -> Rec {
    let plain = f.rec(&f.cluster, owner, "web", n);
    Rec {
        set_identifier: plain.set_identifier.replacen(
            &format!("r53d:{}:", f.cluster),
            &format!("r53d:{}@{scope}:", f.cluster),
            1,
        ),
        ..plain
    }
}

/// `f`'s agent config for `owner` without the owner and cluster overrides: both come from the ECS agent, and so
/// does the scope.
fn from_the_ecs_agent(f: &Fleet, owner: &str, port: u16, spy: &Spy) -> String {
    let janitor = format!("interval_secs = 1\ngrace_secs = {}", GRACE.as_secs());
    f.config(owner, port, spy, &janitor).replace(
        &format!("owner_id = \"{owner}\"\ncluster = \"{}\"\n", f.cluster),
        "",
    )
}

#[test]
fn same_named_clusters_in_two_regions_keep_their_records_apart_and_a_legacy_record_is_migrated() {
    let f = Fleet::new("jan-scope", 2);
    let (me, dead) = (&f.ids[0], &f.ids[1]);
    let west = MotoEcs::connect_in("us-west-2");
    west.create_cluster(&f.cluster);
    let (w_me, w_live) = (
        west.register_instance(&f.cluster),
        west.register_instance(&f.cluster),
    );
    let dead_rec = scoped(&f, EAST, dead, 1);
    let west_rec = scoped(&f, WEST, &w_live, 2);
    // The east agent runs a task whose record it wrote in the legacy format before an upgrade.
    f.w.ecs.set_identity("us-east-1", &f.cluster, me);
    let (_task, tid) = f.w.bridge_task("web", 0);
    let legacy = Rec {
        set_identifier: format!("r53d:{}:{me}:t-{tid}", f.cluster),
        values: vec![crate::HOST_IP.to_string()],
        ..f.rec(&f.cluster, me, "web", 0)
    };
    for r in [&dead_rec, &west_rec, &legacy] {
        f.w.moto.put(&f.w.zone_id, r);
    }
    f.ecs.deregister(&f.cluster, dead);
    let mut east_agent = Agent::start(&from_the_ecs_agent(&f, me, f.w.port, &f.spy), f.w.port);
    east_agent.wait_ready();
    // The west agent: its own ECS agent and region, and a label no container has.
    let west_ecs = FakeEcsAgent::start();
    west_ecs.set_identity("us-west-2", &f.cluster, &w_me);
    let spy_w = Spy::start(&f.w.moto.url);
    let port = free_port();
    let config = from_the_ecs_agent(&f, &w_me, port, &spy_w)
        .replace(&f.w.ecs.url, &west_ecs.url)
        .replace("region = \"us-east-1\"", "region = \"us-west-2\"")
        .replace(
            &format!("label = \"{}\"", f.w.label),
            "label = \"nobody.here\"",
        );
    let mut west_agent = Agent::start(&config, port);
    west_agent.wait_ready();
    let own = Rec {
        set_identifier: format!("r53d:{}@{EAST}:{me}:t-{tid}", f.cluster),
        ..legacy.clone()
    };
    let mut expected = vec![own, west_rec.clone()];
    expected.sort();
    f.w.wait_records(expected.clone());
    wait_for("a few elected cycles of each", LIMIT, || {
        let n = |a: &Agent| a.logs().matches("Janitor cycle done.").count();
        (n(&east_agent) >= 3 && n(&west_agent) >= 3).then_some(())
    });
    std::thread::sleep(GRACE + Duration::from_secs(2));
    assert_eq!(f.w.records(), expected, "{}", west_agent.logs());
    assert!(plain(&east_agent.logs()).contains(&format!("scope=\"{EAST}\"")));
    assert!(plain(&west_agent.logs()).contains(&format!("scope=\"{WEST}\"")));
    assert_eq!(
        spy_w.count("r53:change"),
        0,
        "the west agent changed nothing: {}",
        spy_w.summary()
    );
    assert!(
        !west_agent.logs().contains("Owner looks dead"),
        "{}",
        west_agent.logs()
    );
    east_agent.terminate();
    west_agent.terminate();
    assert!(east_agent.wait_exit(Duration::from_secs(15)).success());
    assert!(west_agent.wait_exit(Duration::from_secs(15)).success());
}
