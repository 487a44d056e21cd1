//! `RegistrarActor`: turns one container's lifecycle into Route53 writer messages.
//!
//! A running container: labels → record key (bad label → skipped, with a log line naming the container), then the
//! `MetadataActor` finds its address, then [`Register`] goes to the writer. A stopped container: [`Deregister`] —
//! for a container that is being stopped but still runs, after the configured deregistration delay (a newer
//! event for it cancels the wait; `die` deregisters at once; in a drain the waiting ones go at once).
//! The [`pool::RegistrarPool`] sends all events of one container to the same registrar, so they arrive in order.
//! Lookups run side by side, so a slow one (an ECS agent that hangs) holds up no other container's events: a stop
//! goes to the writer at once, and the result of a lookup that a newer event of its container superseded is
//! dropped, so a container's events still take effect in order. A lookup that fails for a transient reason is
//! retried a bounded number of times unless a newer event for the container supersedes it. A [`Barrier`] answers
//! once the lookups in flight are done. What to do at each event and answer is decided by the pure
//! [`crate::core::lifecycle::Book`]; the actor only asks and tells. Each message to the writer carries the receipt
//! of the container's latest event ([`Stamped`]); a deregistration the delay held back, the end of that delay.

pub mod pool;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::core::address::Endpoint;
use crate::core::desired::{Identity, RecordPolicy};
use crate::core::instance::InstanceAddresses;
use crate::core::lifecycle::{Book, Event, Lookup, Next, Outcome, Step, Stop};
use crate::core::record::RecordType;
use crate::messages::Reporter;
use crate::metadata::{MetadataError, Resolution, Resolve};
use crate::metrics::Metrics;
use crate::route53::{writer_now, Deregister, Register, Stamped, Withhold, WriterLink};

const ACTOR: &str = "registrar";

/// The registrar's timing: how often, and how far apart, a failed lookup is tried again, and how long a
/// stopping container keeps its record.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Further tries after the first.
    pub retries: u32,
    /// Delay before each further try.
    pub delay: Duration,
    /// How long a container being stopped (still running) keeps its record.
    pub deregister_delay: Duration,
}

/// What happened to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// It runs (start event, or found running by a sync).
    Running {
        /// Full container id.
        container_id: String,
        /// Its labels.
        labels: HashMap<String, String>,
    },
    /// It is being stopped (`kill`, `stop`) or turned unhealthy, and still runs: deregistered after the delay.
    Stopping {
        /// Full container id.
        container_id: String,
    },
    /// It exited or is gone: deregistered at once.
    Stopped {
        /// Full container id.
        container_id: String,
    },
}

impl Work {
    /// The container the work is about.
    pub fn container_id(&self) -> &str {
        match self {
            Self::Running { container_id, .. }
            | Self::Stopping { container_id }
            | Self::Stopped { container_id } => container_id,
        }
    }
}

/// A container event for this registrar, with the instant the watcher received it; answered once it has been
/// handled.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ContainerWork {
    /// What happened.
    pub work: Work,
    /// When the watcher received it (its event, or the listing that found the container), on [`writer_now`]'s
    /// clock.
    pub received: Instant,
}

/// Answered once everything queued before it has been handled and no lookup is under way.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Barrier;

/// One worker of the pool: glue over its [`Book`], which decides; the actor asks for addresses and tells the
/// writer.
pub struct RegistrarActor {
    /// Counters (skipped labels, SRV skipped, queue depth).
    metrics: Arc<Metrics>,
    index: usize,
    policy: Arc<RecordPolicy>,
    /// The `MetadataActor` (or a fake).
    metadata: Recipient<Resolve>,
    /// The Route53 writer (or a fake).
    route53: WriterLink,
    reporter: Reporter,
    /// Generations, lookups under way, re-runs, waiting deregistrations ([`crate::core::lifecycle`]).
    book: Book,
    /// The one timer that sends due deregistrations.
    delay_timer: Option<SpawnHandle>,
    /// [`Barrier`]s waiting for the lookups in flight.
    barriers: Vec<oneshot::Sender<()>>,
    /// When the latest event of each running container was received, for the messages its lookups lead to.
    received: HashMap<String, Instant>,
}

impl RegistrarActor {
    /// Worker `index` of the pool.
    pub fn new(
        index: usize,
        policy: Arc<RecordPolicy>,
        metadata: Recipient<Resolve>,
        route53: WriterLink,
        reporter: Reporter,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            metrics,
            index,
            policy,
            metadata,
            route53,
            reporter,
            book: Book::new(retry.retries, retry.delay, retry.deregister_delay),
            delay_timer: None,
            barriers: Vec::new(),
            received: HashMap::new(),
        }
    }

    /// Runs a lookup the book asked for: name (a bad label skips the container), address, then [`Self::resolved`].
    fn look_up(&mut self, lookup: Lookup, ctx: &mut Context<Self>) {
        let id = lookup.container_id.clone();
        let identity = match self.policy.identity(&id, &lookup.labels) {
            Ok(identity) => identity,
            Err(e) => {
                let name = lookup.labels.get("name").cloned().unwrap_or_default();
                tracing::warn!(container_id = %id, container_name = %name, error = %e, "Skipping container: its service label is not usable.");
                self.metrics.skipped_labels.inc();
                return;
            }
        };
        self.book.started(&lookup);
        let ask = self.metadata.send(Resolve {
            container_id: id,
            labels: lookup.labels.clone(),
        });
        ctx.spawn(ask.into_actor(self).map(move |res, act, ctx| {
            act.resolved(lookup, &identity, res, ctx);
            act.wake_barriers();
        }));
    }

    /// Acts on a lookup's answer as the book says: publish, give up the container's records, retry, or drop it.
    fn resolved(
        &mut self,
        lookup: Lookup,
        identity: &Identity,
        res: Result<Result<Resolution, MetadataError>, MailboxError>,
        ctx: &mut Context<Self>,
    ) {
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                // The lookup is over all the same (barriers must not wait for it).
                self.book.finished(&lookup, Outcome::Failed);
                return self
                    .reporter
                    .failed(ACTOR, format!("metadata actor unreachable: {e}"));
            }
        };
        let outcome = if res.is_ok() {
            Outcome::Answered
        } else {
            Outcome::Failed
        };
        let (id, name) = (lookup.container_id.as_str(), identity.name.as_str());
        match (self.book.finished(&lookup, outcome), res) {
            (Next::Stale, _) => {
                tracing::debug!(container_id = %id, "A newer event for the container came during the lookup; its result is dropped.");
            }
            (Next::Apply { rerun }, Ok(resolution)) => {
                self.apply(id, identity, resolution);
                if let Some(again) = rerun {
                    tracing::debug!(container_id = %id, "Looking the container up again (an event came during the lookup).");
                    self.look_up(again, ctx);
                }
            }
            (
                Next::Retry {
                    lookup: next,
                    after,
                },
                Err(e),
            ) => {
                tracing::warn!(container_id = %id, error = %e, attempt = lookup.attempt, "Address lookup failed; will retry.");
                ctx.run_later(after, move |act, ctx| {
                    if act.book.is_current(&next) {
                        act.look_up(next, ctx);
                    }
                });
            }
            (Next::GiveUp, Err(e)) => {
                tracing::error!(container_id = %id, record_name = %name, error = %e, "Address lookup failed; giving up until the next sync.");
            }
            (next, res) => {
                tracing::error!(container_id = %id, ?next, ?res, "Registrar: unexpected lookup step.")
            }
        }
    }

    /// A current answer: publish the records, or give up those the container held.
    fn apply(&self, container_id: &str, identity: &Identity, resolution: Resolution) {
        match resolution {
            Resolution::Publish { endpoint, instance } => {
                self.publish(container_id.to_string(), identity, &endpoint, &instance);
            }
            Resolution::Skip {
                reason,
                keep_inherited,
            } => {
                tracing::info!(container_id = %container_id, record_name = %identity.name, reason = %reason, "Container not registered.");
                let container_id = container_id.to_string();
                let received = self.received_of(&container_id);
                if keep_inherited {
                    // This instance's address is unknown: records an earlier agent wrote stay (a listing protects
                    // them) rather than blank DNS; records this agent wrote for the container go.
                    let records = Vec::new();
                    let msg = Register {
                        container_id,
                        records,
                    };
                    self.route53.register.do_send(Stamped { msg, received });
                } else {
                    let msg = Withhold { container_id };
                    self.route53.withhold.do_send(Stamped { msg, received });
                }
            }
        }
    }

    /// Wakes the barriers once no lookup is under way.
    fn wake_barriers(&mut self) {
        if self.book.idle() {
            for tx in self.barriers.drain(..) {
                let _ = tx.send(());
            }
        }
    }

    /// Turns a resolved endpoint into the container's records and hands them to the writer.
    fn publish(
        &self,
        container_id: String,
        identity: &Identity,
        endpoint: &Endpoint,
        instance: &InstanceAddresses,
    ) {
        let (records, notes) = self.policy.records_for(identity, endpoint, instance);
        for note in endpoint.notes.iter().chain(&notes) {
            tracing::warn!(container_id = %container_id, record_name = %identity.name, "{note}");
        }
        let has_srv = records.iter().any(|r| r.key.record_type == RecordType::Srv);
        if endpoint.types.srv && !has_srv {
            self.metrics.srv_skipped.inc();
        }
        let values: Vec<String> = records
            .iter()
            .map(|r| format!("{} {}", r.key.record_type, r.value))
            .collect();
        tracing::info!(container_id = %container_id, record_name = %identity.name, mode = ?endpoint.mode,
            source = endpoint.source, records = ?values, "Container resolved.");
        let received = self.received_of(&container_id);
        let msg = Register {
            container_id,
            records,
        };
        self.route53.register.do_send(Stamped { msg, received });
    }

    /// When the container's latest event was received (now, for one this registrar has not been told of).
    fn received_of(&self, container_id: &str) -> Instant {
        self.received
            .get(container_id)
            .copied()
            .unwrap_or_else(writer_now)
    }
}

/// How often waiting deregistrations are checked (also how fast a drain sends them).
const DELAY_TICK: Duration = Duration::from_millis(250);

impl RegistrarActor {
    /// Deregisters a container now. The writer also ends the listing protection of the container's claim, so
    /// records an earlier agent wrote for a container this one never registered (its lookups failed, its task was
    /// stopping) go with its stop, not at the next listing; the other containers of its task keep theirs.
    fn deregister(&self, stop: Stop, received: Instant) {
        let container_id = stop.container_id;
        let msg = Deregister { container_id };
        self.route53.deregister.do_send(Stamped { msg, received });
    }

    /// Makes sure the delay timer runs, to send the deregistration due at `at`.
    fn deregister_at(&mut self, container_id: &str, at: Instant, ctx: &mut Context<Self>) {
        let delay = at.saturating_duration_since(Instant::now());
        tracing::info!(container_id = %container_id, ?delay, "Container stopping; its record goes after the deregistration delay.");
        if self.delay_timer.is_none() {
            self.delay_timer = Some(ctx.run_later(DELAY_TICK.min(delay), Self::send_due));
        }
    }

    /// Sends the deregistrations that are due (all of them in a drain: nothing will hold them later).
    fn send_due(&mut self, ctx: &mut Context<Self>) {
        self.delay_timer = None;
        for stop in self.book.due(Instant::now(), !ctx.connected()) {
            self.deregister(stop, writer_now());
        }
        if self.book.has_delayed() {
            self.delay_timer = Some(ctx.run_later(DELAY_TICK, Self::send_due));
        }
    }
}

impl Actor for RegistrarActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
        tracing::debug!(worker = self.index, "Registrar started.");
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.reporter.stopped(ACTOR);
    }
}

impl Handler<ContainerWork> for RegistrarActor {
    type Result = ();

    fn handle(&mut self, msg: ContainerWork, ctx: &mut Context<Self>) -> Self::Result {
        let depth = self.metrics.queue_depth.with_label_values(&["registrar"]);
        depth.dec();
        let (id, event) = match msg.work {
            Work::Running {
                container_id,
                labels,
            } => (container_id, Event::Running(labels)),
            Work::Stopping { container_id } => (container_id, Event::Stopping),
            Work::Stopped { container_id } => (container_id, Event::Stopped),
        };
        if matches!(event, Event::Running(_)) {
            self.received.insert(id.clone(), msg.received);
        } else {
            self.received.remove(&id);
        }
        match self.book.on_event(&id, event, Instant::now()) {
            Step::Lookup(lookup) => self.look_up(lookup, ctx),
            Step::Queued => {
                tracing::debug!(container_id = %id, "A lookup of the container is under way; it is looked up again after it.");
            }
            Step::Deregister(stop) => self.deregister(stop, msg.received),
            Step::DeregisterAt(at) => self.deregister_at(&id, at, ctx),
        }
    }
}

impl Handler<Barrier> for RegistrarActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Barrier, _ctx: &mut Context<Self>) -> Self::Result {
        if self.book.idle() {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.barriers.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
