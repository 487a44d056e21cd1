//! The writer's sending and its one timer: group commit (when idle a change goes at once; while a request is in
//! flight further changes coalesce into the next batch), error classes, backoff, quarantine. Whether a request
//! may go, and when the timer must fire, is [`Schedule`]'s to say; this file does the I/O and follows it.
//!
//! [`Schedule`]: crate::core::schedule::Schedule

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::api::{DnsError, ErrorClass};
use super::conflict::AfterRead;
use super::io::{send_all, SendOutcome};
use super::{Route53Actor, ACTOR};
use crate::backoff::FullJitter;
use crate::core::ownership::Owner;
use crate::core::plan::Change;
use crate::core::record::RecordKey;

/// The longest the timer sleeps: a drain is never held up by a long timer, and stops the checks within this.
pub(super) const TICK: Duration = Duration::from_secs(1);

impl Route53Actor {
    /// Everything up to change number `upto` has been attempted: wake the flush waiters.
    pub(super) fn complete(&mut self, upto: u64) {
        let done = self.schedule.complete(upto);
        for (_, tx) in self.waiters.extract_if(.., |(n, _)| *n <= done) {
            let _ = tx.send(());
        }
        self.track_queue();
    }

    /// `r53d_queue_depth{queue="route53"}`: changes received and not yet attempted.
    fn track_queue(&self) {
        let depth = self.metrics.queue_depth.with_label_values(&["route53"]);
        depth.set(self.schedule.queued() as i64);
    }

    /// Sends what is dirty, unless a request is under way or a backoff is running; re-arms the timer.
    pub(super) fn kick(&mut self, ctx: &mut Context<Self>) {
        self.track_queue();
        let now = Instant::now();
        if !self.schedule.ready(now) {
            return self.arm(ctx);
        }
        let due = self.schedule.release_quarantine(now);
        self.book.mark_dirty(due);
        let upto = self.schedule.latest();
        let plan = self.book.take_plan();
        self.refuse(plan.refused);
        let mut changes = plan.changes;
        changes.retain(|c| may_send(&self.owner, c));
        let unread = self.unread_names(&changes);
        if !unread.is_empty() {
            // Others' TTL and the group's size there are learnt first; then everything is planned again.
            let keys: BTreeSet<RecordKey> =
                changes.iter().map(|c| c.record().key.clone()).collect();
            tracing::debug!(zone_id = %self.config.zone_id, names = unread.len(), "Reading names before the first write into them.");
            return self.read_names(unread, keys, AfterRead::Learn, ctx);
        }
        if changes.is_empty() {
            self.complete(upto);
            return self.arm(ctx);
        }
        self.journal_sending(&changes);
        self.schedule.set_in_flight(true);
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        let fut = async move { send_all(&*api, &zone_id, changes).await };
        ctx.spawn(
            fut.into_actor(self)
                .map(move |outcome, act, ctx| act.on_sent(outcome, upto, ctx)),
        );
    }

    fn on_sent(&mut self, outcome: SendOutcome, upto: u64, ctx: &mut Context<Self>) {
        self.schedule.set_in_flight(false);
        self.log_applied(&outcome.applied);
        self.book.applied(&outcome.applied);
        self.publish();
        self.journal_settled(&settled(&outcome));
        let Some((rest, err)) = outcome.failed else {
            self.succeeded();
            self.complete(upto);
            return self.kick(ctx);
        };
        match (err.class(), &err) {
            (_, DnsError::Ambiguous(_)) => self.reread(rest, AfterRead::Retry(err), ctx),
            (ErrorClass::Transient, _) => {
                let keys = rest.iter().map(|c| c.record().key.clone()).collect();
                self.retry_later(keys, &err, ctx);
            }
            (ErrorClass::Conflict, _) => {
                tracing::warn!(zone_id = %self.config.zone_id, error = %err, changes = rest.len(), "Change batch conflicts with the zone; re-reading.");
                self.metrics.conflicts.inc();
                self.reread(rest, AfterRead::SendEach(upto), ctx);
            }
            (ErrorClass::Permanent, _) => {
                self.reporter
                    .failed(ACTOR, format!("zone {}: {err}", self.config.zone_id));
                self.complete(upto);
                self.arm(ctx);
            }
        }
    }

    /// A request went through: the backoff starts afresh.
    pub(super) fn succeeded(&mut self) {
        self.schedule.succeeded();
        self.backoff = FullJitter::new(self.config.backoff.0, self.config.backoff.1);
    }

    /// The next delay of the backoff.
    pub(super) fn next_delay(&mut self) -> Duration {
        self.backoff.next().unwrap_or(self.config.backoff.1)
    }

    /// Keeps `keys` dirty and sends nothing before the backoff's next delay.
    pub(super) fn retry_later(
        &mut self,
        keys: BTreeSet<RecordKey>,
        err: &DnsError,
        ctx: &mut Context<Self>,
    ) {
        let delay = self.next_delay();
        tracing::warn!(zone_id = %self.config.zone_id, error = %err, changes = keys.len(), ?delay, "Route53 request failed; retrying.");
        self.book.mark_dirty(keys);
        self.schedule.back_off(Instant::now() + delay);
        self.arm(ctx);
    }

    /// Puts keys aside for `config.quarantine`.
    pub(super) fn quarantine(&mut self, keys: impl IntoIterator<Item = RecordKey>) {
        let until = Instant::now() + self.config.quarantine;
        self.schedule.quarantine(keys, until);
    }

    /// Arms the one timer at the schedule's next wake (at most [`TICK`] away), unless it fires sooner already.
    pub(super) fn arm(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let Some(sleep) = self.schedule.sleep(now, TICK) else {
            return;
        };
        let at = now + sleep;
        match self.timer.take() {
            Some((h, t)) if t <= at => self.timer = Some((h, t)),
            old => {
                if let Some((h, _)) = old {
                    ctx.cancel_future(h);
                }
                self.timer = Some((ctx.run_later(sleep, Self::wake), at));
            }
        }
    }

    /// The timer fired: in a drain (nothing holds the writer's address) the checks end so the writer can stop;
    /// then due verification, sends and rechecks run, and the timer is armed again.
    fn wake(&mut self, ctx: &mut Context<Self>) {
        self.timer = None;
        if !ctx.connected() {
            self.schedule.drain();
        }
        let now = Instant::now();
        self.verify_if_due(now);
        self.kick(ctx);
        self.run_due_rechecks(now, ctx);
        self.arm(ctx);
    }

    /// Logs and counts changes Route53 accepted.
    pub(super) fn log_applied(&self, changes: &[Change]) {
        let zone_id = self.config.zone_id.as_str();
        let stats = &self.metrics;
        for c in changes {
            let r = c.record();
            let (family, what) = match c {
                Change::Upsert(_) => (&stats.registrations, "Registered record."),
                Change::Delete(_) => (&stats.deregistrations, "Removed record."),
            };
            family
                .with_label_values(&[r.key.record_type.as_str()])
                .inc();
            tracing::info!(zone_id, record_name = %r.key.name, record_type = %r.key.record_type, set_identifier = %r.key.set_identifier, value = %r.value, "{what}");
        }
    }
}

/// The last safety net: a change goes out only for this owner's records, or to delete an untagged record of its
/// owner id that the book replaced ([`Owner::owns_untagged`]).
fn may_send(owner: &Owner, change: &Change) -> bool {
    let id = &change.record().key.set_identifier;
    owner.owns(id) || (matches!(change, Change::Delete(_)) && owner.owns_untagged(id))
}

/// Names whose changes in `outcome` were all acknowledged.
fn settled(outcome: &SendOutcome) -> BTreeSet<String> {
    let name = |c: &Change| c.record().key.name.clone();
    let failed: BTreeSet<String> = outcome
        .failed
        .iter()
        .flat_map(|(rest, _)| rest.iter().map(name))
        .collect();
    outcome
        .applied
        .iter()
        .map(name)
        .filter(|n| !failed.contains(n))
        .collect()
}

impl Route53Actor {
    /// Names that `changes` write into (an upsert) and that this run has not read yet: neither kept by the launch
    /// read (which keeps only the names holding this owner's records) nor read since. Before the first write into
    /// such a name it is read once (one request), so a record joining a weighted group of other writers adopts
    /// their TTL instead of rewriting it, and the group's size is known.
    fn unread_names(&self, changes: &[Change]) -> BTreeSet<String> {
        changes
            .iter()
            .filter(|c| matches!(c, Change::Upsert(_)))
            .map(|c| &c.record().key.name)
            .filter(|n| !self.read_names.contains(*n))
            .cloned()
            .collect()
    }
}
