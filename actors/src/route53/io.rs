//! The writer's requests: sending planned changes in batches, and the launch read of the zone.

use std::rc::Rc;
use std::time::Duration;

use super::api::{DnsApi, DnsError};
use super::pages::{walk_zone, Walk};
use crate::core::ownership::{parse, Owner};
use crate::core::plan::{batches, Change};
use crate::core::record::{Record, RecordSet};
use crate::core::scan::{Scanned, ZoneScan};

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

/// Longest wait between tries of one page of the launch read.
const LOAD_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The launch read: the zone page by page ([`walk_zone`]) through a [`ZoneScan`] that keeps only what `owner`
/// needs. A transient failure (throttling, 5xx, a timeout) retries the same page after a full-jitter backoff of
/// up to a minute, for as long as it takes: there is no wall-clock budget, so a fleet throttled during a mass
/// restart waits its turn instead of crash-looping, and no page is read twice. Permanent failures end it.
pub(super) async fn load_zone(
    api: Rc<dyn DnsApi>,
    zone_id: String,
    owner: Owner,
    (first, _): (Duration, Duration),
) -> Result<Scanned, DnsError> {
    let mut scan = ZoneScan::new(&owner);
    let walk = Walk {
        pace: Duration::ZERO,
        backoff: (first, LOAD_BACKOFF_MAX),
    };
    walk_zone(&*api, &zone_id, walk, || true, |sets| scan.feed(sets)).await?;
    Ok(scan.finish())
}
