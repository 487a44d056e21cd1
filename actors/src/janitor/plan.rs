//! The janitor's pure logic, apart from actix and I/O: the election, which owners are judged at all, which records
//! belong to which owner of this cluster, and the brake's limit. How alive each owner looks is
//! [`super::verdict`]; the grace period is enforced by the dead-owner tracker ([`super::tracker`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::core::ownership::{is_cluster_tag_of, is_scope_of, parse};
use crate::core::record::{Record, RecordSet};

/// One container instance as `DescribeContainerInstances` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Container instance id (the last part of its ARN).
    pub id: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`, `REGISTERING`, ...
    pub status: String,
    /// Whether its ECS agent is connected.
    pub agent_connected: bool,
    /// The EC2 instance it runs on (`ec2InstanceId`), asked about when ECS cannot vouch for it.
    pub ec2_instance_id: Option<String>,
    /// The value of its [`CANDIDATE_ATTRIBUTE`]: the hosted zone whose janitor its agent runs, if any.
    pub janitor_for: Option<String>,
}

/// The ECS attribute by which an agent with the janitor on announces itself as a candidate, on its own container
/// instance, valued with the hosted zone id it cleans. Put once the agent's janitor starts, deleted when it
/// stops gracefully (and at start when the janitor is off).
pub const CANDIDATE_ATTRIBUTE: &str = "route53-discovery.janitor";

impl Instance {
    /// May this instance be the janitor of `zone`: ACTIVE or DRAINING, with a connected ECS agent, and its
    /// agent announced with the janitor on for `zone`.
    pub fn can_serve(&self, zone: &str) -> bool {
        self.agent_connected
            && matches!(self.status.as_str(), "ACTIVE" | "DRAINING")
            && self.janitor_for.as_deref() == Some(zone)
    }
}

/// The janitor of the cluster for `zone`: the lowest instance id among the ACTIVE and DRAINING instances whose
/// ECS agent is connected and whose agent announced its janitor for `zone`. An instance where no agent runs
/// (daemon task pending, crash-looping before it was ready), or where the janitor is off, never wins. Every
/// agent computes the same answer from the same ECS view, so at most one acts.
pub fn elect<'a>(instances: impl IntoIterator<Item = &'a Instance>, zone: &str) -> Option<&'a str> {
    instances
        .into_iter()
        .filter(|i| i.can_serve(zone))
        .map(|i| i.id.as_str())
        .min()
}

/// True when `id` has the shape of an ECS container instance id: 32 lowercase hex digits, or an old-style UUID
/// (lowercase, hyphens at 8-4-4-4-12). ECS writes both in lowercase.
///
/// Owners of another shape (an `agent.owner_id` override such as a host name) are not container instances: ECS
/// would call them unknown although their agent may be running, so the janitor never judges them. An override
/// of this shape (a `/etc/machine-id` is 32 lowercase hex digits too) is judged; start-up warns about it.
pub fn looks_like_instance_id(id: &str) -> bool {
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let bytes = id.as_bytes();
    match bytes.len() {
        32 => bytes.iter().all(|&b| hex(b)),
        36 => bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => hex(b),
        }),
        _ => false,
    }
}

/// One cycle never removes more than a quarter of the cluster's owners, whatever `janitor.max_owners_per_cycle`
/// says: an AZ of a three-AZ cluster is a third.
pub const MAX_SHARE_DIVISOR: usize = 4;

/// How many owners one cycle may remove: `max_owners_per_cycle`, and never more than a quarter of the owners of
/// the cluster holding records in the zone (`owners`, this agent included), but at least one. More owners due at
/// once looks like an incident (an AZ or control-plane blip), not like instances dying: the brake holds them all.
pub fn removal_limit(max_owners_per_cycle: usize, owners: usize) -> usize {
    max_owners_per_cycle.min((owners / MAX_SHARE_DIVISOR).max(1))
}

/// Records of this cluster's other owners, by owner: A, AAAA and SRV records whose SetIdentifier parses, names
/// `cluster` (its tag, possibly shortened), `scope` (this cluster's `<region>.<account>`; a record of a
/// same-named cluster elsewhere is not this cluster's) or no scope at all (the legacy format), and an owner other
/// than `me`. A janitor that knows no scope takes only legacy records. Records of other clusters, of foreign
/// writers, and of any other shape are left out, so they can never be deleted.
pub fn records_by_owner(
    sets: Vec<RecordSet>,
    cluster: &str,
    scope: Option<&str>,
    me: &str,
) -> BTreeMap<String, Vec<Record>> {
    let mut out: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for record in sets.iter().filter_map(RecordSet::as_record) {
        let Some(p) = parse(&record.key.set_identifier) else {
            continue;
        };
        let in_scope = match (p.scope, scope) {
            (None, _) => true,
            (Some(theirs), Some(ours)) => is_scope_of(theirs, ours),
            (Some(_), None) => false,
        };
        if in_scope && is_cluster_tag_of(p.cluster_tag, cluster) && p.owner != me {
            let owner = p.owner.to_string();
            out.entry(owner).or_default().push(record);
        }
    }
    out
}

/// For a janitor that knows its scope: the owners all of whose records are in the legacy format (no scope).
/// Where their cluster is cannot be told, so an id ECS does not know is no proof of death (it may be a
/// same-named cluster's elsewhere). A janitor without a scope writes and reads the legacy format only and judges
/// as before: none.
pub fn legacy_only(
    by_owner: &BTreeMap<String, Vec<Record>>,
    scope: Option<&str>,
) -> BTreeSet<String> {
    if scope.is_none() {
        return BTreeSet::new();
    }
    by_owner
        .iter()
        .filter(|(_, records)| {
            records
                .iter()
                .all(|r| parse(&r.key.set_identifier).is_some_and(|p| p.scope.is_none()))
        })
        .map(|(owner, _)| owner.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brake_allows_the_configured_count_and_never_more_than_a_quarter_of_the_cluster() {
        assert_eq!(
            removal_limit(5, 3),
            1,
            "a small cluster may still lose one instance"
        );
        assert_eq!(removal_limit(5, 12), 3, "a quarter of 12");
        assert_eq!(removal_limit(5, 2000), 5, "the configured count");
        assert_eq!(
            removal_limit(0, 2000),
            0,
            "0: the janitor never removes (reports only)"
        );
    }

    fn inst(id: &str, status: &str, connected: bool) -> Instance {
        Instance {
            id: id.into(),
            status: status.into(),
            agent_connected: connected,
            ec2_instance_id: None,
            janitor_for: Some("Z1".into()),
        }
    }

    fn set(name: &str, id: Option<&str>) -> RecordSet {
        RecordSet {
            name: name.into(),
            record_type: "A".into(),
            set_identifier: id.map(str::to_string),
            weight: Some(1),
            ttl: Some(60),
            values: vec!["10.0.0.1".into()],
            has_extras: false,
        }
    }

    #[test]
    fn the_lowest_connected_active_or_draining_instance_is_elected() {
        let all = [
            inst("c", "ACTIVE", true),
            inst("a", "ACTIVE", false),
            inst("b", "DRAINING", true),
            inst("0", "INACTIVE", true),
            inst("1", "REGISTERING", true),
        ];
        assert_eq!(elect(&all, "Z1"), Some("b"));
        assert_eq!(elect(&all[..2], "Z1"), Some("c"));
        assert_eq!(elect(&all[1..2], "Z1"), None);
        assert_eq!(elect(&[], "Z1"), None);
    }

    #[test]
    fn only_instances_whose_agent_announced_the_janitor_for_this_zone_are_elected() {
        let mut none = inst("a", "ACTIVE", true);
        none.janitor_for = None;
        let mut other = inst("b", "ACTIVE", true);
        other.janitor_for = Some("Z2".into());
        let all = [none, other, inst("c", "ACTIVE", true)];
        assert_eq!(
            elect(&all, "Z1"),
            Some("c"),
            "no agent (or janitor off) on a; b cleans another zone"
        );
        assert_eq!(elect(&all, "Z2"), Some("b"));
        assert_eq!(elect(&all[..1], "Z1"), None);
    }

    #[test]
    fn only_container_instance_ids_are_judged() {
        assert!(looks_like_instance_id("0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f70"));
        assert!(looks_like_instance_id(
            "3f2b7c1e-0d6e-4b7b-9c1e-2a6f0e1d9b7a"
        ));
        for other in [
            "host-1",
            "",
            "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6f7",
            "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6fzz",
            "3f2b7c1e0-d6e-4b7b-9c1e-2a6f0e1d9b7a",
            "0F6B9A4C6D3E4C2A9A1D2B3C4D5E6F70",
            "0f6b9a4c6d3e4c2a9a1d2b3c4d5e6F70",
            "3F2B7C1E-0D6E-4B7B-9C1E-2A6F0E1D9B7A",
            "3f2b7c1e-0d6e-4b7b-9c1e+2a6f0e1d9b7a",
            "3f2b7c1e-0d6e-4b7b-9c1e-2a6f0e1d9b7a0",
        ] {
            assert!(!looks_like_instance_id(other), "{other}");
        }
    }

    #[test]
    fn only_this_clusters_other_owners_records_are_grouped() {
        let long = format!("team-{}", "x".repeat(150));
        let tag = crate::core::ownership::Owner::new(&long, "dead")
            .unwrap()
            .cluster_tag()
            .to_string();
        let sets = vec![
            set("web.z.", Some("r53d:prod:dead:t-1")),
            set("api.z.", Some("r53d:prod:dead:t-2")),
            set("web.z.", Some("r53d:prod:alive:t-3")),
            set("web.z.", Some("r53d:prod:me:t-4")),
            set("web.z.", Some("r53d:prod2:dead:t-5")),
            set("web.z.", Some("r53d:staging:dead:t-6")),
            set("web.z.", Some("hand-made")),
            set("web.z.", None),
            set("web.z.", Some(&format!("r53d:{tag}:dead:t-7"))),
        ];
        let mut txt = set("web.z.", Some("r53d:prod:dead:t-8"));
        txt.record_type = "TXT".into();
        let mut with_sets = sets.clone();
        with_sets.push(txt);
        let by = records_by_owner(with_sets, "prod", None, "me");
        let ids = |o: &str| -> Vec<String> {
            by[o].iter().map(|r| r.key.set_identifier.clone()).collect()
        };
        assert_eq!(by.keys().collect::<Vec<_>>(), ["alive", "dead"]);
        assert_eq!(ids("dead"), ["r53d:prod:dead:t-1", "r53d:prod:dead:t-2"]);
        let long_by = records_by_owner(sets, &long, None, "me");
        assert_eq!(long_by.len(), 1);
        assert_eq!(long_by["dead"].len(), 1, "the shortened tag is matched");
    }

    #[test]
    fn every_record_type_of_a_dead_owner_is_found_including_its_srv_target() {
        let typed = |name: &str, t: &str, id: &str, v: &str| RecordSet {
            record_type: t.into(),
            values: vec![v.into()],
            ..set(name, Some(id))
        };
        let sets = vec![
            typed("web.z.", "A", "r53d:prod:dead:t-1", "10.0.0.1"),
            typed("web.z.", "AAAA", "r53d:prod:dead:t-1", "2600::1"),
            typed(
                "_web._tcp.z.",
                "SRV",
                "r53d:prod:dead:t-1",
                "1 1 32768 i-1.hosts.z.",
            ),
            typed("i-1.hosts.z.", "A", "r53d:prod:dead:h-host", "10.0.0.9"),
            typed("i-1.hosts.z.", "AAAA", "r53d:prod:dead:h-host", "2600::9"),
            typed("web.z.", "TXT", "r53d:prod:dead:t-1", "\"x\""),
        ];
        let by = records_by_owner(sets, "prod", None, "me");
        let types: Vec<String> = by["dead"]
            .iter()
            .map(|r| format!("{} {}", r.key.name, r.key.record_type))
            .collect();
        assert_eq!(
            types,
            [
                "web.z. A",
                "web.z. AAAA",
                "_web._tcp.z. SRV",
                "i-1.hosts.z. A",
                "i-1.hosts.z. AAAA"
            ],
            "a TXT set is no record of ours"
        );
    }

    #[test]
    fn a_same_named_cluster_elsewhere_is_not_this_cluster_and_legacy_owners_are_told_apart() {
        let west = "us-west-2.111122223333";
        let sets = vec![
            set("web.z.", Some(&format!("r53d:prod@{west}:a:t-1"))),
            set("web.z.", Some("r53d:prod@us-east-1.111122223333:b:t-2")),
            set("web.z.", Some("r53d:prod@us-west-2.444455556666:c:t-3")),
            set("web.z.", Some("r53d:prod:d:t-4")),
            set("web.z.", Some(&format!("r53d:prod@{west}:e:t-5"))),
            set("web.z.", Some("r53d:prod:e:t-6")),
        ];
        let by = records_by_owner(sets.clone(), "prod", Some(west), "me");
        assert_eq!(
            by.keys().collect::<Vec<_>>(),
            ["a", "d", "e"],
            "another region or account: not ours"
        );
        assert_eq!(
            legacy_only(&by, Some(west)),
            BTreeSet::from(["d".to_string()])
        );
        assert!(
            legacy_only(&by, None).is_empty(),
            "an unscoped janitor judges as before"
        );
        let unscoped = records_by_owner(sets, "prod", None, "me");
        assert_eq!(
            unscoped.keys().collect::<Vec<_>>(),
            ["d", "e"],
            "only legacy records without a scope"
        );
    }
}
