//! The writer's change requests and what each outcome does to the book: acknowledged changes are recorded; a
//! transient failure backs off; a timeout (the request may still land) makes its names unsure, read before any
//! further change and once more after `recheck_after`; a refused batch (`InvalidChangeBatch`) makes its names
//! unsure and its keys suspects, sent alone after the re-read, and a suspect refused alone is quarantined; a
//! permanent failure is reported.

use std::collections::BTreeSet;

use super::api::{DnsApi, DnsError, ErrorClass};
use super::writer::{now, Writer};
use super::ACTOR;
use crate::core::plan::{batches, Change};
use crate::core::record::RecordKey;

/// What a run of batches achieved.
struct SendOutcome {
    applied: Vec<Change>,
    failed: Option<(Vec<Change>, DnsError)>,
}

/// Sends `changes` in batches within Route53's limits, stopping at the first failure; `accepted` is told of each
/// batch Route53 accepts as it does.
async fn send_all(
    api: &dyn DnsApi,
    zone_id: &str,
    changes: Vec<Change>,
    mut accepted: impl FnMut(&[Change]),
) -> SendOutcome {
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
        accepted(&batch);
        applied.extend(batch);
    }
    SendOutcome {
        applied,
        failed: None,
    }
}

impl Writer {
    /// Sends `changes` and records the outcome.
    pub(super) async fn send(&mut self, changes: Vec<Change>) {
        self.journal_sending(&changes);
        let alone = changes.len() == 1;
        let (stamps, latency) = (&mut self.stamps, &self.metrics.event_to_change);
        let accepted = |batch: &[Change]| stamps.accepted(batch, now(), latency);
        let outcome = send_all(&*self.api, &self.config.zone_id, changes, accepted).await;
        self.log_applied(&outcome.applied);
        self.book.applied(&outcome.applied);
        for c in &outcome.applied {
            self.suspects.remove(&c.record().key);
            self.launch.touched(&c.record().key.name);
        }
        self.publish();
        let failed: BTreeSet<&String> = outcome
            .failed
            .iter()
            .flat_map(|(rest, _)| rest.iter().map(|c| &c.record().key.name))
            .collect();
        let settled: BTreeSet<String> = outcome
            .applied
            .iter()
            .map(|c| c.record().key.name.clone())
            .filter(|n| !failed.contains(n) && !self.ambiguous.contains_key(n))
            .collect();
        // A name with a timed-out change stays unsure until its recheck: that change may still land.
        self.journal_settled(&settled);
        self.forget_empty(&settled);
        match outcome.failed {
            None => self.succeeded(),
            Some((rest, err)) => self.send_failed(rest, err, alone),
        }
    }

    fn send_failed(&mut self, rest: Vec<Change>, err: DnsError, alone: bool) {
        let keys: BTreeSet<RecordKey> = rest.iter().map(|c| c.record().key.clone()).collect();
        let names: BTreeSet<String> = keys.iter().map(|k| k.name.clone()).collect();
        match (err.class(), &err) {
            (_, DnsError::Ambiguous(_)) => {
                self.names.doubt(names.iter().cloned());
                for key in &keys {
                    let under = self.ambiguous.entry(key.name.clone()).or_default();
                    under.insert(key.clone());
                }
                let at = now() + self.config.recheck_after;
                self.schedule.recheck_at(names, at);
                self.retry_later(keys, &err);
            }
            (ErrorClass::Transient, _) => self.retry_later(keys, &err),
            (ErrorClass::Conflict, _) => {
                self.metrics.conflicts.inc();
                self.names.doubt(names);
                if alone && keys.is_subset(&self.suspects) {
                    return self.quarantine(rest, &err);
                }
                tracing::warn!(zone_id = %self.config.zone_id, error = %err, changes = rest.len(), "Change batch conflicts with the zone; re-reading.");
                self.suspects.extend(keys.iter().cloned());
                self.book.mark_dirty(keys);
            }
            (ErrorClass::Permanent, _) => self.fail(format!("zone {}: {err}", self.config.zone_id)),
        }
    }

    /// Puts the changes aside for `config.quarantine`: the same change is not sent again before then.
    fn quarantine(&mut self, changes: Vec<Change>, err: &DnsError) {
        for change in changes {
            let key = change.record().key.clone();
            tracing::error!(zone_id = %self.config.zone_id, record_name = %key.name, set_identifier = %key.set_identifier,
                action = change.action(), error = %err, retry_in = ?self.config.quarantine, "Change quarantined.");
            self.metrics.quarantined.inc();
            self.suspects.remove(&key);
            self.schedule
                .quarantine([key.clone()], now() + self.config.quarantine);
            self.held.insert(key, change);
        }
    }

    /// A permanent failure: reported to the supervisor (which drains the agent); nothing more is sent.
    pub(super) fn fail(&mut self, error: String) {
        self.reporter.failed(ACTOR, error);
        self.failed = true;
        self.complete(self.schedule.latest());
    }

    /// A request went through: the backoff starts afresh.
    pub(super) fn succeeded(&mut self) {
        self.schedule.succeeded();
        self.backoff =
            crate::backoff::FullJitter::new(self.config.backoff.0, self.config.backoff.1);
    }

    /// Keeps `keys` dirty and makes no request before the backoff's next delay.
    pub(super) fn retry_later(&mut self, keys: BTreeSet<RecordKey>, err: &DnsError) {
        let delay = self.backoff.next().unwrap_or(self.config.backoff.1);
        tracing::warn!(zone_id = %self.config.zone_id, error = %err, changes = keys.len(), ?delay, "Route53 request failed; retrying.");
        self.book.mark_dirty(keys);
        self.schedule.back_off(now() + delay);
    }

    /// Drops what is kept about those of `names` that no longer hold anything of this owner's, so a long-running
    /// agent does not keep every task name it ever wrote.
    pub(super) fn forget_empty(&mut self, names: &BTreeSet<String>) {
        for name in names {
            if self.book.holds_nothing_under(name) && !self.schedule.recheck_pending(name) {
                self.names.forget(name);
                self.book.forget_name(name);
            }
        }
    }
}
