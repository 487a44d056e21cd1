//! `Route53Actor`: the one writer of this agent's records in one hosted zone.
//!
//! Registrars send [`Register`] / [`Deregister`] and go on at once; the actor keeps a [`book::RecordBook`] and sends
//! what changed with group commit: when idle a change goes out immediately, while a request is in flight further
//! changes coalesce into the next batch. Errors follow their class ([`api::ErrorClass`]):
//!
//! * transient (throttling, 5xx, timeouts) → the keys stay dirty and the batch is retried after a jittered
//!   exponential backoff;
//! * conflict (`InvalidChangeBatch`) → the affected names are re-read, the keys re-planned and sent one by one; a
//!   key that still fails is quarantined (logged, retried later) and never blocks the others;
//! * permanent (no such zone, access denied) → reported to the supervisor, which drains and exits non-zero.
//!
//! At start it reads the zone once and keeps this owner's records (launch sync); [`Sweep`] then removes those that
//! no running container holds. Only records whose SetIdentifier names this owner are ever changed.

pub mod api;
mod book;
mod conflict;
pub mod dry_run;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
mod io;
pub mod limiter;
pub mod measured;
mod messages;
mod purge;
mod recheck;
pub mod sdk;
#[cfg(test)]
mod srv_tests;
#[cfg(test)]
mod tests;

pub use messages::{Deregister, Flush, Protect, Register, Sweep, Unprotect, WriterLink};
pub use purge::{Purge, PurgeOutcome};

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use self::api::{DnsApi, DnsError, ErrorClass};
use self::book::RecordBook;
use self::conflict::AfterRead;
use self::io::{load_zone, ours, send_all, SendOutcome, QUARANTINE_CHECK};
use crate::backoff::{uniform, FullJitter};
use crate::core::ownership::Owner;
use crate::core::plan::{weighted_counts, Change, Group};
use crate::core::record::RecordKey;
use crate::health::HealthState;
use crate::messages::Reporter;
use crate::metrics::Metrics;

const ACTOR: &str = "route53";

/// Settings of the writer.
#[derive(Debug, Clone)]
pub struct Route53Config {
    /// The hosted zone id.
    pub zone_id: String,
    /// How long a change that keeps failing waits before it is tried again.
    pub quarantine: Duration,
    /// This agent's TTL, to warn about weighted groups that use another.
    pub ttl: i64,
    /// This agent's weight, likewise.
    pub weight: i64,
    /// The first Route53 request waits a random time up to this, so a fleet-wide restart is not a herd.
    pub startup_jitter: Duration,
    /// After an ambiguous failure (timeout, lost answer) the names are read once more this much later.
    pub recheck_after: Duration,
    /// Every so often (jittered) the names this agent holds records under are read again; `None`: never.
    pub verify_interval: Option<Duration>,
}

/// The writer.
pub struct Route53Actor {
    /// Route53, the dry-run sink or a fake.
    api: Rc<dyn DnsApi>,
    config: Route53Config,
    /// Whose records these are; nothing else is ever changed.
    owner: Owner,
    reporter: Reporter,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    book: RecordBook,
    /// A request (or a conflict resolution) is under way.
    in_flight: bool,
    /// The one pending backoff timer; no request is sent while it runs.
    retry_timer: Option<SpawnHandle>,
    /// The one pending quarantine check.
    quarantine_timer: Option<SpawnHandle>,
    backoff: FullJitter,
    /// Count of changes received; `done` is how many of them have been attempted.
    received: u64,
    done: u64,
    waiters: Vec<(u64, oneshot::Sender<()>)>,
    quarantine: BTreeMap<RecordKey, Instant>,
    /// Names already warned about for a TTL or weight mismatch.
    warned_names: HashSet<Group>,
    /// Names to read again, and when ([`recheck`]).
    recheck: BTreeMap<String, Instant>,
    /// The one pending tick of the checks ([`recheck`]).
    recheck_timer: Option<SpawnHandle>,
    /// When the next periodic verification is due.
    verify_due: Option<Instant>,
}

fn new_backoff() -> FullJitter {
    FullJitter::new(Duration::from_millis(250), Duration::from_secs(5))
}

impl Route53Actor {
    /// A writer for `config.zone_id` on behalf of `owner`.
    pub fn new(
        api: Rc<dyn DnsApi>,
        config: Route53Config,
        owner: Owner,
        reporter: Reporter,
        health: Arc<HealthState>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            api,
            config,
            owner,
            reporter,
            health,
            metrics,
            book: RecordBook::default(),
            in_flight: false,
            retry_timer: None,
            quarantine_timer: None,
            backoff: new_backoff(),
            received: 0,
            done: 0,
            waiters: Vec::new(),
            quarantine: BTreeMap::new(),
            warned_names: HashSet::new(),
            recheck: BTreeMap::new(),
            recheck_timer: None,
            verify_due: None,
        }
    }

    /// Everything up to change number `upto` has been attempted: wake the flush waiters.
    fn complete(&mut self, upto: u64) {
        self.done = self.done.max(upto);
        let done = self.done;
        for (_, tx) in self.waiters.extract_if(.., |(n, _)| *n <= done) {
            let _ = tx.send(());
        }
        self.track_queue();
    }

    fn publish(&self) {
        let records = self.book.actual_records();
        self.metrics.set_records_owned(&records);
        self.health.set_records(records);
    }

    /// `r53d_queue_depth{queue="route53"}`: changes received and not yet attempted.
    fn track_queue(&self) {
        let queued = self.received.saturating_sub(self.done);
        let depth = self.metrics.queue_depth.with_label_values(&["route53"]);
        depth.set(queued as i64);
    }

    fn release_quarantine(&mut self) {
        let now = Instant::now();
        let due: Vec<RecordKey> = self
            .quarantine
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &due {
            self.quarantine.remove(k);
        }
        self.book.mark_dirty(due);
    }

    /// Sends what is dirty, unless a request is under way or a backoff is running.
    fn kick(&mut self, ctx: &mut Context<Self>) {
        self.track_queue();
        if self.in_flight || self.retry_timer.is_some() {
            return;
        }
        self.release_quarantine();
        let upto = self.received;
        let plan = self.book.take_plan();
        self.refuse(plan.refused, ctx);
        let mut changes = plan.changes;
        changes.retain(|c| self.owner.owns(&c.record().key.set_identifier));
        if changes.is_empty() {
            self.complete(upto);
            return;
        }
        self.in_flight = true;
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        let fut = async move { send_all(&*api, &zone_id, changes).await };
        ctx.spawn(
            fut.into_actor(self)
                .map(move |outcome, act, ctx| act.on_sent(outcome, upto, ctx)),
        );
    }

    fn on_sent(&mut self, outcome: SendOutcome, upto: u64, ctx: &mut Context<Self>) {
        self.in_flight = false;
        self.log_applied(&outcome.applied);
        self.book.applied(&outcome.applied);
        self.publish();
        let Some((rest, err)) = outcome.failed else {
            self.backoff = new_backoff();
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
            }
        }
    }

    fn retry_later(&mut self, keys: BTreeSet<RecordKey>, err: &DnsError, ctx: &mut Context<Self>) {
        let delay = self.backoff.next().unwrap_or(Duration::from_secs(30));
        tracing::warn!(zone_id = %self.config.zone_id, error = %err, changes = keys.len(), ?delay, "Route53 request failed; retrying.");
        self.book.mark_dirty(keys);
        if let Some(old) = self.retry_timer.take() {
            ctx.cancel_future(old);
        }
        self.retry_timer = Some(ctx.run_later(delay, |act, ctx| {
            act.retry_timer = None;
            act.kick(ctx);
        }));
    }

    /// Puts keys aside for `config.quarantine`, and makes sure something wakes up to retry them.
    fn quarantine(&mut self, keys: impl IntoIterator<Item = RecordKey>, ctx: &mut Context<Self>) {
        let until = Instant::now() + self.config.quarantine;
        self.quarantine.extend(keys.into_iter().map(|k| (k, until)));
        if self.quarantine_timer.is_none() && !self.quarantine.is_empty() {
            self.quarantine_timer =
                Some(ctx.run_later(self.quarantine_check(), Self::check_quarantine));
        }
    }

    fn quarantine_check(&self) -> Duration {
        QUARANTINE_CHECK.min(self.config.quarantine)
    }

    /// Polled while keys are quarantined: retries the due ones, and lets the actor stop once nothing holds its
    /// address any more (a pending timer would otherwise keep it alive through a drain).
    fn check_quarantine(&mut self, ctx: &mut Context<Self>) {
        self.quarantine_timer = None;
        if !ctx.connected() {
            self.quarantine.clear();
            return;
        }
        self.kick(ctx);
        if !self.quarantine.is_empty() {
            self.quarantine_timer =
                Some(ctx.run_later(self.quarantine_check(), Self::check_quarantine));
        }
    }
}

impl Route53Actor {
    /// Logs and counts changes Route53 accepted.
    fn log_applied(&self, changes: &[Change]) {
        let zone_id = self.config.zone_id.as_str();
        let stats = &self.metrics;
        for c in changes {
            let r = c.record();
            let what = if matches!(c, Change::Upsert(_)) {
                stats
                    .registrations
                    .with_label_values(&[r.key.record_type.as_str()])
                    .inc();
                "Registered record."
            } else {
                stats
                    .deregistrations
                    .with_label_values(&[r.key.record_type.as_str()])
                    .inc();
                "Removed record."
            };
            tracing::info!(zone_id, record_name = %r.key.name, record_type = %r.key.record_type, set_identifier = %r.key.set_identifier, value = %r.value, "{what}");
        }
    }
}

impl Actor for Route53Actor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
        let jitter = uniform(self.config.startup_jitter);
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        let load = async move {
            actix_rt::time::sleep(jitter).await;
            load_zone(api, zone_id).await
        };
        ctx.wait(load.into_actor(self).map(|res, act, _ctx| match res {
            Ok(sets) => {
                act.warn_mismatches(&sets);
                act.note_foreign_ttls(&sets, None);
                let counts = weighted_counts(&sets);
                let records = ours(&act.owner, sets);
                tracing::info!(zone_id = %act.config.zone_id, records = records.len(), "Found this owner's records in the zone.");
                act.book.load_actual(records, counts);
                act.publish();
            }
            Err(e) => act.reporter.failed(ACTOR, format!("reading zone {}: {e}", act.config.zone_id)),
        }));
        self.start_verify(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.reporter.stopped(ACTOR);
    }
}

impl Handler<Register> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Register, ctx: &mut Context<Self>) {
        self.received += 1;
        self.book.register(&msg.container_id, msg.records);
        self.kick(ctx);
    }
}

impl Handler<Deregister> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Deregister, ctx: &mut Context<Self>) {
        self.received += 1;
        self.book.deregister(&msg.container_id);
        self.kick(ctx);
    }
}

impl Handler<Sweep> for Route53Actor {
    type Result = usize;

    fn handle(&mut self, msg: Sweep, ctx: &mut Context<Self>) -> usize {
        self.received += 1;
        let stale = self.book.sweep(&msg.keep);
        tracing::info!(zone_id = %self.config.zone_id, stale, "Launch sync: removing records of containers that no longer run.");
        self.kick(ctx);
        stale
    }
}

impl Handler<Protect> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Protect, ctx: &mut Context<Self>) {
        self.book.protect(&msg.running);
        self.kick(ctx);
    }
}

impl Handler<Unprotect> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Unprotect, ctx: &mut Context<Self>) {
        self.book.unprotect(&msg.set_identifier);
        self.kick(ctx);
    }
}

impl Handler<Flush> for Route53Actor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Flush, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.waiters.push((self.received, tx));
        self.complete(self.done);
        self.kick(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
