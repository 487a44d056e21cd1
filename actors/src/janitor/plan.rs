//! The janitor's pure logic, apart from actix and I/O: the election, which records belong to which owner of this
//! cluster, how alive each owner looks, and the dead-owner tracker that enforces the grace period.
//!
//! Time is injected (`Instant` arguments), so every rule is unit-tested without clocks or runtimes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::core::ownership::{is_cluster_tag_of, parse};
use crate::core::record::{ARecord, RecordSet};

/// One container instance as `DescribeContainerInstances` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Container instance id (the last part of its ARN).
    pub id: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`, `REGISTERING`, ...
    pub status: String,
    /// Whether its ECS agent is connected.
    pub agent_connected: bool,
}

impl Instance {
    /// May this instance be the janitor: ACTIVE or DRAINING, with a connected agent.
    pub fn can_serve(&self) -> bool {
        self.agent_connected && matches!(self.status.as_str(), "ACTIVE" | "DRAINING")
    }
}

/// The janitor of the cluster: the lowest instance id among the ACTIVE and DRAINING instances whose agent is
/// connected. Every agent computes the same answer from the same ECS view, so at most one acts.
pub fn elect<'a>(instances: impl IntoIterator<Item = &'a Instance>) -> Option<&'a str> {
    instances
        .into_iter()
        .filter(|i| i.can_serve())
        .map(|i| i.id.as_str())
        .min()
}

/// True when `id` has the shape of an ECS container instance id: 32 hex digits, or an old-style UUID.
///
/// Owners of another shape (an `agent.owner_id` override such as a host name) are not container instances: ECS
/// would call them unknown although their agent may be running, so the janitor never judges them.
pub fn looks_like_instance_id(id: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    match id.len() {
        32 => hex(id),
        36 => {
            let parts: Vec<&str> = id.split('-').collect();
            parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex(p))
        }
        _ => false,
    }
}

/// How an owner of records looks to ECS in this cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Registered and its agent connected (any status but INACTIVE).
    Alive,
    /// INACTIVE, unknown to ECS, or its agent disconnected; the reason is for logs.
    Dead(&'static str),
    /// ECS said nothing about it: no verdict, nothing changes.
    Unknown,
}

/// What ECS said about one owner: its description, or that it reported the owner `MISSING`.
pub fn liveness(described: Option<&Instance>, missing: bool) -> Liveness {
    match described {
        Some(i) if i.status == "INACTIVE" => Liveness::Dead("inactive"),
        Some(i) if !i.agent_connected => Liveness::Dead("agent disconnected"),
        Some(_) => Liveness::Alive,
        None if missing => Liveness::Dead("unknown to ECS"),
        None => Liveness::Unknown,
    }
}

/// Records of this cluster's other owners, by owner: A records whose SetIdentifier parses, names `cluster` (its
/// tag, possibly shortened) and an owner other than `me`. Records of other clusters, of foreign writers, and of
/// any other shape are left out, so they can never be deleted.
pub fn records_by_owner(
    sets: Vec<RecordSet>,
    cluster: &str,
    me: &str,
) -> BTreeMap<String, Vec<ARecord>> {
    let mut out: BTreeMap<String, Vec<ARecord>> = BTreeMap::new();
    for record in sets.iter().filter_map(RecordSet::as_a_record) {
        let Some(p) = parse(&record.key.set_identifier) else {
            continue;
        };
        if is_cluster_tag_of(p.cluster_tag, cluster) && p.owner != me {
            let owner = p.owner.to_string();
            out.entry(owner).or_default().push(record);
        }
    }
    out
}

/// What one observation changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Owners seen dead for the first time (the grace period starts now).
    pub newly_dead: Vec<(String, &'static str)>,
    /// Owners that had been seen dead and are alive again (their records stay).
    pub back_alive: Vec<String>,
    /// Owners seen dead on two observations at least the grace period apart: delete their records.
    pub due: Vec<String>,
}

/// Remembers since when each owner has been seen dead, across cycles of this janitor.
#[derive(Debug)]
pub struct DeadTracker {
    grace: Duration,
    since: HashMap<String, Instant>,
}

impl DeadTracker {
    /// A tracker that declares an owner due after `grace`.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            since: HashMap::new(),
        }
    }

    /// Folds in one cycle's verdicts, taken at `now`. Owners absent from `verdicts` (no records left) are
    /// forgotten; `Unknown` keeps what was known.
    pub fn observe(&mut self, now: Instant, verdicts: &BTreeMap<String, Liveness>) -> Observed {
        self.since.retain(|owner, _| verdicts.contains_key(owner));
        let mut out = Observed::default();
        for (owner, verdict) in verdicts {
            match verdict {
                Liveness::Alive => {
                    if self.since.remove(owner).is_some() {
                        out.back_alive.push(owner.clone());
                    }
                }
                Liveness::Dead(reason) => {
                    let first = *self.since.entry(owner.clone()).or_insert_with(|| {
                        out.newly_dead.push((owner.clone(), *reason));
                        now
                    });
                    if now.saturating_duration_since(first) >= self.grace {
                        out.due.push(owner.clone());
                    }
                }
                Liveness::Unknown => {}
            }
        }
        out
    }

    /// Forgets everything (this agent is not the janitor any more; a later term starts from scratch).
    pub fn clear(&mut self) {
        self.since.clear();
    }

    /// Owners currently seen dead and waiting out the grace period.
    pub fn pending(&self) -> BTreeSet<&str> {
        self.since.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, status: &str, connected: bool) -> Instance {
        Instance {
            id: id.into(),
            status: status.into(),
            agent_connected: connected,
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
        assert_eq!(elect(&all), Some("b"));
        assert_eq!(elect(&all[..2]), Some("c"));
        assert_eq!(elect(&all[1..2]), None);
        assert_eq!(elect(&[]), None);
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
        ] {
            assert!(!looks_like_instance_id(other), "{other}");
        }
    }

    #[test]
    fn liveness_follows_status_connection_and_missing() {
        let l = |i: Option<Instance>, m| liveness(i.as_ref(), m);
        assert_eq!(l(Some(inst("a", "ACTIVE", true)), false), Liveness::Alive);
        assert_eq!(l(Some(inst("a", "DRAINING", true)), false), Liveness::Alive);
        assert_eq!(
            l(Some(inst("a", "ACTIVE", false)), false),
            Liveness::Dead("agent disconnected")
        );
        assert_eq!(
            l(Some(inst("a", "INACTIVE", false)), false),
            Liveness::Dead("inactive")
        );
        assert_eq!(l(None, true), Liveness::Dead("unknown to ECS"));
        assert_eq!(l(None, false), Liveness::Unknown);
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
        let by = records_by_owner(with_sets, "prod", "me");
        let ids = |o: &str| -> Vec<String> {
            by[o].iter().map(|r| r.key.set_identifier.clone()).collect()
        };
        assert_eq!(by.keys().collect::<Vec<_>>(), ["alive", "dead"]);
        assert_eq!(ids("dead"), ["r53d:prod:dead:t-1", "r53d:prod:dead:t-2"]);
        let long_by = records_by_owner(sets, &long, "me");
        assert_eq!(long_by.len(), 1);
        assert_eq!(long_by["dead"].len(), 1, "the shortened tag is matched");
    }

    #[test]
    fn an_owner_is_due_only_after_two_dead_sightings_grace_apart() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(600);
        let mut t = DeadTracker::new(grace);
        let dead = BTreeMap::from([("d".to_string(), Liveness::Dead("inactive"))]);
        let first = t.observe(t0, &dead);
        assert_eq!(first.newly_dead, vec![("d".to_string(), "inactive")]);
        assert!(first.due.is_empty());
        assert!(t.observe(t0 + grace / 2, &dead).due.is_empty());
        let unknown = BTreeMap::from([("d".to_string(), Liveness::Unknown)]);
        assert!(t
            .observe(t0 + grace - Duration::from_millis(1), &unknown)
            .due
            .is_empty());
        let at = t.observe(t0 + grace, &dead);
        assert_eq!(at.due, vec!["d".to_string()]);
        assert!(at.newly_dead.is_empty(), "still the first sighting's clock");
    }

    #[test]
    fn an_owner_that_comes_back_within_the_grace_period_starts_over() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(10);
        let mut t = DeadTracker::new(grace);
        let v = |l: Liveness| BTreeMap::from([("d".to_string(), l)]);
        t.observe(t0, &v(Liveness::Dead("agent disconnected")));
        let back = t.observe(t0 + Duration::from_secs(5), &v(Liveness::Alive));
        assert_eq!(back.back_alive, vec!["d".to_string()]);
        let again = t.observe(t0 + Duration::from_secs(11), &v(Liveness::Dead("inactive")));
        assert!(again.due.is_empty(), "the clock restarted at 11 s");
        assert_eq!(again.newly_dead.len(), 1);
        assert_eq!(
            t.observe(t0 + Duration::from_secs(21), &v(Liveness::Dead("inactive")))
                .due,
            vec!["d".to_string()]
        );
    }

    #[test]
    fn owners_without_records_are_forgotten_and_clear_resets() {
        let t0 = Instant::now();
        let mut t = DeadTracker::new(Duration::from_secs(1));
        t.observe(
            t0,
            &BTreeMap::from([
                ("a".to_string(), Liveness::Dead("inactive")),
                ("b".to_string(), Liveness::Dead("inactive")),
            ]),
        );
        t.observe(
            t0,
            &BTreeMap::from([("a".to_string(), Liveness::Dead("inactive"))]),
        );
        assert_eq!(t.pending(), BTreeSet::from(["a"]));
        t.clear();
        assert!(t.pending().is_empty());
        let later = t.observe(
            t0 + Duration::from_secs(5),
            &BTreeMap::from([("a".to_string(), Liveness::Dead("inactive"))]),
        );
        assert!(later.due.is_empty(), "a new term waits out the grace again");
    }
}
