//! A fleet's records for the janitor's benchmarks: host `h`'s EC2 instance id, and the records its agent writes for
//! it and its tasks (an A and an AAAA for the host's own SRV target, an A, an AAAA and an SRV per task).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::core::ownership::{InstanceId, Owner};
use crate::core::record::{Record, RecordSet, RecordValue, SrvValue};

/// The shape of one host's records.
#[derive(Debug, Clone, Copy)]
pub struct HostShape<'a> {
    /// The cluster's name.
    pub cluster: &'a str,
    /// Its `<region>.<account>`.
    pub scope: &'a str,
    /// The zone's name, with the trailing dot.
    pub zone_name: &'a str,
    /// Tasks per host.
    pub tasks: usize,
    /// Service names the tasks are spread over (100 tasks a name: Route53's weighted limit).
    pub services: usize,
}

impl HostShape<'_> {
    /// Records per host: 3 per task and the host's 2.
    pub fn per_host(&self) -> usize {
        3 * self.tasks + 2
    }
}

/// Host `h`'s EC2 instance id (17 hex digits, spread out).
pub fn instance(h: usize) -> String {
    format!(
        "i-{:017x}",
        (h as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

fn rec(name: &str, id: &str, value: RecordValue) -> RecordSet {
    RecordSet::from_record(&Record::new(name.into(), id.into(), value, 60, 1))
}

/// Host `h`'s records as its agent writes them.
pub fn host_records(h: usize, s: HostShape<'_>) -> Vec<RecordSet> {
    let owner = Owner::scoped(s.cluster, &instance(h), s.scope).expect("a valid owner");
    let host = format!("{}.hosts.{}", instance(h), s.zone_name);
    let id = owner.set_identifier(&InstanceId::Host);
    let v6 = |n: usize| RecordValue::Aaaa(Ipv6Addr::from((0x2600u128 << 112) + n as u128));
    let mut out = vec![
        rec(
            &host,
            &id,
            RecordValue::A(Ipv4Addr::from(0x0a10_0000 + h as u32)),
        ),
        rec(&host, &id, v6(h << 20)),
    ];
    for t in 0..s.tasks {
        let n = h * s.tasks + t;
        let id = owner.set_identifier(&InstanceId::Task(format!("{n:032x}")));
        let svc = format!("svc{}.{}.{}", n % s.services, s.cluster, s.zone_name);
        let srv_name = format!("_svc{}._tcp.{}.{}", n % s.services, s.cluster, s.zone_name);
        let srv = SrvValue {
            priority: 1,
            weight: 1,
            port: 32768 + t as u16,
            target: host.clone(),
        };
        out.extend([
            rec(
                &svc,
                &id,
                RecordValue::A(Ipv4Addr::from(0x0a00_0000 + n as u32)),
            ),
            rec(&svc, &id, v6(n)),
            rec(&srv_name, &id, RecordValue::Srv(srv)),
        ]);
    }
    out
}
