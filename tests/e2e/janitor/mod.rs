//! The janitor end to end: `route53-discovery janitor` as its own process beside agents, judging hosts by moto's
//! EC2 and deleting from moto's Route53, behind spying proxies that count every request (and can make EC2
//! throttle). Agents run on hosts of their own ([`World::beside`]: their own fake ECS agent and instance metadata)
//! in one zone, each publishing a real bridge task.
//!
//! Every test has its own cluster and zone, so they run in parallel with the others. Janitor cycles run every
//! second (jittered ±20 %) with a grace period of a few seconds.

mod service;

use std::time::{Duration, Instant};

use crate::support::agent::{free_port, Agent};
use crate::support::docker::Container;
use crate::support::ecs::SCOPE;
use crate::support::moto::{Rec, Typed};
use crate::support::moto_ecs::MotoEcs;
use crate::support::spy::Spy;
use crate::support::{unique, wait_for};
use crate::World;

/// The grace period of these tests.
const GRACE: Duration = Duration::from_secs(3);
/// Longest wait for a janitor outcome.
const LIMIT: Duration = Duration::from_secs(30);

/// A host of the cluster: an EC2 instance in moto registered as a container instance.
struct Host {
    /// Its EC2 instance id: the owner part of its records.
    ec2: String,
    /// Its container instance id.
    ci: String,
}

/// A test's cluster in moto and its zone.
struct Fleet {
    w: World,
    ecs: MotoEcs,
    cluster: String,
}

/// An agent on a host of its own, with the task it publishes and that task's record.
struct OnHost {
    _world: World,
    agent: Agent,
    _task: Container,
    record: Rec,
}

impl Fleet {
    fn new(test: &str) -> Self {
        let w = World::new(test);
        let ecs = MotoEcs::connect();
        let cluster = unique(test);
        ecs.create_cluster(&cluster);
        Self { w, ecs, cluster }
    }

    /// A new host: an EC2 instance, registered in the cluster.
    fn host(&self) -> Host {
        let ci = self.ecs.register_instance(&self.cluster);
        Host {
            ec2: self.ecs.ec2_of(&ci),
            ci,
        }
    }

    /// A record of `owner` in `cluster` and `scope` (unique SetIdentifier zone-wide: moto deletes by identifier).
    fn rec_in(&self, cluster: &str, scope: Option<&str>, owner: &str, n: u8) -> Rec {
        let tag = scope.map_or(cluster.to_string(), |s| format!("{cluster}@{s}"));
        Rec {
            name: self
                .w
                .name_of(if n.is_multiple_of(2) { "web" } else { "api" }),
            set_identifier: format!("r53d:{tag}:{owner}:t-{:032x}", u128::from(n)),
            weight: 1,
            ttl: crate::AGENT_TTL,
            values: vec![format!("10.9.0.{n}")],
        }
    }

    /// Puts two records (web, api) of `owner` in this cluster and scope, numbered from `n`; returns them.
    fn put_owned(&self, owner: &str, n: u8) -> Vec<Rec> {
        let recs: Vec<Rec> = (n..n + 2)
            .map(|i| self.rec_in(&self.cluster, Some(SCOPE), owner, i))
            .collect();
        self.w.moto.put_many(&self.w.zone_id, &recs);
        recs
    }

    /// The janitor's config: ECS, EC2 and Route53 through `spy`, health on `port`, 1 s cycles, [`GRACE`].
    fn janitor_config(&self, spy: &Spy, port: u16) -> String {
        format!(
            "[ecs]\nintrospection_url = \"\"\napi_endpoint_url = \"{spy}\"\n[ec2]\napi_endpoint_url = \"{spy}\"\n\
             [route53]\nhosted_zone_id = \"{zone}\"\nendpoint_url = \"{spy}\"\nregion = \"us-east-1\"\n\
             max_requests_per_sec = 20.0\nburst = 20\n[agent]\ncluster = \"{cluster}\"\nshutdown_grace_secs = 10\n\
             [health]\nlisten = \"127.0.0.1:{port}\"\n[janitor]\ninterval_secs = 1\ngrace_secs = {grace}\n\
             zone_read_per_sec = 50.0\n",
            spy = spy.url,
            zone = self.w.zone_id,
            cluster = self.cluster,
            grace = GRACE.as_secs(),
        )
    }

    /// Starts a janitor process talking through `spy`; waits until it is ready.
    fn janitor(&self, spy: &Spy) -> Agent {
        let port = free_port();
        let mut janitor = Agent::janitor(&self.janitor_config(spy, port), port);
        janitor.wait_ready();
        janitor
    }

    /// Starts an agent on `host` (its ECS and EC2 endpoints through `spy`, Route53 straight to moto) and a bridge
    /// task for it to publish; waits until it is ready.
    fn agent(&self, host: &Host, spy: &Spy) -> OnHost {
        let h = self.w.beside(&format!("host-{}", host.ec2));
        h.ecs.set_identity("us-east-1", &self.cluster, &host.ci);
        h.imds.set_instance_id(&host.ec2);
        let config = h.config().replace(
            "[ecs]\n",
            &format!("[ecs]\napi_endpoint_url = \"{}\"\n", spy.url),
        ) + &format!("[ec2]\napi_endpoint_url = \"{}\"\n", spy.url);
        let mut agent = Agent::start(&config, h.port);
        agent.wait_ready();
        let (task, tid) = h.bridge_task("web", 0);
        let record = Rec {
            name: h.name_of("web"),
            set_identifier: format!("r53d:{}@{SCOPE}:{}:t-{tid}", self.cluster, host.ec2),
            weight: 1,
            ttl: crate::AGENT_TTL,
            values: vec![crate::HOST_IP.to_string()],
        };
        OnHost {
            _world: h,
            agent,
            _task: task,
            record,
        }
    }
}

/// Puts `dead`'s other record types: an SRV record and its per-instance target's A and AAAA.
fn put_srv_records(f: &Fleet, dead: &str) -> Vec<Typed> {
    let target = format!("{dead}.hosts.{}", f.w.zone);
    let host = format!("r53d:{}@{SCOPE}:{dead}:h-host", f.cluster);
    let recs = vec![
        Typed {
            name: format!("_web._tcp.{}", f.w.zone),
            rtype: "SRV".into(),
            set_identifier: format!("r53d:{}@{SCOPE}:{dead}:t-{:032x}", f.cluster, 77),
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

/// Records the janitor must never touch although their owner is `dead`'s or unknown to this region's EC2: in
/// another cluster, in another region, unscoped, a foreign writer's, an ECS Anywhere host's, a configured id's.
fn put_untouchable(f: &Fleet, dead: &str) -> Vec<Rec> {
    let recs = vec![
        f.rec_in(&format!("{}-other", f.cluster), Some(SCOPE), dead, 91),
        f.rec_in(
            &f.cluster,
            Some("us-west-2.123456789012"),
            "i-0123456789abcdef9",
            92,
        ),
        f.rec_in(&f.cluster, None, dead, 93),
        Rec {
            set_identifier: "hand-made".into(),
            ..f.rec_in("x", None, "y", 94)
        },
        f.rec_in(&f.cluster, Some(SCOPE), "mi-0123456789abcdef0", 95),
        f.rec_in(&f.cluster, Some(SCOPE), "host-1~0a1b2c3d", 96),
    ];
    f.w.moto.put_many(&f.w.zone_id, &recs);
    recs
}

fn cycles(janitor: &Agent) -> usize {
    janitor.logs().matches("Janitor cycle done.").count()
}

/// Waits until `janitor` has finished `n` more cycles.
fn more_cycles(janitor: &Agent, n: usize) {
    let target = cycles(janitor) + n;
    wait_for("more janitor cycles", LIMIT, || {
        (cycles(janitor) >= target).then_some(())
    });
}

/// The value of one un-labelled metric on `/metrics`.
fn metric(janitor: &Agent, name: &str) -> f64 {
    let body = janitor.get("/metrics").expect("/metrics").1;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
}

fn without(mut all: Vec<Rec>, gone: &[Rec]) -> Vec<Rec> {
    all.retain(|r| !gone.contains(r));
    all.sort();
    all
}

/// SIGTERM: the process exits 0 well before the drain deadline.
fn assert_stops_cleanly(process: &mut Agent) {
    let t = Instant::now();
    process.terminate();
    assert!(
        process.wait_exit(Duration::from_secs(15)).success(),
        "{}",
        process.logs()
    );
    assert!(!process.logs().contains("Drain deadline reached"));
    eprintln!("janitor: stopped in {:?}", t.elapsed());
}
