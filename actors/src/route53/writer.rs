//! The writer's loop: one task that owns the record book, the schedule and the API client, and makes one request
//! at a time. Each turn it takes every message that queued meanwhile, then does the next step ([`super::step`]) or
//! sleeps until a message or the schedule's next wake.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::api::DnsApi;
use super::book::RecordBook;
use super::journal::WriterJournal;
use super::latency::Stamps;
use super::launch::Launch;
use super::notes::Notes;
use super::step::{Names, Step};
use super::{Deregister, Protect, Register, Route53Config, Withhold, ACTOR};
use crate::backoff::{uniform, FullJitter};
use crate::core::journal::Journal;
use crate::core::ownership::Owner;
use crate::core::plan::Change;
use crate::core::record::{Record, RecordKey};
use crate::core::schedule::Schedule;
use crate::health::HealthState;
use crate::messages::Reporter;
use crate::metrics::Metrics;

/// What the actor hands the loop: the writer's messages, a container's with the receipt of its event when the
/// sender stamped it, and the two that answer with their reply channel.
#[derive(Debug)]
pub(super) enum Input {
    Register(Register, Option<Instant>),
    Withhold(Withhold, Option<Instant>),
    Deregister(Deregister, Option<Instant>),
    Protect(Protect),
    Sweep(super::Sweep, oneshot::Sender<usize>),
    Flush(oneshot::Sender<()>),
}

/// The writer's state; only the loop touches it.
pub(super) struct Writer {
    pub(super) api: Rc<dyn DnsApi>,
    pub(super) config: Route53Config,
    /// Whose records these are; nothing else is ever changed.
    pub(super) owner: Owner,
    pub(super) reporter: Reporter,
    pub(super) health: Arc<HealthState>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) book: RecordBook,
    /// Backoff, quarantine and recheck times, the verification, flush accounting.
    pub(super) schedule: Schedule,
    pub(super) backoff: FullJitter,
    /// Which names are known (read in this run) and which must be read before any change goes into them.
    pub(super) names: Names,
    /// Quarantined changes: the same change is not sent again before its quarantine ends.
    pub(super) held: HashMap<RecordKey, Change>,
    /// Keys of a batch Route53 refused: sent one per request until each has gone through or been quarantined.
    pub(super) suspects: BTreeSet<RecordKey>,
    /// Keys of requests whose fate is unknown (a timeout), by name: unsure in the journal until their recheck has
    /// read the name, and planned again then.
    pub(super) ambiguous: BTreeMap<String, BTreeSet<RecordKey>>,
    /// Reads of other names that upserts which could go have waited for ([`super::step`]).
    pub(super) reads_while_gathering: u32,
    /// Flush waiters: each is answered once the changes up to its number have been attempted.
    waiters: Vec<(u64, oneshot::Sender<()>)>,
    pub(super) notes: Notes,
    /// Owners of this cluster holding records in the zone (this one included): the verification's fleet.
    pub(super) cluster_owners: usize,
    pub(super) journal: Option<WriterJournal>,
    pub(super) launch: Launch,
    /// Names to read once the launch sweep has run (a journal start's unsure names): a read before it would take
    /// a live task's record, not registered again yet, for a stale one.
    pub(super) after_sweep: BTreeSet<String>,
    /// The launch sweep has run: a record no container wants is stale from now on.
    pub(super) swept: bool,
    /// A permanent failure was reported: nothing more is sent; the loop waits for the drain.
    pub(super) failed: bool,
    /// Receipts of the events whose changes wait for Route53 (`r53d_event_to_change_seconds`).
    pub(super) stamps: Stamps,
}

impl Writer {
    pub(super) fn new(
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
            launch: Launch::scan(&owner),
            config,
            owner,
            reporter,
            health,
            metrics,
            book: RecordBook::default(),
            schedule: Schedule::default(),
            names: Names::default(),
            held: HashMap::new(),
            suspects: BTreeSet::new(),
            ambiguous: BTreeMap::new(),
            reads_while_gathering: 0,
            waiters: Vec::new(),
            notes: Notes::default(),
            cluster_owners: 1,
            journal: None,
            after_sweep: BTreeSet::new(),
            swept: false,
            failed: false,
            stamps: Stamps::default(),
        }
    }

    /// Keeps `journal`; a `loaded` one replaces the launch read.
    pub(super) fn keep_journal(&mut self, journal: WriterJournal, loaded: Option<Journal>) {
        self.journal = Some(journal);
        if let Some(loaded) = loaded {
            self.launch = Launch::Journal(loaded);
        }
    }

    /// The loop: runs until the inbox has closed (the actor stopped) and nothing is left to send.
    pub(super) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Input>) {
        self.schedule
            .back_off(now() + uniform(self.config.startup_jitter));
        self.begin();
        let mut open = true;
        loop {
            // Lets the actor hand over what reached its mailbox meanwhile, so it coalesces into this turn.
            tokio::task::yield_now().await;
            while open {
                match inbox.try_recv() {
                    Ok(input) => self.apply(input),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => open = self.drain(),
                }
            }
            let step = self.next_step(now());
            if !open && matches!(step, Step::Wait(_)) && self.drained() {
                break;
            }
            match step {
                Step::Send(changes) => self.send(changes).await,
                Step::Read(name, why) => self.read(name, why).await,
                Step::Page => self.page().await,
                Step::Wait(until) => {
                    let sleep = actix_rt::time::sleep_until(wake_at(until));
                    tokio::select! {
                        input = inbox.recv(), if open => match input {
                            Some(input) => self.apply(input),
                            None => open = self.drain(),
                        },
                        () = sleep => {}
                    }
                }
            }
        }
        self.reporter.stopped(ACTOR);
    }

    fn apply(&mut self, input: Input) {
        match input {
            Input::Register(m, at) => {
                self.schedule.received();
                self.stamp(at, &m.container_id, &m.records);
                self.book.register(&m.container_id, m.records);
            }
            Input::Deregister(m, at) => {
                self.schedule.received();
                self.stamp(at, &m.container_id, &[]);
                self.book.deregister(&m.container_id);
            }
            Input::Withhold(m, at) => {
                self.schedule.received();
                self.stamp(at, &m.container_id, &[]);
                self.book.withhold(&m.container_id);
            }
            Input::Protect(m) => self.book.protect(&m.running),
            Input::Sweep(m, reply) => {
                self.schedule.received();
                self.sweep(m.keep, reply);
            }
            Input::Flush(reply) => {
                self.waiters.push((self.schedule.latest(), reply));
                self.complete(self.schedule.done());
            }
        }
        self.track_queue();
    }

    /// Stamps the keys `container_id` holds, and those of `records`, with its event's receipt `at` (if known).
    fn stamp(&mut self, at: Option<Instant>, container_id: &str, records: &[Record]) {
        let Some(at) = at else { return };
        let new = records.iter().map(|r| r.key.clone());
        self.stamps
            .stamp(self.book.keys_of(container_id).chain(new), at);
    }

    /// The inbox closed: rechecks, the verification, quarantined keys and an unfinished launch read are dropped (a
    /// drain does not wait for them); changes still pending go out. Returns the inbox's new state (closed).
    fn drain(&mut self) -> bool {
        self.schedule.drain();
        self.held.clear();
        self.launch.abandon();
        false
    }

    /// Nothing left to send in a drain (or a permanent failure ended the sending).
    fn drained(&self) -> bool {
        self.failed || !self.book.has_dirty()
    }

    /// Everything up to change number `upto` has been attempted: answers the flush waiters it covers.
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

    /// Hands the records as they exist to `/records` and the records-owned gauge.
    pub(super) fn publish(&self) {
        let records = self.book.actual_records();
        self.metrics.set_records_owned(&records);
        self.health.set_records(records);
    }
}

/// The loop's clock: tokio's, so a paused runtime (the fleet simulation) runs the writer's schedule too.
pub(super) fn now() -> Instant {
    super::writer_now()
}

/// When to wake for `until` (`None`: only a message wakes the loop; an hour stands in for never).
fn wake_at(until: Option<Instant>) -> actix_rt::time::Instant {
    let never = actix_rt::time::Instant::now() + std::time::Duration::from_secs(3600);
    until.map_or(never, actix_rt::time::Instant::from_std)
}
