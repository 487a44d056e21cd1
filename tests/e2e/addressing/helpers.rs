//! Helpers of the addressing tests: tasks of each network mode on the real Docker Engine and the fake ECS agent,
//! the records each should have, and checks of what other hosts can reach.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::support::docker::{docker, Container, Spec};
use crate::support::ecs::{Task, CLUSTER, SCOPE};
use crate::support::imds::INSTANCE_ID as EC2_ID;
use crate::support::moto::Typed;
use crate::support::{task_id, wait_for_result};
use crate::{World, CONVERGE, HOST_IP, HOST_IPV6};

pub const PORT_LABEL: &str = "discovery.service.port";

/// A bridge-mode ECS task with `-p` options, announced to the fake ECS agent with no `Networks`, started.
pub fn bridge(
    w: &World,
    (key, service): (&str, &str),
    publish: &[&str],
    extra: &[(&str, &str)],
) -> (Container, String) {
    let tid = task_id(&format!("{}-{key}", w.name));
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{tid}");
    let mut labels = vec![
        (w.label.clone(), service.to_string()),
        ("com.amazonaws.ecs.task-arn".to_string(), arn.clone()),
    ];
    labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let c = Container::create(Spec {
        name: &format!("r53d-{}-{key}", w.name),
        labels,
        publish: publish.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    });
    w.ecs.add_task(Task {
        arn,
        known_status: "RUNNING".into(),
        desired_status: Some("RUNNING".into()),
        containers: vec![(c.id.clone(), "app".into())],
        ..Default::default()
    });
    c.start();
    (c, tid)
}

/// An awsvpc task: a pause container (`--network none`) and an app on `container:<pause>`, with the ENI addresses
/// and `Ports` the fake ECS agent reports.
pub fn awsvpc(
    w: &World,
    service: &str,
    ipv4: Option<&str>,
    ipv6: &[&str],
    ports: &[(u16, u16)],
) -> (Container, Container, String) {
    w.awsvpc_task_with(service, ipv4, ipv6, ports)
}

pub fn rec(name: String, rtype: &str, set_identifier: &str, value: String) -> Typed {
    Typed {
        name,
        rtype: rtype.into(),
        set_identifier: set_identifier.into(),
        values: vec![value],
    }
}

/// True when Docker also published `port` on `::` (then the bridge task gets an AAAA at the instance's IPv6).
pub fn published_on_ipv6(c: &Container, port: &str) -> bool {
    docker(&["port", &c.id, port])
        .lines()
        .any(|l| l.starts_with("[::]:"))
}

pub struct Expect<'a> {
    pub w: &'a World,
    pub out: Vec<Typed>,
}

impl Expect<'_> {
    pub fn host_target(&self) -> String {
        format!("{}.hosts.{}", EC2_ID, self.w.zone)
    }

    pub fn owner_host_id(&self) -> String {
        format!("r53d:{CLUSTER}@{SCOPE}:{EC2_ID}:h-host")
    }

    /// A bridge task at the instance's address with host port `port` (AAAA when Docker published it on `::`).
    pub fn bridge(&mut self, service: &str, tid: &str, port: Option<u16>, v6: bool) {
        let (name, id) = (self.w.name_of(service), self.w.set_id(tid));
        self.out.push(rec(name.clone(), "A", &id, HOST_IP.into()));
        if v6 {
            self.out.push(rec(name, "AAAA", &id, HOST_IPV6.into()));
        }
        if let Some(p) = port {
            let srv = format!("_{service}._tcp.{}", self.w.zone);
            self.out.push(rec(
                srv,
                "SRV",
                &id,
                format!("1 1 {p} {}", self.host_target()),
            ));
        }
    }

    /// The per-instance target; its AAAA exists when any SRV holder publishes IPv6.
    pub fn instance_target(&mut self, v6: bool) {
        let (t, id) = (self.host_target(), self.owner_host_id());
        self.out.push(rec(t.clone(), "A", &id, HOST_IP.into()));
        if v6 {
            self.out.push(rec(t, "AAAA", &id, HOST_IPV6.into()));
        }
    }

    pub fn sorted(mut self) -> Vec<Typed> {
        self.out.sort();
        self.out
    }
}

pub fn wait_typed(w: &World, expected: &[Typed]) -> Vec<Typed> {
    let mut last = Vec::new();
    let ok = wait_for_result(CONVERGE, || {
        last = w.moto.typed_records(&w.zone_id);
        last == expected
    });
    assert!(
        ok,
        "records did not converge\nexpected: {expected:#?}\nactual:   {last:#?}"
    );
    last
}

/// No value is a Docker bridge address, and every SRV target has address records in the zone.
pub fn check_reachable(records: &[Typed]) {
    for r in records {
        for v in &r.values {
            if let Ok(ip) = v.parse::<Ipv4Addr>() {
                assert!(
                    !(ip.octets()[0] == 172 && (16..32).contains(&ip.octets()[1])),
                    "{r:?} holds a Docker bridge address"
                );
            }
        }
    }
    let addressed: BTreeSet<&str> = records
        .iter()
        .filter(|r| r.rtype == "A" || r.rtype == "AAAA")
        .map(|r| r.name.as_str())
        .collect();
    for srv in records.iter().filter(|r| r.rtype == "SRV") {
        let target = srv.values[0].rsplit(' ').next().unwrap();
        assert!(
            addressed.contains(target),
            "SRV {srv:?} points at {target}, which has no A/AAAA"
        );
    }
}

/// `r53d_deregistrations_total{type}` of the agent.
pub fn deregistrations(agent: &crate::support::agent::Agent, record_type: &str) -> u64 {
    let metrics = agent.get("/metrics").map(|(_, b)| b).unwrap_or_default();
    let prefix = format!("r53d_deregistrations_total{{type=\"{record_type}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}
