//! The janitor service beside three agents: what it removes, what it keeps whatever ECS says, what the agents
//! ask ECS and EC2 (nothing), EC2 failing, two janitors at once, and the operator's `janitor --once`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::*;
use crate::support::agent::run_once;

#[test]
fn a_terminated_hosts_records_go_and_live_hosts_keep_theirs_whatever_ecs_says() {
    let f = Fleet::new("jan-svc");
    let (live, killed, deregistered, dead) = (f.host(), f.host(), f.host(), f.host());
    let agents_spy = Spy::start(&f.w.moto.url);
    let on_live = f.agent(&live, &agents_spy);
    let mut on_killed = f.agent(&killed, &agents_spy);
    let on_deregistered = f.agent(&deregistered, &agents_spy);
    let dead_recs = f.put_owned(&dead.ec2, 10);
    let mut all = [
        vec![
            on_live.record.clone(),
            on_killed.record.clone(),
            on_deregistered.record.clone(),
        ],
        dead_recs.clone(),
        put_untouchable(&f, &dead.ec2),
    ]
    .concat();
    all.sort();
    f.w.wait_records(all.clone());
    // The dead host's SRV record and per-instance target (A and AAAA) go with its A records.
    let dead_srv = put_srv_records(&f, &dead.ec2);
    // The agent dies hard on a running instance; an operator deregisters a running instance (moto answers
    // MISSING at once, as ECS does an hour after a deregistration).
    on_killed.agent.kill();
    f.ecs.deregister(&f.cluster, &deregistered.ci);
    let spy = Spy::start(&f.w.moto.url);
    let mut janitor = f.janitor(&spy);
    let started = Instant::now();
    more_cycles(&janitor, 1);
    f.ecs.terminate_ec2(&dead.ec2);
    let t0 = Instant::now();
    let expected = without(all, &dead_recs);
    f.w.wait_records(expected.clone());
    let took = t0.elapsed();
    assert!(
        took >= GRACE,
        "removed after {took:?}, before the grace period"
    );
    let left = f.w.moto.typed_records(&f.w.zone_id);
    for r in &dead_srv {
        assert!(
            !left.contains(r),
            "the dead host's {} {} stayed",
            r.rtype,
            r.name
        );
    }
    // The killed and the deregistered hosts run on: judged again and again, kept for at least 3 x grace.
    wait_for("3 x grace of judging", LIMIT, || {
        (started.elapsed() > GRACE * 3 + Duration::from_secs(1)).then_some(())
    });
    more_cycles(&janitor, 1);
    assert_eq!(f.w.records(), expected, "{}", janitor.logs());
    let logs = janitor.logs();
    let doomed: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("deleting its records"))
        .collect();
    assert!(
        doomed.len() == 1 && doomed[0].contains(&dead.ec2),
        "{doomed:?}"
    );
    assert_eq!(metric(&janitor, "r53d_janitor_records_removed_total"), 5.0);
    assert_eq!(
        metric(&janitor, "r53d_janitor_owners_unjudged"),
        2.0,
        "ECS Anywhere, configured id"
    );
    // The janitor asks ECS once (where its cluster is) and EC2 every cycle; the agents ask neither.
    assert_eq!(spy.count("DescribeClusters"), 1, "{}", spy.summary());
    assert!(
        spy.count("ec2:DescribeInstances") >= cycles(&janitor),
        "{}",
        spy.summary()
    );
    assert!(
        !spy.summary().contains("ContainerInstances"),
        "{}",
        spy.summary()
    );
    assert_eq!(
        agents_spy.total(),
        0,
        "agents' ECS and EC2 calls: {}",
        agents_spy.summary()
    );
    assert_eq!(spy.failed("r53:change"), 0, "{}", spy.summary());
    assert_stops_cleanly(&mut janitor);
    eprintln!("janitor: removed after {took:?}; {}", spy.summary());
}

#[test]
fn with_ec2_failing_nothing_is_removed_until_ec2_answers() {
    let f = Fleet::new("jan-ec2");
    let (live, dead) = (f.host(), f.host());
    let dead_recs = f.put_owned(&dead.ec2, 20);
    let mut all = [f.put_owned(&live.ec2, 10), dead_recs.clone()].concat();
    all.sort();
    let spy = Spy::start(&f.w.moto.url);
    let janitor = f.janitor(&spy);
    more_cycles(&janitor, 1);
    spy.fail_ec2(true);
    f.ecs.terminate_ec2(&dead.ec2);
    let t0 = Instant::now();
    wait_for("3 x grace with EC2 throttled", LIMIT, || {
        (t0.elapsed() > GRACE * 3).then_some(())
    });
    more_cycles(&janitor, 1);
    assert_eq!(f.w.records(), all, "no verdict without EC2");
    assert!(janitor.logs().contains("EC2 could not be asked"));
    assert!(metric(&janitor, "r53d_janitor_ec2_errors_total") >= 3.0);
    spy.fail_ec2(false);
    f.w.wait_records(without(all, &dead_recs));
}

/// ECS at the start and EC2 in a cycle reject the credentials as expired: the janitor gets new ones, retries and
/// goes on judging; the dead host's records go.
#[test]
fn credentials_rejected_as_expired_by_ecs_or_ec2_are_refreshed_and_the_janitor_goes_on() {
    let f = Fleet::new("jan-expired");
    let (live, dead) = (f.host(), f.host());
    let dead_recs = f.put_owned(&dead.ec2, 20);
    let mut all = [f.put_owned(&live.ec2, 10), dead_recs.clone()].concat();
    all.sort();
    let spy = Spy::start(&f.w.moto.url);
    spy.expire_credentials("DescribeClusters", 1);
    spy.expire_credentials("ec2:DescribeInstances", 1);
    let mut janitor = f.janitor(&spy);
    f.ecs.terminate_ec2(&dead.ec2);
    f.w.wait_records(without(all, &dead_recs));
    assert_eq!(spy.failed("DescribeClusters"), 1, "{}", spy.summary());
    assert_eq!(spy.failed("ec2:DescribeInstances"), 1, "{}", spy.summary());
    let logs = janitor.logs();
    let refreshed = logs.matches("rejected as expired; refreshing them").count();
    assert_eq!(refreshed, 2, "{logs}");
    assert!(janitor.is_running(), "{logs}");
    assert_stops_cleanly(&mut janitor);
}

#[test]
fn two_janitors_at_once_remove_the_dead_records_and_nothing_else() {
    let f = Fleet::new("jan-two");
    // Six live hosts and two dead ones: the brake (a quarter of the owners) allows both at once.
    let live: Vec<String> = (0..6).map(|_| f.ecs.run_ec2_instance()).collect();
    let dead = [f.ecs.run_ec2_instance(), f.ecs.run_ec2_instance()];
    let mut all = Vec::new();
    for (i, owner) in live.iter().chain(&dead).enumerate() {
        all.extend(f.put_owned(owner, 2 * i as u8));
    }
    all.sort();
    let (spy_a, spy_b) = (Spy::start(&f.w.moto.url), Spy::start(&f.w.moto.url));
    let (mut a, mut b) = (f.janitor(&spy_a), f.janitor(&spy_b));
    more_cycles(&a, 1);
    more_cycles(&b, 1);
    dead.iter().for_each(|d| f.ecs.terminate_ec2(d));
    let dead_recs: Vec<Rec> = all
        .iter()
        .filter(|r| dead.iter().any(|d| r.set_identifier.contains(d.as_str())))
        .cloned()
        .collect();
    let expected = without(all, &dead_recs);
    f.w.wait_records(expected.clone());
    let t = Instant::now();
    wait_for("more cycles of both", LIMIT, || {
        (t.elapsed() > GRACE * 2).then_some(())
    });
    more_cycles(&a, 1);
    more_cycles(&b, 1);
    assert_eq!(f.w.records(), expected, "nothing live touched");
    // Route53 refuses a DELETE of a record that is gone, so a janitor that lost the race counts it as already
    // gone; moto accepts it, so both janitors may count it. What each janitor deleted is checked instead.
    let removed: BTreeSet<(String, String)> = [&a, &b]
        .iter()
        .flat_map(|j| removed_records(&j.logs()))
        .collect();
    let dead_keys: BTreeSet<(String, String)> = dead_recs
        .iter()
        .map(|r| (r.name.clone(), r.set_identifier.clone()))
        .collect();
    assert_eq!(
        removed, dead_keys,
        "only the dead hosts' records, each by one janitor at least"
    );
    let count = |j: &Agent| metric(j, "r53d_janitor_records_removed_total");
    assert!((4.0..=8.0).contains(&(count(&a) + count(&b))));
    for j in [&a, &b] {
        let logs = j.logs();
        assert!(
            !logs.contains("Purge failed") && !logs.contains("ERROR"),
            "{logs}"
        );
    }
    assert_stops_cleanly(&mut a);
    assert_stops_cleanly(&mut b);
}

/// `text` without the terminal colour sequences (`ESC [ ... m`) the human log format may carry.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// (record name, SetIdentifier) of every record a janitor's log says it removed.
fn removed_records(logs: &str) -> Vec<(String, String)> {
    let field = |line: &str, key: &str| {
        let token = line.split_whitespace().find(|t| t.starts_with(key))?;
        Some(token[key.len()..].trim_matches('"').to_string())
    };
    let plain = strip_ansi(logs);
    plain
        .lines()
        .filter(|l| l.contains("Removed record of a dead owner."))
        .filter_map(|l| Some((field(l, "record_name=")?, field(l, "set_identifier=")?)))
        .collect()
}

#[test]
fn janitor_once_with_only_configuration_judges_records_in_the_current_format() {
    let f = Fleet::new("jan-once");
    let (live, dead) = (f.host(), f.host());
    let live_recs = f.put_owned(&live.ec2, 10);
    let dead_recs = f.put_owned(&dead.ec2, 20);
    let untouchable = put_untouchable(&f, &dead.ec2);
    f.ecs.terminate_ec2(&dead.ec2);
    let spy = Spy::start(&f.w.moto.url);
    // No ECS agent and no instance metadata: the cluster from the configuration, its scope from ECS.
    let config = f.janitor_config(&spy, free_port());
    let (status, _, stderr) = run_once(&["janitor", "--once"], &config);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("Janitor clean-up done."), "{stderr}");
    let mut expected = [live_recs, untouchable].concat();
    expected.sort();
    assert_eq!(
        f.w.records(),
        expected,
        "only the terminated host's records went: {stderr}"
    );
    assert!(dead_recs.iter().all(|r| !f.w.records().contains(r)));
}
