//! One `agent.owner_id` copied to two hosts (a task definition that sets it for every instance), end to end:
//! each agent tags its owner id with a hash of its EC2 instance id (from its own fake IMDS), so the two write
//! distinct owners into one zone, neither deletes the other's live records at its launch sync, and each reports
//! the other when it sees its records (at its launch read, or at its verification after a start from its
//! journal). An untagged record of this owner id (written before the tag existed) is replaced when the same task
//! registers here, and otherwise left alone: it may be another host's.

use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::ecs::{CLUSTER, SCOPE};
use crate::support::moto::Rec;
use crate::World;

const OWNER_ID: &str = "web-host";
const EC2_B: &str = "i-0bbbbbbbbbbbbbbbb";
const WARNING: &str = "agent.owner_id is set on other hosts too";

/// The SetIdentifier an agent with [`OWNER_ID`] on EC2 instance `ec2_id` gives task `tid`.
fn tagged(ec2_id: &str, tid: &str) -> String {
    let tag = crc32fast::hash(ec2_id.as_bytes());
    format!("r53d:{CLUSTER}@{SCOPE}:{OWNER_ID}~{tag:08x}:t-{tid}")
}

/// `w`'s config with the owner id override, writing into `zone_id`.
fn config(w: &World, zone_id: &str) -> String {
    w.config()
        .replace(
            "[agent]\n",
            &format!("[agent]\nowner_id = \"{OWNER_ID}\"\n"),
        )
        .replace(&w.zone_id, zone_id)
}

fn web(w: &World, set_identifier: String, ip: &str) -> Rec {
    Rec {
        name: w.name_of("web"),
        set_identifier,
        weight: 1,
        ttl: crate::AGENT_TTL,
        values: vec![ip.into()],
    }
}

#[test]
fn an_owner_id_copied_to_two_hosts_never_makes_them_delete_each_others_records() {
    let a = World::new("owner-a");
    // Host B: its own ECS agent, instance metadata, label and health port; it writes into A's zone.
    let b = World::new("owner-b");
    b.imds.set_instance_id(EC2_B);
    b.imds.set_ipv4(Some("10.0.1.24".parse().unwrap()));
    let (_ta, tid_a) = a.bridge_task("web", 0);
    let (_tb, tid_b) = b.bridge_task("web", 0);
    let untagged = |tid: &str| format!("r53d:{CLUSTER}@{SCOPE}:{OWNER_ID}:t-{tid}");
    // Written before the tag: A's task's record (stale address), and one of a task neither host runs now.
    a.moto
        .put(&a.zone_id, &web(&a, untagged(&tid_a), "10.0.1.99"));
    let other = web(&a, untagged(&"e".repeat(32)), "10.0.1.98");
    a.moto.put(&a.zone_id, &other);

    let mut agent_a = Agent::start(&config(&a, &a.zone_id), a.port);
    agent_a.wait_ready();
    let rec_a = web(
        &a,
        tagged(crate::support::imds::INSTANCE_ID, &tid_a),
        crate::HOST_IP,
    );
    a.wait_records(vec![rec_a.clone(), other.clone()]);

    let mut agent_b = Agent::start(&config(&b, &a.zone_id), b.port);
    agent_b.wait_ready();
    let rec_b = web(&a, tagged(EC2_B, &tid_b), "10.0.1.24");
    let all = vec![rec_a.clone(), rec_b.clone(), other.clone()];
    a.wait_records(all.clone());
    assert!(agent_b.logs().contains(WARNING), "{}", agent_b.logs());

    // A restarts: its launch sync sees B's record, reports it, and keeps it.
    agent_a.terminate();
    assert!(agent_a.wait_exit(Duration::from_secs(15)).success());
    // It restarts from its journal (no zone read): its verification reads its names and finds B there.
    let verify = config(&a, &a.zone_id).replace(
        "[route53]\n",
        "[route53]\nverify_interval_secs = 2\nverify_reads_per_hour = 36000.0\n",
    );
    let mut agent_a = Agent::start(&verify, a.port);
    agent_a.wait_ready();
    let warned = crate::support::wait_for_result(Duration::from_secs(10), || {
        agent_a.logs().contains(WARNING)
    });
    assert!(warned, "{}", agent_a.logs());
    let mut expected = all;
    expected.sort();
    assert_eq!(a.records(), expected, "{}", agent_a.logs());
    assert!(agent_a.is_running() && agent_b.is_running());
}
