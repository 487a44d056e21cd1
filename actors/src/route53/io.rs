//! The writer's requests: sending planned changes in batches, and the launch read of the zone.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::api::{read_zone, DnsApi, DnsError, ErrorClass};
use crate::backoff::FullJitter;
use crate::core::ownership::{parse, Owner};
use crate::core::plan::{batches, Change};
use crate::core::record::{Record, RecordSet};

/// What a run of batches achieved.
pub(super) struct SendOutcome {
    pub(super) applied: Vec<Change>,
    pub(super) failed: Option<(Vec<Change>, DnsError)>,
}

pub(super) async fn send_all(api: &dyn DnsApi, zone_id: &str, changes: Vec<Change>) -> SendOutcome {
    let mut applied = Vec::new();
    let mut pending = batches(changes).into_iter();
    while let Some(batch) = pending.next() {
        tracing::debug!(zone_id, changes = batch.len(), "Sending change batch.");
        if let Err(e) = api.change(zone_id, &batch).await {
            let rest = batch.into_iter().chain(pending.flatten()).collect();
            return SendOutcome {
                applied,
                failed: Some((rest, e)),
            };
        }
        applied.extend(batch);
    }
    SendOutcome {
        applied,
        failed: None,
    }
}

/// This owner's records (A, AAAA, SRV) among `sets`.
pub(super) fn ours(owner: &Owner, sets: Vec<RecordSet>) -> Vec<Record> {
    sets.into_iter()
        .filter(|s| s.set_identifier.as_deref().is_some_and(|id| owner.owns(id)))
        .filter_map(|s| s.as_record())
        .collect()
}

/// How many owners of this owner's cluster hold records among `sets`, this one included (at least 1).
pub(super) fn cluster_owners(owner: &Owner, sets: &[RecordSet]) -> usize {
    let others: BTreeSet<&str> = sets
        .iter()
        .filter_map(|s| parse(s.set_identifier.as_deref()?))
        .filter(|p| p.cluster_tag == owner.cluster_tag() && p.owner != owner.owner())
        .filter(|p| p.scope.is_none() || p.scope == owner.scope())
        .map(|p| p.owner)
        .collect();
    others.len() + 1
}

/// Records of this cluster (this scope or none) whose owner part is `owner` exactly.
fn of_owner<'a>(
    owner: &'a Owner,
    sets: &'a [RecordSet],
    part: &'a str,
) -> impl Iterator<Item = &'a RecordSet> {
    sets.iter().filter(move |s| {
        s.set_identifier
            .as_deref()
            .and_then(parse)
            .is_some_and(|p| {
                p.cluster_tag == owner.cluster_tag()
                    && p.owner == part
                    && (p.scope.is_none() || p.scope == owner.scope())
            })
    })
}

/// For an owner whose id carries a host tag: the records of the same owner id without a tag (written before the
/// tag existed, or by another host given the same `agent.owner_id`). None otherwise.
pub(super) fn untagged(owner: &Owner, sets: &[RecordSet]) -> Vec<Record> {
    if owner.base_owner() == owner.owner() {
        return Vec::new();
    }
    of_owner(owner, sets, owner.base_owner())
        .filter_map(RecordSet::as_record)
        .collect()
}

/// The other hosts' owner parts under this owner's base id (`<owner id>~<other tag>`): the same
/// `agent.owner_id` set on other hosts.
pub(super) fn other_hosts(owner: &Owner, sets: &[RecordSet]) -> BTreeSet<String> {
    let prefix = format!("{}~", owner.base_owner());
    sets.iter()
        .filter_map(|s| parse(s.set_identifier.as_deref()?))
        .filter(|p| {
            p.cluster_tag == owner.cluster_tag() && (p.scope.is_none() || p.scope == owner.scope())
        })
        .filter(|p| p.owner.starts_with(&prefix) && p.owner != owner.owner())
        .map(|p| p.owner.to_string())
        .collect()
}

/// How long the launch read may keep failing transiently before the agent gives up.
const LOAD_BUDGET: Duration = Duration::from_secs(300);

/// Reads the whole zone once, retrying transient failures for at most [`LOAD_BUDGET`].
pub(super) async fn load_zone(
    api: Rc<dyn DnsApi>,
    zone_id: String,
    (first, max): (Duration, Duration),
) -> Result<Vec<RecordSet>, DnsError> {
    let mut backoff = FullJitter::new(first, max);
    let start = Instant::now();
    loop {
        match read_zone(&*api, &zone_id).await {
            Ok(sets) => return Ok(sets),
            Err(e) if e.class() == ErrorClass::Transient && start.elapsed() < LOAD_BUDGET => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(30));
                tracing::warn!(zone_id, error = %e, ?delay, "Reading the zone failed; retrying.");
                actix_rt::time::sleep(delay).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(id: &str) -> RecordSet {
        RecordSet {
            name: "web.z.".into(),
            record_type: "A".into(),
            set_identifier: Some(id.into()),
            weight: Some(1),
            ttl: Some(60),
            values: vec!["10.0.0.1".into()],
            has_extras: false,
        }
    }

    #[test]
    fn the_cluster_owners_are_counted_once_each_with_this_one() {
        let me = Owner::new("prod", "me").unwrap();
        let sets = [
            "r53d:prod:a:t-1",
            "r53d:prod:a:t-2",
            "r53d:prod:b:t-3",
            "r53d:prod:me:t-4",
            "r53d:staging:c:t-5",
            "hand-made",
        ]
        .map(set);
        assert_eq!(cluster_owners(&me, &sets), 3, "a, b and me");
        assert_eq!(cluster_owners(&me, &[]), 1);
    }
}
