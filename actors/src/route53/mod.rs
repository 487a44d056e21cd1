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
#[cfg(test)]
mod fault_tests;
mod io;
pub mod journal;
pub mod limiter;
pub mod measured;
mod messages;
#[cfg(test)]
mod migration_tests;
pub mod pages;
mod recheck;
pub mod sdk;
mod send;
#[cfg(test)]
mod srv_tests;
#[cfg(test)]
mod tests;

pub use messages::{Deregister, Flush, Protect, Register, Sweep, Unprotect, Withhold, WriterLink};

use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use self::api::DnsApi;
use self::book::RecordBook;
use self::io::{load_zone, ours, untagged};
use self::journal::WriterJournal;
use crate::backoff::{uniform, FullJitter};
use crate::core::journal::Journal;
use crate::core::ownership::Owner;
use crate::core::plan::{weighted_counts, Group};
use crate::core::schedule::Schedule;
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
    /// The verification's reads per hour of this agent, at most (`route53.verify_reads_per_hour`; `None`: no
    /// limit but the fleet's).
    pub verify_reads_per_hour: Option<f64>,
    /// Full-jitter backoff after transient failures: first cap and largest cap ([`WRITER_BACKOFF`] in the agent).
    pub backoff: (Duration, Duration),
}

impl Route53Config {
    /// Settings for `zone_id` with no start-up jitter, no verification, a quarantine of an hour, TTL 60, weight 1,
    /// rechecks after 30 s and [`WRITER_BACKOFF`]: what tests and benchmarks start from.
    pub fn quiet(zone_id: &str) -> Self {
        Self {
            zone_id: zone_id.into(),
            quarantine: Duration::from_secs(3600),
            ttl: 60,
            weight: 1,
            startup_jitter: Duration::ZERO,
            recheck_after: Duration::from_secs(30),
            verify_interval: None,
            verify_reads_per_hour: None,
            backoff: WRITER_BACKOFF,
        }
    }
}

/// The agent's backoff after transient Route53 failures: 250 ms doubling to 5 s, full jitter.
pub const WRITER_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(250), Duration::from_secs(5));

/// The writer: the record book (what should be, what is), the schedule (when what may go), and I/O.
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
    /// One request at a time, backoffs, quarantine, rechecks, verification, flush accounting.
    schedule: Schedule,
    backoff: FullJitter,
    /// The one timer, and when it fires ([`send`]).
    timer: Option<(SpawnHandle, Instant)>,
    /// Flush waiters: each wakes once the changes up to its number have been attempted.
    waiters: Vec<(u64, oneshot::Sender<()>)>,
    /// Names already warned about for a TTL or weight mismatch.
    warned_names: HashSet<Group>,
    /// Owners of this cluster holding records in the zone at the launch read (this one included): the fleet the
    /// verification's budget is shared with.
    cluster_owners: usize,
    /// Other hosts seen writing under this owner's `agent.owner_id` (already warned about).
    shared_owner_id: BTreeSet<String>,
    /// The local journal, when the agent keeps one ([`journal`]).
    journal: Option<WriterJournal>,
    /// The journal found at start, trusted instead of the launch read (taken at the launch).
    loaded: Option<Journal>,
    /// Names read in this run (kept by the launch read, or read since): see [`Self::unread_names`].
    read_names: HashSet<String>,
    /// Unsure names of a journal start, read once the launch sweep has said which containers run (a read before
    /// it would take a live task's landed record, not registered yet, for a stale one).
    after_sweep: BTreeSet<String>,
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
            backoff: FullJitter::new(config.backoff.0, config.backoff.1),
            config,
            owner,
            reporter,
            health,
            metrics,
            book: RecordBook::default(),
            schedule: Schedule::default(),
            timer: None,
            waiters: Vec::new(),
            warned_names: HashSet::new(),
            cluster_owners: 1,
            shared_owner_id: BTreeSet::new(),
            journal: None,
            loaded: None,
            read_names: HashSet::new(),
            after_sweep: BTreeSet::new(),
        }
    }

    /// Keeps `journal` after every acknowledged change; a `loaded` journal (this owner's, for this zone) replaces
    /// the launch read: its records are taken as what Route53 holds, its unsure names are read at once, and the
    /// verification reads the rest within its interval.
    pub fn with_journal(mut self, journal: WriterJournal, loaded: Option<Journal>) -> Self {
        self.journal = Some(journal);
        self.loaded = loaded;
        self
    }

    fn publish(&self) {
        let records = self.book.actual_records();
        self.metrics.set_records_owned(&records);
        self.health.set_records(records);
    }
}

impl Route53Actor {
    /// Warns when other hosts hold records under this owner's `agent.owner_id` (each with its own host tag):
    /// their records are theirs and are never touched, but the owner id was meant to name one host. Checked at the
    /// launch read and at every re-read; each newly seen host is warned about once.
    pub(super) fn note_shared_owner_id(&mut self, others: BTreeSet<String>) {
        if !others.is_subset(&self.shared_owner_id) {
            self.shared_owner_id.extend(others);
            let others = &self.shared_owner_id;
            tracing::warn!(zone_id = %self.config.zone_id, owner = self.owner.owner(), hosts = others.len() + 1, others = ?others,
                "agent.owner_id is set on other hosts too; each host's records carry its own host tag and are kept apart, so none deletes another's. Give each host its own owner id (or leave it unset on ECS).");
        }
    }
}

impl Route53Actor {
    /// The launch from a trusted journal: no zone read, only the names a previous run left unsure.
    fn launch_from(&mut self, journal: Journal, ctx: &mut Context<Self>) {
        let unsure = self.take_unsure_from(&journal);
        self.cluster_owners = journal.cluster_owners;
        tracing::info!(zone_id = %self.config.zone_id, records = journal.records.len(), unsure = unsure.len(),
            cluster_owners = self.cluster_owners, "Launch from the journal: no zone read; the verification reads every name within its interval.");
        self.book.load_actual(journal.records, HashMap::new());
        self.publish();
        self.after_sweep = unsure;
        self.start_verify(ctx);
    }
}

impl Actor for Route53Actor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
        if let Some(journal) = self.loaded.take() {
            return self.launch_from(journal, ctx);
        }
        let jitter = uniform(self.config.startup_jitter);
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        let (owner, backoff) = (self.owner.clone(), self.config.backoff);
        let load = async move {
            actix_rt::time::sleep(jitter).await;
            load_zone(api, zone_id, owner, backoff).await
        };
        ctx.wait(load.into_actor(self).map(|res, act, ctx| match res {
            Ok(scanned) => {
                let sets = scanned.sets;
                act.read_names.extend(sets.iter().map(|s| s.name.to_ascii_lowercase()));
                act.warn_mismatches(&sets);
                act.note_foreign_ttls(&sets, None);
                let counts = weighted_counts(&sets);
                act.cluster_owners = scanned.cluster_owners;
                act.note_shared_owner_id(scanned.other_hosts);
                act.book.load_inherited(untagged(&act.owner, &sets));
                let records = ours(&act.owner, sets);
                tracing::info!(zone_id = %act.config.zone_id, records = records.len(), read = scanned.seen, cluster_owners = act.cluster_owners, "Found this owner's records in the zone.");
                act.book.load_actual(records, counts);
                act.save_journal();
                act.publish();
                act.start_verify(ctx);
            }
            Err(e) => act.reporter.failed(ACTOR, format!("reading zone {}: {e}", act.config.zone_id)),
        }));
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.reporter.stopped(ACTOR);
    }
}

impl Handler<Register> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Register, ctx: &mut Context<Self>) {
        self.schedule.received();
        self.book.register(&msg.container_id, msg.records);
        self.kick(ctx);
    }
}

impl Handler<Deregister> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Deregister, ctx: &mut Context<Self>) {
        self.schedule.received();
        self.book.deregister(&msg.container_id);
        self.kick(ctx);
    }
}

impl Handler<Sweep> for Route53Actor {
    type Result = usize;

    fn handle(&mut self, msg: Sweep, ctx: &mut Context<Self>) -> usize {
        self.schedule.received();
        let stale = self.book.sweep(&msg.keep);
        tracing::info!(zone_id = %self.config.zone_id, stale, "Launch sync: removing records of containers that no longer run.");
        let unsure = std::mem::take(&mut self.after_sweep);
        if !unsure.is_empty() {
            self.recheck_later(unsure, Duration::ZERO, ctx);
        }
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

impl Handler<Withhold> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Withhold, ctx: &mut Context<Self>) {
        self.schedule.received();
        self.book.withhold(&msg.container_id, &msg.set_identifier);
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
        self.waiters.push((self.schedule.latest(), tx));
        self.complete(self.schedule.done());
        self.kick(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
