//! The janitor's zone read: page by page, paced to a bounded share of the account's Route53 rate, and resumable —
//! a throttled or failed page is tried again, never the whole read. It keeps what judging needs: the number of
//! records of each owner of this cluster, and the records themselves only of the owners asked for (those seen
//! dead before, whose grace may end this cycle). Memory follows the owners, not the records or the zone.
//!
//! Pacing: page starts are at least `pace` apart (`janitor.zone_read_per_sec`, 0.2 by default: 4 % of a 5/s
//! account). A zone of 30 000 records (100 pages) takes 500 s to read; the next cycle starts an interval after
//! this one ends, so the janitor never reads more than one zone a cycle and its average share stays at or below
//! the pace. The read's duration is handed to the tracker as slack ([`super::tracker::DeadTracker::set_slack`]):
//! a slow read does not break an owner's run of dead sightings.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix_rt::time::Instant;

use super::plan::owner_of;
use crate::core::record::Record;
use crate::route53::api::{DnsApi, DnsError};
use crate::route53::pages::{walk_zone, Walk};

/// Longest wait before a failed page is tried again.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Who the read is for.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// Hosted zone id.
    pub zone_id: &'a str,
    /// Full ECS cluster name.
    pub cluster: &'a str,
    /// The cluster's `<region>.<account>`.
    pub scope: &'a str,
    /// Least time between two page requests.
    pub pace: Duration,
}

/// What one read found.
#[derive(Debug, Default)]
pub struct ZoneRead {
    /// Records of each owner of this cluster.
    pub counts: BTreeMap<String, usize>,
    /// The records of the owners asked for (each once, in key order).
    pub kept: BTreeMap<String, Vec<Record>>,
    /// Record sets in the zone (all owners, all writers).
    pub zone_records: usize,
    /// Pages read successfully.
    pub pages: usize,
    /// Failed page requests that were tried again.
    pub retries: usize,
    /// How long the read took.
    pub took: Duration,
}

/// Reads the zone for `r`, keeping the records of `keep` ([`walk_zone`]: paced, a failed page retried after a
/// full-jitter backoff of at least the pace, for as long as `go_on` says so — the janitor is not stopping); a
/// permanent failure, a stuck cursor or a `go_on` that says stop ends the read with an error.
pub async fn read_owners(
    dns: &dyn DnsApi,
    r: Reader<'_>,
    keep: &BTreeSet<String>,
    go_on: impl Fn() -> bool,
) -> Result<ZoneRead, DnsError> {
    let started = Instant::now();
    let mut out = ZoneRead::default();
    let walk = Walk {
        pace: r.pace,
        backoff: (r.pace.max(Duration::from_millis(100)), RETRY_MAX),
    };
    let walked = walk_zone(dns, r.zone_id, walk, go_on, |sets| {
        out.zone_records += sets.len();
        for (owner, record) in sets.iter().filter_map(|s| owner_of(s, r.cluster, r.scope)) {
            if keep.contains(&owner) {
                out.kept.entry(owner.clone()).or_default().push(record);
            }
            *out.counts.entry(owner).or_default() += 1;
        }
    })
    .await?;
    for records in out.kept.values_mut() {
        records.sort_by(|a, b| a.key.cmp(&b.key));
        records.dedup_by(|a, b| a.key == b.key);
    }
    (out.pages, out.retries) = (walked.pages, walked.retries);
    out.took = started.elapsed();
    Ok(out)
}

#[cfg(test)]
#[path = "zone_tests.rs"]
mod tests;
