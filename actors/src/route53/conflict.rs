//! Re-reads of the writer. After `InvalidChangeBatch` it re-reads the names involved (targeted paging), re-plans
//! each key against what really exists and sends the keys one by one: "not found" on a DELETE is settled by the
//! re-read (nothing left to send), and a key that still fails is quarantined and tried again later, never blocking
//! the others. After a timeout or a lost response (the request may have been applied) it re-reads the same way
//! before it retries, so a DELETE that did go through is not sent again, and reads them once more after
//! `recheck_after` (see [`super::recheck`]), since a timed-out request can still land after the first read.

use std::collections::BTreeSet;

use actix::prelude::*;

use super::api::{read_name, DnsError, ErrorClass};
use super::{ours, Route53Actor, ACTOR};
use crate::core::plan::{foreign_ttls, group_mismatches, send_order, weighted_counts, Change};
use crate::core::record::RecordKey;
use crate::core::scan::other_hosts;

/// What to do once the names are read again.
pub(super) enum AfterRead {
    /// Send each key on its own (after a conflict); then release flush waiters up to this change number.
    SendEach(u64),
    /// Retry the keys later with backoff (after an ambiguous failure).
    Retry(DnsError),
    /// Fix whatever differs from the book under the names read (a recheck or the periodic verification); the
    /// keys passed along are only placeholders carrying the names, in case the read must be retried.
    Verify,
    /// Plan the keys again, now that the names they write into are known ([`Route53Actor::unread_names`]).
    Learn,
}

impl Route53Actor {
    /// Re-reads the names of `changes`, refreshes the book, then does `after`.
    pub(super) fn reread(
        &mut self,
        changes: Vec<Change>,
        after: AfterRead,
        ctx: &mut Context<Self>,
    ) {
        let keys: BTreeSet<RecordKey> = changes.iter().map(|c| c.record().key.clone()).collect();
        let names: BTreeSet<String> = keys.iter().map(|k| k.name.clone()).collect();
        if matches!(after, AfterRead::Retry(_)) {
            // The request may still land after this read: read the names once more later.
            self.recheck_later(names.iter().cloned(), self.config.recheck_after, ctx);
        }
        self.read_names(names, keys, after, ctx);
    }

    /// Reads `names` (targeted), refreshes the book's view of them, then does `after` with `keys`.
    pub(super) fn read_names(
        &mut self,
        names: BTreeSet<String>,
        keys: BTreeSet<RecordKey>,
        after: AfterRead,
        ctx: &mut Context<Self>,
    ) {
        self.schedule.set_in_flight(true);
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        let read = async move {
            let mut sets = Vec::new();
            for name in &names {
                sets.extend(read_name(&*api, &zone_id, name).await?);
            }
            Ok::<_, DnsError>((names, sets))
        };
        ctx.spawn(read.into_actor(self).map(move |res, act, ctx| {
            act.schedule.set_in_flight(false);
            let (names, sets) = match res {
                Ok(read) => read,
                Err(e) if e.class() == ErrorClass::Permanent => {
                    let zone_id = &act.config.zone_id;
                    act.reporter
                        .failed(ACTOR, format!("re-reading zone {zone_id}: {e}"));
                    // The agent drains now; flush waiters of a conflict's changes, or of changes that waited for
                    // their names to be learnt, must not wait for ever (the restart's launch sync plans them anew).
                    match after {
                        AfterRead::SendEach(upto) => act.complete(upto),
                        AfterRead::Learn => act.complete(act.schedule.latest()),
                        AfterRead::Retry(_) | AfterRead::Verify => {}
                    }
                    return act.arm(ctx);
                }
                Err(e) => return act.read_failed(keys, after, &e, ctx),
            };
            act.warn_mismatches(&sets);
            act.note_foreign_ttls(&sets, Some(&names));
            act.note_shared_owner_id(other_hosts(&act.owner, &sets));
            let counts = weighted_counts(&sets);
            act.book
                .refresh_names(&names, ours(&act.owner, sets), counts);
            act.journal_settled(&names);
            act.read_names.extend(names.iter().cloned());
            match after {
                AfterRead::SendEach(upto) => act.send_each(keys, upto, ctx),
                AfterRead::Retry(err) => act.retry_later(keys, &err, ctx),
                AfterRead::Verify => act.verified(&names, ctx),
                AfterRead::Learn => {
                    act.book.mark_dirty(keys);
                    act.kick(ctx);
                }
            }
        }));
    }

    fn read_failed(
        &mut self,
        keys: BTreeSet<RecordKey>,
        after: AfterRead,
        err: &DnsError,
        ctx: &mut Context<Self>,
    ) {
        if let AfterRead::Verify = after {
            let names: BTreeSet<String> = keys.into_iter().map(|k| k.name).collect();
            let delay = self.next_delay();
            tracing::warn!(zone_id = %self.config.zone_id, error = %err, names = names.len(), ?delay, "Re-reading records failed; will try again.");
            self.recheck_later(names, delay, ctx);
            return self.kick(ctx);
        }
        self.retry_later(keys, err, ctx);
    }

    /// Sends each key's current plan as its own request; quarantines those that still conflict.
    fn send_each(&mut self, keys: BTreeSet<RecordKey>, upto: u64, ctx: &mut Context<Self>) {
        let mut plan = self.book.plan_keys(&keys);
        self.refuse(plan.refused);
        // One by one, still in batch order: an SRV never goes before the target it names, nor a target after.
        plan.changes.sort_by_key(send_order);
        self.journal_sending(&plan.changes);
        self.schedule.set_in_flight(true);
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        let fut = async move {
            let mut results = Vec::new();
            for change in plan.changes {
                let res = api.change(&zone_id, std::slice::from_ref(&change)).await;
                results.push((change, res));
            }
            results
        };
        ctx.spawn(fut.into_actor(self).map(move |results, act, ctx| {
            act.schedule.set_in_flight(false);
            let names = |ok: bool| -> BTreeSet<String> {
                let of = results.iter().filter(|(_, r)| r.is_ok() == ok);
                of.map(|(c, _)| c.record().key.name.clone()).collect()
            };
            let ok: BTreeSet<String> = names(true).difference(&names(false)).cloned().collect();
            for (change, res) in results {
                act.after_single(change, res, ctx);
            }
            act.publish();
            act.journal_settled(&ok);
            act.complete(upto);
            act.kick(ctx);
        }));
    }

    fn after_single(&mut self, change: Change, res: Result<(), DnsError>, ctx: &mut Context<Self>) {
        let key = change.record().key.clone();
        match res.map_err(|e| (e.class(), e)) {
            Ok(()) => {
                self.log_applied(std::slice::from_ref(&change));
                self.book.applied(&[change]);
            }
            Err((ErrorClass::Conflict, e)) => {
                tracing::error!(zone_id = %self.config.zone_id, record_name = %key.name, set_identifier = %key.set_identifier,
                    action = change.action(), error = %e, retry_in = ?self.config.quarantine, "Change quarantined.");
                self.metrics.quarantined.inc();
                self.quarantine([key]);
            }
            Err((ErrorClass::Transient, e)) => {
                if matches!(e, DnsError::Ambiguous(_)) {
                    let after = self.config.recheck_after;
                    self.recheck_later([key.name.clone()], after, ctx);
                }
                self.retry_later([key].into(), &e, ctx)
            }
            Err((ErrorClass::Permanent, e)) => self
                .reporter
                .failed(ACTOR, format!("zone {}: {e}", self.config.zone_id)),
        }
    }

    /// Logs (once per name) weighted groups whose TTL or weight differ from this agent's.
    pub(super) fn warn_mismatches(&mut self, sets: &[crate::core::record::RecordSet]) {
        for group in group_mismatches(sets, self.config.ttl, self.config.weight) {
            let (name, record_type) = group.clone();
            if self.warned_names.insert(group) {
                tracing::warn!(zone_id = %self.config.zone_id, record_name = %name, %record_type, ttl = self.config.ttl, weight = self.config.weight,
                    "Records of other agents under this name use another TTL or weight; Route53 forces one TTL per weighted group, so configure the same route53.ttl and route53.weight everywhere.");
            }
        }
    }

    /// Adopts (and warns once about) the TTLs of weighted groups that hold other writers' sets.
    pub(super) fn note_foreign_ttls(
        &mut self,
        sets: &[crate::core::record::RecordSet],
        names: Option<&BTreeSet<String>>,
    ) {
        let ttls = foreign_ttls(sets);
        for ((name, record_type), ttl) in &ttls {
            let group = (name.clone(), *record_type);
            if *ttl != self.config.ttl && self.warned_names.insert(group) {
                tracing::warn!(zone_id = %self.config.zone_id, record_name = %name, %record_type, ttl, agent_ttl = self.config.ttl,
                    "Other writers' records share this weighted group; Route53 forces one TTL per group, so this agent writes its records there with their TTL instead of route53.ttl and never changes theirs.");
            }
        }
        self.book.set_foreign_ttls(names, ttls);
    }

    /// New records refused because their name already holds the maximum of weighted records.
    pub(super) fn refuse(&mut self, keys: Vec<RecordKey>) {
        for key in &keys {
            tracing::error!(zone_id = %self.config.zone_id, record_name = %key.name, record_type = %key.record_type, set_identifier = %key.set_identifier,
                "Not registering: the name already holds 100 weighted records of this type (the Route53 limit); shard the service over several names. Will retry later.");
            self.metrics.refused_full.inc();
        }
        self.quarantine(keys);
    }
}
