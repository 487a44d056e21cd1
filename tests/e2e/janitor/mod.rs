//! The janitor end to end: agent binaries elect a janitor over moto's ECS API and it removes the records of a
//! dead container instance from moto's Route53, behind a spying proxy that counts every request (and can make
//! an instance look missing or disconnected, which moto cannot express for an instance that comes back).
//!
//! Every test has its own cluster, zone and label, so they run in parallel with the others. Cycles run every
//! second (jittered ±20 %) with a grace period of a few seconds.

mod ec2;
mod election;
mod scope;

use std::time::{Duration, Instant};

use crate::support::agent::{free_port, run_once, Agent};
use crate::support::docker::Container;
use crate::support::moto::{Rec, Typed};
use crate::support::moto_ecs::MotoEcs;
use crate::support::spy::Spy;
use crate::support::{unique, wait_for};
use crate::World;

/// The grace period of these tests.
const GRACE: Duration = Duration::from_secs(3);
/// Longest wait for a janitor outcome.
const LIMIT: Duration = Duration::from_secs(30);

/// A test's cluster in moto, its zone, and a spy in front of moto.
struct Fleet {
    w: World,
    ecs: MotoEcs,
    spy: Spy,
    cluster: String,
    /// Registered container instance ids, sorted: `ids[0]` is the janitor while it lives.
    ids: Vec<String>,
}

impl Fleet {
    fn new(test: &str, instances: usize) -> Self {
        let w = World::new(test);
        let ecs = MotoEcs::connect();
        let cluster = unique(test);
        ecs.create_cluster(&cluster);
        let mut ids: Vec<String> = (0..instances)
            .map(|_| ecs.register_instance(&cluster))
            .collect();
        ids.sort();
        let spy = Spy::start(&w.moto.url);
        Self {
            w,
            ecs,
            spy,
            cluster,
            ids,
        }
    }

    /// Config of an agent acting for instance `owner`, talking to moto through `spy`, janitor section `janitor`.
    /// The writer's periodic verify is off: its pending timer keeps the writer alive through a SIGTERM drain
    /// until the deadline, which would hide whether the janitor holds the drain up.
    fn config(&self, owner: &str, port: u16, spy: &Spy, janitor: &str) -> String {
        let w = &self.w;
        format!(
            "[docker]\nlabel = \"{label}\"\n[ecs]\nintrospection_url = \"{ecs}\"\nattempts = 4\napi_endpoint_url = \"{spy}\"\n\
             [ec2]\napi_endpoint_url = \"{spy}\"\n[route53]\nhosted_zone_id = \"{zone}\"\nendpoint_url = \"{spy}\"\nregion = \"us-east-1\"\n\
             startup_jitter_secs = 0\nmax_requests_per_sec = 20.0\nburst = 20\nverify_interval_secs = 0\n\
             [agent]\nowner_id = \"{owner}\"\ncluster = \"{cluster}\"\nworkers = 2\nshutdown_grace_secs = 10\nimds_endpoint = \"{imds}\"\nstate_dir = \"\"\n\
             lookup_retry_delay_secs = 1\n[health]\nlisten = \"127.0.0.1:{port}\"\n[janitor]\n{janitor}\n",
            label = w.label,
            ecs = w.ecs.url,
            spy = spy.url,
            zone = w.zone_id,
            cluster = self.cluster,
            imds = w.imds.url,
        )
    }

    /// Starts a ready agent for `owner` with the janitor on (1 s cycles, [`GRACE`]).
    fn agent(&self, owner: &str, port: u16, spy: &Spy) -> Agent {
        let janitor = format!("interval_secs = 1\ngrace_secs = {}", GRACE.as_secs());
        let mut agent = Agent::start(&self.config(owner, port, spy, &janitor), port);
        agent.wait_ready();
        agent
    }

    /// A record of `owner` in `cluster` (unique SetIdentifier zone-wide: moto deletes by identifier).
    fn rec(&self, cluster: &str, owner: &str, service: &str, n: u8) -> Rec {
        Rec {
            name: self.w.name_of(service),
            set_identifier: format!("r53d:{cluster}:{owner}:t-{:032x}", u128::from(n)),
            weight: 1,
            ttl: 60,
            values: vec![format!("10.9.0.{n}")],
        }
    }

    /// Puts two records (web, api) for each of `owners`; returns them.
    fn put_owned(&self, owners: &[&str]) -> Vec<Rec> {
        let mut out = Vec::new();
        for (i, owner) in owners.iter().enumerate() {
            for (j, service) in ["web", "api"].iter().enumerate() {
                let rec = self.rec(&self.cluster, owner, service, (10 * i + j + 1) as u8);
                self.w.moto.put(&self.w.zone_id, &rec);
                out.push(rec);
            }
        }
        out.sort();
        out
    }
}

fn wait_log(agent: &Agent, what: &str, needle: &str) {
    wait_for(what, LIMIT, || agent.logs().contains(needle).then_some(()));
}

/// `text` without ANSI colour codes (the human log format colours field names).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().take_while(|c| *c != 'm').for_each(drop);
        } else {
            out.push(c);
        }
    }
    out
}

fn cycles(agent: &Agent) -> usize {
    agent.logs().matches("Janitor cycle done.").count()
}

fn without(mut all: Vec<Rec>, gone: &[Rec]) -> Vec<Rec> {
    all.retain(|r| !gone.contains(r));
    all
}

/// Records the janitor must never touch: the dead owner's in another cluster, a foreign writer's, and one of an
/// owner id that is no container instance (an `agent.owner_id` override: unknown to ECS, but not dead).
fn put_untouchable(f: &Fleet, dead: &str) -> Vec<Rec> {
    let other = f.rec(&format!("{}-other", f.cluster), dead, "web", 91);
    let foreign = Rec {
        set_identifier: "hand-made".into(),
        ..f.rec("x", "y", "web", 92)
    };
    let custom = f.rec(&f.cluster, "host-1", "web", 93);
    let recs = vec![other, foreign, custom];
    for r in &recs {
        f.w.moto.put(&f.w.zone_id, r);
    }
    recs
}

/// Puts `dead`'s other record types: an SRV record, its per-instance target's A and AAAA (SetIdentifiers unique
/// apart from the target's two types, which share `h-host` as the agent writes them).
fn put_srv_records(f: &Fleet, dead: &str) -> Vec<Typed> {
    let target = format!("i-0dead.hosts.{}", f.w.zone);
    let host = format!("r53d:{}:{dead}:h-host", f.cluster);
    let recs = vec![
        Typed {
            name: format!("_web._tcp.{}", f.w.zone),
            rtype: "SRV".into(),
            set_identifier: format!("r53d:{}:{dead}:t-{:032x}", f.cluster, 77),
            values: vec![format!("1 1 32768 {target}")],
        },
        Typed {
            name: target.clone(),
            rtype: "A".into(),
            set_identifier: host.clone(),
            values: vec!["10.9.0.77".into()],
        },
        Typed {
            name: target,
            rtype: "AAAA".into(),
            set_identifier: host,
            values: vec!["2600:1f18::77".into()],
        },
    ];
    for r in &recs {
        f.w.moto.put_typed(&f.w.zone_id, r);
    }
    recs
}

/// Starts a bridge task for the agent of `me`; returns it and the record the agent makes for it.
fn own_task(f: &Fleet, me: &str) -> (Container, Rec) {
    let (c, tid) = f.w.bridge_task("web", 0);
    let own = Rec {
        set_identifier: format!("r53d:{}:{me}:t-{tid}", f.cluster),
        values: vec![crate::HOST_IP.to_string()],
        ..f.rec("x", "y", "web", 0)
    };
    (c, own)
}

/// After the dead owner's records went: nothing else goes later, one owner was doomed, no change failed.
fn assert_only_the_dead_went(f: &Fleet, agent: &Agent, dead: &str, expected: &[Rec]) {
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(f.w.records(), expected, "nothing else is touched later");
    let logs = agent.logs();
    let doomed: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("deleting its records"))
        .collect();
    assert!(doomed.len() == 1 && doomed[0].contains(dead), "{doomed:?}");
    assert_eq!(f.spy.failed("r53:change"), 0, "{}", f.spy.summary());
}

/// The janitor does not hold up a drain: SIGTERM exits 0 well before the drain deadline.
fn assert_drains_promptly(agent: &mut Agent) {
    let drain = Instant::now();
    agent.terminate();
    assert!(agent.wait_exit(Duration::from_secs(15)).success());
    assert!(!agent.logs().contains("Drain deadline reached"));
    eprintln!("janitor: drained in {:?};", drain.elapsed());
}

#[test]
fn a_deregistered_instances_records_go_after_the_grace_period_and_nothing_else() {
    let f = Fleet::new("jan-dead", 3);
    let (me, alive, dead) = (&f.ids[0], &f.ids[1], &f.ids[2]);
    let alive_recs = f.put_owned(&[alive]);
    let dead_recs = f.put_owned(&[dead]);
    let untouchable = put_untouchable(&f, dead);
    let mut agent = f.agent(me, f.w.port, &f.spy);
    let (_task, own) = own_task(&f, me);
    let mut before = [alive_recs, dead_recs.clone(), untouchable, vec![own]].concat();
    f.w.wait_records(before.clone());
    // The dead owner's SRV record and per-instance target (A and AAAA) go with its A records.
    let dead_srv = put_srv_records(&f, dead);
    wait_for("an elected cycle", LIMIT, || {
        (cycles(&agent) >= 1).then_some(())
    });
    // The owner id is set by hand and is not the fake ECS agent's instance id: start-up says so.
    assert!(agent
        .logs()
        .contains("agent.owner_id is not the container instance id the ECS agent reports"));
    // A DRAINING instance is alive: its records stay.
    f.ecs.drain(&f.cluster, alive);
    let (ecs_before, cycles_before) = (f.spy.summary(), cycles(&agent));
    f.ecs.deregister(&f.cluster, dead);
    let t0 = Instant::now();
    before.sort();
    let expected = without(before, &dead_recs);
    f.w.wait_records(expected.clone());
    let took = t0.elapsed();
    assert!(
        took >= GRACE,
        "removed after {took:?}, before the grace period"
    );
    assert_only_the_dead_went(&f, &agent, dead, &expected);
    let left = f.w.moto.typed_records(&f.w.zone_id);
    for r in &dead_srv {
        assert!(
            !left.contains(r),
            "the dead owner's {} {} stayed: {left:#?}",
            r.rtype,
            r.name
        );
    }
    assert_drains_promptly(&mut agent);
    eprintln!(
        "janitor: removed after {took:?}; {} cycles; before deregistration {ecs_before} after {cycles_before} cycles; total {}",
        cycles(&agent),
        f.spy.summary()
    );
}

#[test]
fn an_instance_gone_for_less_than_the_grace_period_keeps_its_records() {
    let f = Fleet::new("jan-flap", 2);
    let (me, flapper) = (&f.ids[0], &f.ids[1]);
    let recs = f.put_owned(&[flapper]);
    let agent = f.agent(me, f.w.port, &f.spy);
    f.w.wait_records(recs.clone());
    wait_for("an elected cycle", LIMIT, || {
        (cycles(&agent) >= 1).then_some(())
    });
    // Unknown to ECS for a moment (the spy answers MISSING), then back under the same id.
    f.spy.hide(flapper, true);
    wait_log(&agent, "the owner seen dead", "Owner looks dead");
    f.spy.hide(flapper, false);
    wait_log(&agent, "the owner seen back", "Owner is back");
    let back = Instant::now();
    wait_for("two more cycles past the grace period", LIMIT, || {
        (back.elapsed() > GRACE + Duration::from_secs(2)).then_some(())
    });
    assert_eq!(f.w.records(), recs, "{}", agent.logs());
    assert!(!agent.logs().contains("Removed record of a dead owner"));
}

#[test]
fn two_agents_of_one_cluster_only_the_elected_one_deletes_and_the_other_takes_over() {
    let f = Fleet::new("jan-two", 3);
    let (a, b, dead) = (&f.ids[0], &f.ids[1], &f.ids[2]);
    f.put_owned(&[dead]);
    let spy_b = Spy::start(&f.w.moto.url);
    let agent_a = f.agent(a, f.w.port, &f.spy);
    let agent_b = f.agent(b, free_port(), &spy_b);
    f.ecs.deregister(&f.cluster, dead);
    f.w.wait_records(vec![]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(agent_a.logs().contains("Removed record of a dead owner"));
    let b_logs = agent_b.logs();
    assert!(b_logs.contains("Not the elected janitor this cycle."));
    let (_, metrics) = agent_b.get("/metrics").expect("/metrics answers");
    assert!(
        !metrics.contains("r53d_janitor_elections_lost_total 0\n"),
        "B lost its elections: {metrics}"
    );
    // B may judge in a cycle before A has announced itself (two janitors for at most one cycle), but it never
    // removes anything: A, the lowest, does.
    assert!(!b_logs.contains("Removed record"), "{b_logs}");
    let b_judged = b_logs.matches("Janitor cycle done.").count();
    assert!(b_judged <= 1, "{b_logs}");
    assert_eq!(
        spy_b.count("r53:change"),
        0,
        "B never wrote: {}",
        spy_b.summary()
    );
    assert_eq!(
        spy_b.count("r53:list"),
        1 + b_judged,
        "B read the zone at launch, and in the cycle it judged (if any)"
    );
    // B is A's deputy: one full election at its first cycle (ACTIVE and DRAINING listed; one more if it judged
    // that cycle, as a janitor elects in full), then it describes A alone each cycle.
    assert_eq!(
        spy_b.count("ListContainerInstances"),
        2 + 2 * b_judged,
        "B listed the cluster once: {}",
        spy_b.summary()
    );
    assert!(
        spy_b.count("DescribeContainerInstances") >= 3,
        "B did run cycles, checking on A: {}",
        spy_b.summary()
    );
    assert_eq!(
        f.spy.count("r53:change"),
        1,
        "one batch: {}",
        f.spy.summary()
    );
    assert_eq!(f.spy.failed("r53:change"), 0);
    assert!(!agent_a.logs().contains("conflicts"), "{}", agent_a.logs());
    // The janitor's instance dies (EC2 terminates it; moto cannot disconnect an agent: the spy reports it),
    // leaving a record: B wins the next election and removes it after the grace period.
    let mut agent_a = agent_a;
    agent_a.kill();
    f.ecs.terminate_ec2(a);
    spy_b.disconnect(a, true);
    let left = f.rec(&f.cluster, a, "web", 50);
    f.w.moto.put(&f.w.zone_id, &left);
    f.w.wait_records(vec![]);
    assert!(agent_b.logs().contains("Removed record of a dead owner"));
}

#[test]
fn with_the_janitor_disabled_nothing_is_read_or_deleted() {
    let f = Fleet::new("jan-off", 2);
    let (me, dead) = (&f.ids[0], &f.ids[1]);
    let recs = f.put_owned(&[dead]);
    let config = f.config(
        me,
        f.w.port,
        &f.spy,
        "enabled = false\ninterval_secs = 1\ngrace_secs = 1",
    );
    let mut agent = Agent::start(&config, f.w.port);
    agent.wait_ready();
    f.ecs.deregister(&f.cluster, dead);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(f.w.records(), recs);
    assert!(agent.logs().contains("Janitor disabled"));
    for op in ["ListContainerInstances", "DescribeContainerInstances"] {
        assert_eq!(f.spy.count(op), 0, "{}", f.spy.summary());
    }
    assert_eq!(f.spy.count("r53:list"), 1, "only the launch read");
}

#[test]
fn with_the_ecs_api_unreachable_the_janitor_skips_and_the_agent_works_on() {
    let f = Fleet::new("jan-noecs", 2);
    let (me, dead) = (&f.ids[0], &f.ids[1]);
    let recs = f.put_owned(&[dead]);
    f.ecs.deregister(&f.cluster, dead);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let janitor = "interval_secs = 1\ngrace_secs = 1";
    let config = f.config(me, f.w.port, &f.spy, janitor).replace(
        &format!("api_endpoint_url = \"{}\"", f.spy.url),
        &format!("api_endpoint_url = \"{closed}\""),
    );
    let mut agent = Agent::start(&config, f.w.port);
    agent.wait_ready();
    let (c, own) = own_task(&f, me);
    let mut expected = [recs.clone(), vec![own]].concat();
    expected.sort();
    f.w.wait_records(expected.clone());
    wait_for("two skipped cycles", LIMIT, || {
        let n = agent
            .logs()
            .matches("ECS API unavailable; skipping this janitor cycle.")
            .count();
        (n >= 2).then_some(())
    });
    assert_eq!(agent.get("/healthz").map(|r| r.0), Some(200));
    assert_eq!(agent.get("/readyz").map(|r| r.0), Some(200));
    assert_eq!(
        f.w.records(),
        expected,
        "the dead owner's records wait for ECS to answer"
    );
    assert_eq!(
        f.spy.count("r53:list"),
        1,
        "no zone read without an election"
    );
    c.stop();
    f.w.wait_records(recs);
}

/// Six of seven instances go at once (more than a quarter of the cluster, and more than
/// `max_owners_per_cycle = 2`): the brake holds them all, for well past the grace period, says so in an error
/// naming the count, and `r53d_janitor_brake_engaged` is 1. Then the operator's `janitor --once` is braked too
/// (exit 2), and with `--allow-mass-delete` removes them.
#[test]
fn many_instances_gone_at_once_trip_the_brake_and_nothing_is_removed() {
    let f = Fleet::new("jan-brake", 7);
    let me = &f.ids[0];
    let dead: Vec<&str> = f.ids[1..].iter().map(String::as_str).collect();
    let dead_recs = f.put_owned(&dead);
    let janitor = format!(
        "interval_secs = 1\ngrace_secs = {}\nmax_owners_per_cycle = 2",
        GRACE.as_secs()
    );
    let mut agent = Agent::start(&f.config(me, f.w.port, &f.spy, &janitor), f.w.port);
    agent.wait_ready();
    f.w.wait_records(dead_recs.clone());
    for d in &dead {
        f.ecs.deregister(&f.cluster, d);
    }
    // The error names the count and the limit (min(2, 7 owners / 4)).
    wait_log(&agent, "the brake's error", "Janitor brake");
    wait_for("the brake's fields", LIMIT, || {
        plain(&agent.logs())
            .contains("due=6 seen_dead=6 limit=1")
            .then_some(())
    });
    std::thread::sleep(GRACE * 3);
    assert_eq!(f.w.records(), dead_recs, "the brake removed nothing");
    let (status, body) = agent.get("/metrics").expect("/metrics answers");
    assert_eq!(status, 200);
    assert!(body.contains("r53d_janitor_brake_engaged 1"), "{body}");
    assert!(!body.contains("r53d_janitor_brakes_total 0"), "{body}");
    // The operator's one-shot clean-up: braked too without approval (exit 2), done with it.
    let toml = f.config(me, free_port(), &f.spy, &janitor);
    let (status, out, err) = run_once(&["janitor", "--once"], &toml);
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert_eq!(f.w.records(), dead_recs, "no approval: nothing removed");
    let (status, out, err) = run_once(&["janitor", "--once", "--allow-mass-delete"], &toml);
    assert!(status.success(), "{out}{err}");
    assert!(
        plain(&format!("{out}{err}")).contains("dead=6 removed=12"),
        "{out}{err}"
    );
    assert_eq!(
        f.w.records(),
        vec![],
        "approved: every dead owner's records went"
    );
    assert_drains_promptly(&mut agent);
}
