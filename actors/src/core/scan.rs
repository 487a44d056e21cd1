//! The launch read's filter: a zone is read page by page and only what this owner needs is kept, so memory is
//! bounded by what the owner holds, not by the zone (a 100 000-record zone is 334 pages).
//!
//! Route53 lists a zone in name order (then type), so all sets of one name come together, possibly across a page
//! boundary. The scan holds the current name's sets until the name changes, then keeps the whole group (every
//! type, others' sets too: their count and TTL matter to this owner's records there) only if it holds a record of
//! this owner or an untagged one of its owner id; otherwise it drops it. Besides the kept groups it keeps only
//! the ids of this cluster's other owners (for the verification's fleet budget) and of other hosts writing under
//! this owner's `agent.owner_id`: small sets, bounded by the cluster.

use std::collections::BTreeSet;

use super::ownership::{parse, Owner};
use super::record::RecordSet;

/// What the scan kept, once the last page is in.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Every set of the names where this owner holds records (or untagged ones of its owner id).
    pub sets: Vec<RecordSet>,
    /// Owners of this cluster holding records in the zone, this one included (at least 1).
    pub cluster_owners: usize,
    /// Other hosts' owner parts under this owner's `agent.owner_id` (see [`other_hosts`]).
    pub other_hosts: BTreeSet<String>,
    /// Sets seen in all, kept or not.
    pub seen: usize,
}

/// A scan in progress.
#[derive(Debug)]
pub struct ZoneScan {
    owner: Owner,
    /// The current name's sets, and whether one of them is this owner's.
    group: Vec<RecordSet>,
    group_is_ours: bool,
    kept: Vec<RecordSet>,
    owners: BTreeSet<String>,
    other_hosts: BTreeSet<String>,
    seen: usize,
}

impl ZoneScan {
    /// A scan on behalf of `owner`.
    pub fn new(owner: &Owner) -> Self {
        Self {
            owner: owner.clone(),
            group: Vec::new(),
            group_is_ours: false,
            kept: Vec::new(),
            owners: BTreeSet::new(),
            other_hosts: BTreeSet::new(),
            seen: 0,
        }
    }

    /// Takes one page (in listing order).
    pub fn feed(&mut self, page: Vec<RecordSet>) {
        for set in page {
            self.seen += 1;
            let same = self
                .group
                .first()
                .is_some_and(|g| g.name.eq_ignore_ascii_case(&set.name));
            if !same {
                self.close_group();
            } else if self
                .group
                .iter()
                .any(|g| g.record_type == set.record_type && g.set_identifier == set.set_identifier)
            {
                continue; // an emulator that repeats a page at a weighted group's boundary
            }
            self.note(&set);
            self.group.push(set);
        }
    }

    /// Ends the scan.
    pub fn finish(mut self) -> Scanned {
        self.close_group();
        Scanned {
            sets: self.kept,
            cluster_owners: self.owners.len() + 1,
            other_hosts: self.other_hosts,
            seen: self.seen,
        }
    }

    fn note(&mut self, set: &RecordSet) {
        let Some(id) = set.set_identifier.as_deref() else {
            return;
        };
        let o = &self.owner;
        self.group_is_ours |= o.owns(id) || o.owns_untagged(id);
        let Some(p) = parse(id) else {
            return;
        };
        if p.cluster_tag == o.cluster_tag() && p.owner != o.owner() {
            self.owners.insert(p.owner.to_string());
        }
        if is_other_host(o, id) {
            self.other_hosts.insert(p.owner.to_string());
        }
    }

    fn close_group(&mut self) {
        let group = std::mem::take(&mut self.group);
        if std::mem::take(&mut self.group_is_ours) {
            self.kept.extend(group);
        }
    }
}

/// True when `set_identifier` is another host's record under `owner`'s base id (`<owner id>~<other tag>`): the same
/// `agent.owner_id` set on another host.
fn is_other_host(owner: &Owner, set_identifier: &str) -> bool {
    let prefix = format!("{}~", owner.base_owner());
    parse(set_identifier).is_some_and(|p| {
        p.cluster_tag == owner.cluster_tag()
            && (p.scope.is_none() || p.scope == owner.scope())
            && p.owner.starts_with(&prefix)
            && p.owner != owner.owner()
    })
}

/// The other hosts' owner parts under `owner`'s base id among `sets` ([`is_other_host`]).
pub fn other_hosts(owner: &Owner, sets: &[RecordSet]) -> BTreeSet<String> {
    sets.iter()
        .filter_map(|s| s.set_identifier.as_deref())
        .filter(|id| is_other_host(owner, id))
        .filter_map(|id| parse(id).map(|p| p.owner.to_string()))
        .collect()
}

#[cfg(test)]
#[path = "scan/tests.rs"]
mod tests;
