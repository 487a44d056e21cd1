//! The janitor's pure rules, apart from actix and I/O: which records are this janitor's to judge and whose they
//! are, and the brake's limit. How alive each owner looks is [`super::verdict`]; the grace period is enforced by
//! the dead-owner tracker ([`super::tracker`]).

use crate::core::ownership::{is_cluster_tag_of, is_scope_of, parse};
use crate::core::record::{Record, RecordSet};

/// One cycle never removes more than a quarter of the cluster's owners, whatever `janitor.max_owners_per_cycle`
/// says: an AZ of a three-AZ cluster is a third.
pub const MAX_SHARE_DIVISOR: usize = 4;

/// How many owners one cycle may remove: `max_owners_per_cycle`, and never more than a quarter of the owners of
/// the cluster holding records in the zone, but at least one. More owners due at once looks like an incident (an
/// AZ or control-plane blip), not like instances dying: the brake holds them all.
pub fn removal_limit(max_owners_per_cycle: usize, owners: usize) -> usize {
    max_owners_per_cycle.min((owners / MAX_SHARE_DIVISOR).max(1))
}

/// The owner of `set` when it is a record of `cluster` in `scope`: an A, AAAA or SRV record whose SetIdentifier
/// parses, names `cluster` (its tag, possibly shortened) and `scope` (`<region>.<account>`, in full or short).
/// Records in the legacy format (no scope: which account's EC2 knows their host cannot be told), of other clusters
/// or scopes, of foreign writers, and of any other shape are `None`: never judged, never deleted.
pub fn owner_of(set: &RecordSet, cluster: &str, scope: &str) -> Option<(String, Record)> {
    let record = set.as_record()?;
    let p = parse(&record.key.set_identifier)?;
    let ours =
        p.scope.is_some_and(|s| is_scope_of(s, scope)) && is_cluster_tag_of(p.cluster_tag, cluster);
    let owner = p.owner.to_string();
    ours.then_some((owner, record))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const SCOPE: &str = "us-east-1.111122223333";

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

    fn by_owner(sets: &[RecordSet], cluster: &str, scope: &str) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (owner, r) in sets.iter().filter_map(|s| owner_of(s, cluster, scope)) {
            out.entry(owner).or_default().push(r.key.set_identifier);
        }
        out
    }

    #[test]
    fn only_this_clusters_records_in_this_scope_are_judged() {
        let long = format!("team-{}", "x".repeat(150));
        let tag = crate::core::ownership::Owner::scoped(&long, "i-0abc", SCOPE)
            .unwrap()
            .cluster_tag()
            .to_string();
        let short = format!("~{:08x}", crc32fast::hash(SCOPE.as_bytes()));
        let sets = vec![
            set("web.z.", Some(&format!("r53d:prod@{SCOPE}:i-dead:t-1"))),
            set("api.z.", Some(&format!("r53d:prod@{short}:i-dead:t-2"))),
            set("web.z.", Some(&format!("r53d:prod@{SCOPE}:i-alive:t-3"))),
            set("web.z.", Some("r53d:prod:i-legacy:t-4")),
            set("web.z.", Some(&format!("r53d:prod2@{SCOPE}:i-dead:t-5"))),
            set(
                "web.z.",
                Some("r53d:prod@us-west-2.111122223333:i-west:t-6"),
            ),
            set(
                "web.z.",
                Some("r53d:prod@us-east-1.444455556666:i-other:t-7"),
            ),
            set("web.z.", Some("hand-made")),
            set("web.z.", None),
            set("web.z.", Some(&format!("r53d:{tag}@{SCOPE}:i-dead:t-8"))),
        ];
        let mut txt = set("web.z.", Some(&format!("r53d:prod@{SCOPE}:i-dead:t-9")));
        txt.record_type = "TXT".into();
        let mut with_txt = sets.clone();
        with_txt.push(txt);
        let by = by_owner(&with_txt, "prod", SCOPE);
        assert_eq!(by.keys().collect::<Vec<_>>(), ["i-alive", "i-dead"]);
        assert_eq!(
            by["i-dead"],
            [
                format!("r53d:prod@{SCOPE}:i-dead:t-1"),
                format!("r53d:prod@{short}:i-dead:t-2")
            ],
            "the short scope is this scope; legacy, other clusters, regions, accounts and TXT are not ours"
        );
        let long_by = by_owner(&sets, &long, SCOPE);
        assert_eq!(long_by["i-dead"].len(), 1, "the shortened tag is matched");
        assert!(by_owner(&sets, "prod", "eu-west-1.111122223333").is_empty());
    }

    #[test]
    fn every_record_type_of_an_owner_is_found_including_its_srv_target() {
        let typed = |name: &str, t: &str, id: &str, v: &str| RecordSet {
            record_type: t.into(),
            values: vec![v.into()],
            ..set(name, Some(&format!("r53d:prod@{SCOPE}:i-1:{id}")))
        };
        let sets = [
            typed("web.z.", "A", "t-1", "10.0.0.1"),
            typed("web.z.", "AAAA", "t-1", "2600::1"),
            typed("_web._tcp.z.", "SRV", "t-1", "1 1 32768 i-1.hosts.z."),
            typed("i-1.hosts.z.", "A", "h-host", "10.0.0.9"),
            typed("i-1.hosts.z.", "AAAA", "h-host", "2600::9"),
            typed("web.z.", "TXT", "t-1", "\"x\""),
        ];
        let types: Vec<String> = sets
            .iter()
            .filter_map(|s| owner_of(s, "prod", SCOPE))
            .map(|(_, r)| format!("{} {}", r.key.name, r.key.record_type))
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
}
