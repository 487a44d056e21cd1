//! Every network mode is published at an address other hosts can reach, with the real port, through the real
//! parts: Docker publishes the ports, the fake ECS agent reports awsvpc ENIs and `Ports`, the loopback fake IMDSv2
//! serves the instance's addresses, and moto holds the records.
//!
//! - bridge: the instance's IPv4 (never Docker's 172.17.x) and an SRV record with Docker's host port, pointing at
//!   the per-instance name `<instance id>.hosts.<zone>`;
//! - host: the instance's IPv4 and IPv6, the container port;
//! - awsvpc: the ENI's IPv4 and IPv6, the container port, a per-task SRV target; IPv6-only: AAAA only.

mod helpers;

use std::time::Duration;

use self::helpers::{
    awsvpc, bridge, check_reachable, deregistrations, published_on_ipv6, rec, wait_typed, Expect,
    PORT_LABEL,
};
use crate::support::docker::{Container, Spec};
use crate::support::ecs::{CLUSTER, SCOPE};
use crate::support::imds::Mode;
use crate::support::imds::INSTANCE_ID;
use crate::support::moto::Typed;
use crate::support::wait_for_result;
use crate::{World, CONVERGE, HOST_IP, HOST_IPV6};

#[test]
fn every_network_mode_is_published_at_an_address_and_port_other_hosts_can_reach() {
    let w = World::new("modes");
    let mut agent = w.agent();
    agent.wait_ready();
    let fixed = crate::support::agent::free_port();
    let (fixed_c, fixed_t) = bridge(&w, ("fixed", "fixed"), &[&format!("{fixed}:80")], &[]);
    let (dyn_c, dyn_t) = bridge(&w, ("dynamic", "dynamic"), &["80"], &[]);
    let (two_c, two_t) = bridge(&w, ("two", "two"), &["81", "82"], &[(PORT_LABEL, "82")]);
    let host_c = Container::run(Spec {
        name: &format!("r53d-{}-hostnet", w.name),
        labels: vec![(w.label.clone(), "hostnet".into())],
        network: Some("host"),
        expose: vec!["9090".into()],
        ..Default::default()
    });
    let (_vpc, _vpc_pause, vpc_t) = awsvpc(
        &w,
        "vpc",
        Some("10.20.30.40"),
        &["2600:1f18:abcd:1::40"],
        &[(8080, 8080)],
    );
    let (_v6, _v6_pause, v6_t) = awsvpc(&w, "sixonly", None, &["2600:1f18:abcd:1::66"], &[]);

    let mut e = Expect {
        w: &w,
        out: Vec::new(),
    };
    let dyn_port = dyn_c.host_port("80/tcp");
    assert!(dyn_port > 0);
    e.bridge(
        "fixed",
        &fixed_t,
        Some(fixed),
        published_on_ipv6(&fixed_c, "80/tcp"),
    );
    e.bridge(
        "dynamic",
        &dyn_t,
        Some(dyn_port),
        published_on_ipv6(&dyn_c, "80/tcp"),
    );
    e.bridge(
        "two",
        &two_t,
        Some(two_c.host_port("82/tcp")),
        published_on_ipv6(&two_c, "82/tcp"),
    );
    let host_id = format!(
        "r53d:{CLUSTER}@{SCOPE}:{INSTANCE_ID}:c-{}",
        &host_c.id[..32]
    );
    let host_name = w.name_of("hostnet");
    e.out
        .push(rec(host_name.clone(), "A", &host_id, HOST_IP.into()));
    e.out
        .push(rec(host_name, "AAAA", &host_id, HOST_IPV6.into()));
    let srv = format!("_hostnet._tcp.{}", w.zone);
    let target = e.host_target();
    e.out
        .push(rec(srv, "SRV", &host_id, format!("1 1 9090 {target}")));
    e.instance_target(true); // the host-network container publishes the instance's IPv6
    let (vpc, vpc_id) = (w.name_of("vpc"), w.set_id(&vpc_t));
    let vpc_target = format!("t-{vpc_t}.{vpc}");
    e.out
        .push(rec(vpc.clone(), "A", &vpc_id, "10.20.30.40".into()));
    e.out
        .push(rec(vpc, "AAAA", &vpc_id, "2600:1f18:abcd:1::40".into()));
    e.out
        .push(rec(vpc_target.clone(), "A", &vpc_id, "10.20.30.40".into()));
    e.out.push(rec(
        vpc_target.clone(),
        "AAAA",
        &vpc_id,
        "2600:1f18:abcd:1::40".into(),
    ));
    let vpc_srv = format!("_vpc._tcp.{}", w.zone);
    e.out.push(rec(
        vpc_srv,
        "SRV",
        &vpc_id,
        format!("1 1 8080 {vpc_target}"),
    ));
    let six = w.name_of("sixonly");
    e.out.push(rec(
        six,
        "AAAA",
        &w.set_id(&v6_t),
        "2600:1f18:abcd:1::66".into(),
    ));
    let expected = e.sorted();
    let records = wait_typed(&w, &expected);
    check_reachable(&records);
    assert!(
        w.imds.counts().token_puts >= 1 && w.imds.counts().v1_answered == 0,
        "IMDSv2 only: {:?}",
        w.imds.counts()
    );
}

#[test]
fn a_stopped_task_loses_every_record_and_the_instance_target_goes_with_the_last_srv() {
    let w = World::new("srvstop");
    let mut agent = w.agent();
    agent.wait_ready();
    let (a, a_t) = bridge(&w, ("a", "web"), &["80"], &[]);
    let (b, b_t) = bridge(&w, ("b", "web"), &["80"], &[]);
    let (a6, b6) = (
        published_on_ipv6(&a, "80/tcp"),
        published_on_ipv6(&b, "80/tcp"),
    );
    let mut both = Expect {
        w: &w,
        out: Vec::new(),
    };
    both.bridge("web", &a_t, Some(a.host_port("80/tcp")), a6);
    both.bridge("web", &b_t, Some(b.host_port("80/tcp")), b6);
    both.instance_target(a6 || b6);
    wait_typed(&w, &both.sorted());

    a.stop();
    let mut one = Expect {
        w: &w,
        out: Vec::new(),
    };
    one.bridge("web", &b_t, Some(b.host_port("80/tcp")), b6);
    one.instance_target(b6);
    let left = wait_typed(&w, &one.sorted());
    check_reachable(&left);
    // moto deletes every set of a SetIdentifier on one DELETE, so the zone alone cannot show that each record
    // was deleted on its own; the agent's count of deletes by type can.
    let counts = || ["A", "AAAA", "SRV"].map(|t| deregistrations(&agent, t));
    let a_gone = [1, u64::from(a6) + u64::from(a6 && !b6), 1];
    let ok = wait_for_result(Duration::from_secs(5), || counts() == a_gone);
    assert!(
        ok,
        "task a's records, each deleted (A, AAAA, SRV): {:?} != {a_gone:?}",
        counts()
    );

    b.stop();
    wait_typed(&w, &[]);
    // Then b's own records and the per-instance target's A (and AAAA).
    let all_gone = [3, u64::from(a6) + u64::from(b6) + u64::from(a6 || b6), 2];
    let ok = wait_for_result(Duration::from_secs(5), || counts() == all_gone);
    assert!(
        ok,
        "every record deleted (A, AAAA, SRV): {:?} != {all_gone:?}",
        counts()
    );
}

#[test]
fn forbidden_instance_metadata_skips_bridge_containers_while_awsvpc_tasks_are_registered() {
    let w = World::new("imds403");
    w.imds.set_mode(Mode::Forbidden);
    // Without instance metadata the operator names the host (here by its EC2 instance id, as the janitor needs).
    let config = w.config().replace(
        "[agent]\n",
        &format!("[agent]\nowner_id = \"{INSTANCE_ID}\"\n"),
    );
    let mut agent = crate::support::agent::Agent::start(&config, w.port);
    agent.wait_ready();
    let (br, _) = bridge(&w, ("web", "web"), &["80"], &[]);
    let (_app, _pause, tid) = awsvpc(&w, "vpc", Some("10.20.30.41"), &[], &[]);
    let id = w.set_id(&tid);
    wait_typed(&w, &[rec(w.name_of("vpc"), "A", &id, "10.20.30.41".into())]);
    let logged = wait_for_result(Duration::from_secs(10), || {
        agent
            .logs()
            .lines()
            .any(|l| l.contains(&br.id) && l.contains("not registered") && l.contains("403"))
    });
    assert!(
        logged,
        "the skipped bridge container is named with the reason:\n{}",
        agent.logs()
    );
    assert!(agent.is_running(), "the agent stays up");
    assert_eq!(agent.get("/readyz").map(|(s, _)| s), Some(200));
    let metrics = agent.get("/metrics").unwrap().1;
    assert!(
        metrics.contains("r53d_instance_address_known 0"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("r53d_no_instance_address_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    assert_eq!(
        w.moto.typed_records(&w.zone_id).len(),
        1,
        "nothing for the bridge container"
    );
}

#[test]
fn without_instance_metadata_or_an_owner_id_the_agent_stops_at_start_and_says_what_to_set() {
    let w = World::new("noowner");
    w.imds.set_mode(Mode::Forbidden);
    let (status, _, stderr) = crate::support::agent::run_once(&["sync", "--once"], &w.config());
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("set agent.owner_id"), "{stderr}");
    assert!(
        w.records().is_empty(),
        "nothing written under another owner"
    );
}

#[test]
fn a_changed_instance_address_moves_the_records_at_the_next_reconcile() {
    let w = World::new("moved");
    let config = w
        .config()
        .replace("[agent]\n", "[agent]\nreconcile_interval_secs = 2\n");
    let mut agent = crate::support::agent::Agent::start(&config, w.port);
    agent.wait_ready();
    let (c, tid) = bridge(&w, ("web", "web"), &["80"], &[]);
    let port = c.host_port("80/tcp");
    let v6 = published_on_ipv6(&c, "80/tcp");
    let mut before = Expect {
        w: &w,
        out: Vec::new(),
    };
    before.bridge("web", &tid, Some(port), v6);
    before.instance_target(v6);
    wait_typed(&w, &before.sorted());
    w.imds.set_ipv4(Some("10.0.1.99".parse().unwrap()));
    let moved = wait_for_result(CONVERGE, || {
        let recs = w.moto.typed_records(&w.zone_id);
        let a: Vec<&Typed> = recs.iter().filter(|r| r.rtype == "A").collect();
        a.len() == 2 && a.iter().all(|r| r.values == ["10.0.1.99"])
    });
    assert!(
        moved,
        "A records still at the old address: {:#?}",
        w.moto.typed_records(&w.zone_id)
    );
}

#[test]
fn a_bad_port_label_costs_only_the_srv_record() {
    let w = World::new("badport");
    let mut agent = w.agent();
    agent.wait_ready();
    let (c, tid) = bridge(&w, ("web", "web"), &["80"], &[(PORT_LABEL, "9999")]);
    let id = w.set_id(&tid);
    // No port chosen: no SRV, and no bridge AAAA either (that needs the chosen port bound on `::`).
    wait_typed(&w, &[rec(w.name_of("web"), "A", &id, HOST_IP.into())]);
    let logged = wait_for_result(Duration::from_secs(10), || {
        agent
            .logs()
            .lines()
            .any(|l| l.contains(&c.id) && l.contains(PORT_LABEL) && l.contains("9999"))
    });
    assert!(
        logged,
        "the log names the container and the label:\n{}",
        agent.logs()
    );
}

#[test]
fn a_stopped_awsvpc_task_loses_its_a_aaaa_srv_and_per_task_target() {
    let w = World::new("vpcstop");
    let mut agent = w.agent();
    agent.wait_ready();
    let (app, _pause, tid) = awsvpc(
        &w,
        "vpc",
        Some("10.20.30.60"),
        &["2600:1f18:abcd:1::60"],
        &[(8080, 8080)],
    );
    let (name, id) = (w.name_of("vpc"), w.set_id(&tid));
    let target = format!("t-{tid}.{name}");
    let mut want = vec![
        rec(name.clone(), "A", &id, "10.20.30.60".into()),
        rec(name, "AAAA", &id, "2600:1f18:abcd:1::60".into()),
        rec(target.clone(), "A", &id, "10.20.30.60".into()),
        rec(target.clone(), "AAAA", &id, "2600:1f18:abcd:1::60".into()),
        rec(
            format!("_vpc._tcp.{}", w.zone),
            "SRV",
            &id,
            format!("1 1 8080 {target}"),
        ),
    ];
    want.sort();
    wait_typed(&w, &want);
    app.stop();
    wait_typed(&w, &[]);
    // moto drops every set of a SetIdentifier on one DELETE; the agent's counts show each record was deleted.
    let counts = || ["A", "AAAA", "SRV"].map(|t| deregistrations(&agent, t));
    let ok = wait_for_result(Duration::from_secs(5), || counts() == [2, 2, 1]);
    assert!(ok, "deletes by type (A, AAAA, SRV): {:?}", counts());
}
