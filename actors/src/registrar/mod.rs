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
//! once the lookups in flight are done.

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
use crate::core::record::RecordType;
use crate::messages::Reporter;
use crate::metadata::{MetadataError, Resolution, Resolve};
use crate::metrics::Metrics;
use crate::route53::{Deregister, Register, Unprotect, WriterLink};

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

/// A container event for this registrar; answered once it has been handled.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ContainerWork(pub Work);

/// Answered once everything queued before it has been handled and no lookup is under way.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Barrier;

/// One lookup under way: what its answer is applied to.
struct Lookup {
    container_id: String,
    labels: HashMap<String, String>,
    identity: Identity,
    attempt: u32,
    /// The container's latest event when the lookup began.
    generation: Option<u64>,
}

/// One worker of the pool.
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
    retry: RetryPolicy,
    /// Per container, the number of the latest event; a delayed retry of an older one is dropped.
    latest: HashMap<String, u64>,
    counter: u64,
    /// Containers being stopped, and when their record goes.
    delayed: HashMap<String, Instant>,
    /// The one timer that sends due deregistrations.
    delay_timer: Option<SpawnHandle>,
    /// Lookups under way, per container. They run side by side (a slow lookup holds up no other container's
    /// events); the result of one that a newer event of its container superseded is dropped. A `Running` that
    /// repeats one (a listing, or a `healthy` event, while its lookup runs, with no stop in between) starts no
    /// second lookup beside it but one more after it ([`Self::again`]).
    looking: HashMap<String, usize>,
    /// The SetIdentifier of each running container seen here (for [`Unprotect`] at its stop).
    identities: HashMap<String, String>,
    /// Containers to look up once more when their lookup under way ends, with their labels.
    again: HashMap<String, HashMap<String, String>>,
    /// [`Barrier`]s waiting for the lookups in flight.
    barriers: Vec<oneshot::Sender<()>>,
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
            retry,
            latest: HashMap::new(),
            counter: 0,
            delayed: HashMap::new(),
            delay_timer: None,
            looking: HashMap::new(),
            again: HashMap::new(),
            identities: HashMap::new(),
            barriers: Vec::new(),
        }
    }

    /// Handles a running container: name, address, register.
    fn running(
        &mut self,
        container_id: String,
        labels: HashMap<String, String>,
        attempt: u32,
    ) -> ResponseActFuture<Self, ()> {
        let identity = match self.policy.identity(&container_id, &labels) {
            Ok(identity) => identity,
            Err(e) => {
                let name = labels.get("name").cloned().unwrap_or_default();
                tracing::warn!(container_id = %container_id, container_name = %name, error = %e, "Skipping container: its service label is not usable.");
                self.metrics.skipped_labels.inc();
                return Box::pin(actix::fut::ready(()));
            }
        };
        self.identities
            .insert(container_id.clone(), identity.set_identifier.clone());
        let generation = self.latest.get(&container_id).copied();
        let ask = self.metadata.send(Resolve {
            container_id: container_id.clone(),
            labels: labels.clone(),
        });
        *self.looking.entry(container_id.clone()).or_insert(0) += 1;
        Box::pin(ask.into_actor(self).map(move |res, act, ctx| {
            act.lookup_done(&container_id);
            if act.latest.get(&container_id).copied() != generation {
                tracing::debug!(container_id = %container_id, "A newer event for the container came during the lookup; its result is dropped.");
                return;
            }
            let lookup = Lookup { container_id, labels, identity, attempt, generation };
            act.resolved(lookup, res, ctx);
        }))
    }

    /// Acts on a lookup's answer: publish, give up the container's records, or retry. An event that came during
    /// the lookup makes it run once more: at once, counted as the retry when the lookup failed.
    fn resolved(
        &mut self,
        l: Lookup,
        res: Result<Result<Resolution, MetadataError>, MailboxError>,
        ctx: &mut Context<Self>,
    ) {
        let (id, name) = (l.container_id.as_str(), l.identity.name.as_str());
        let again = self.again.remove(id);
        match res {
            Ok(Ok(Resolution::Publish { endpoint, instance })) => {
                self.publish(l.container_id.clone(), &l.identity, &endpoint, &instance);
            }
            Ok(Ok(Resolution::Skip(why))) => {
                tracing::info!(container_id = %id, record_name = %name, reason = %why, "Container not registered.");
                // A container that held records (it turned unhealthy, its task is being stopped) loses them; one
                // that held none keeps whatever a listing protects for it.
                let container_id = l.container_id.clone();
                self.route53.register.do_send(Register {
                    container_id,
                    records: Vec::new(),
                });
            }
            Ok(Err(e)) if l.attempt < self.retry.retries => {
                tracing::warn!(container_id = %id, error = %e, attempt = l.attempt, "Address lookup failed; will retry.");
                // An event that came meanwhile is the retry, at once; otherwise after the delay.
                let (delay, labels) = match again {
                    Some(labels) => (Duration::ZERO, labels),
                    None => (self.retry.delay, l.labels),
                };
                let (container_id, attempt, generation) =
                    (l.container_id, l.attempt + 1, l.generation);
                ctx.run_later(delay, move |act, ctx| {
                    if act.latest.get(&container_id).copied() == generation {
                        let fut = act.running(container_id, labels, attempt);
                        ctx.spawn(fut);
                    }
                });
                return;
            }
            Ok(Err(e)) => {
                tracing::error!(container_id = %id, record_name = %name, error = %e, "Address lookup failed; giving up until the next sync.");
                return;
            }
            Err(e) => {
                return self
                    .reporter
                    .failed(ACTOR, format!("metadata actor unreachable: {e}"))
            }
        }
        if let Some(labels) = again {
            tracing::debug!(container_id = %id, "Looking the container up again (an event came during the lookup).");
            let fut = self.running(l.container_id, labels, 0);
            ctx.spawn(fut);
        }
    }

    /// A lookup of `container_id` finished: wakes the barriers once no lookup is under way.
    fn lookup_done(&mut self, container_id: &str) {
        if let Some(n) = self.looking.get_mut(container_id) {
            *n -= 1;
            if *n == 0 {
                self.looking.remove(container_id);
            }
        }
        if self.looking.is_empty() {
            for tx in self.barriers.drain(..) {
                let _ = tx.send(());
            }
        }
    }
}

impl RegistrarActor {
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
        self.route53.register.do_send(Register {
            container_id,
            records,
        });
    }
}

/// How often waiting deregistrations are checked (also how fast a drain sends them).
const DELAY_TICK: Duration = Duration::from_millis(250);

impl RegistrarActor {
    /// Deregisters `container_id` now. With its SetIdentifier known, the writer also ends any listing protection
    /// of that task's records, so records an earlier agent wrote for a container this one never registered (its
    /// lookups failed, its task was stopping) go with its stop, not at the next listing.
    fn deregister(&mut self, container_id: String) {
        if let Some(set_identifier) = self.identities.remove(&container_id) {
            self.route53.unprotect.do_send(Unprotect { set_identifier });
        }
        self.route53.deregister.do_send(Deregister { container_id });
    }

    /// Deregisters `container_id` once the deregistration delay has passed.
    fn deregister_later(&mut self, container_id: String, ctx: &mut Context<Self>) {
        let delay = self.retry.deregister_delay;
        tracing::info!(container_id = %container_id, ?delay, "Container stopping; its record goes after the deregistration delay.");
        self.delayed.insert(container_id, Instant::now() + delay);
        if self.delay_timer.is_none() {
            self.delay_timer = Some(ctx.run_later(DELAY_TICK.min(delay), Self::send_due));
        }
    }

    /// Sends the deregistrations that are due (all of them in a drain: nothing will hold them later).
    fn send_due(&mut self, ctx: &mut Context<Self>) {
        self.delay_timer = None;
        let (now, draining) = (Instant::now(), !ctx.connected());
        let due: Vec<String> = self
            .delayed
            .iter()
            .filter(|(_, t)| draining || **t <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for container_id in due {
            self.delayed.remove(&container_id);
            self.deregister(container_id);
        }
        if !self.delayed.is_empty() {
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
        self.metrics
            .queue_depth
            .with_label_values(&["registrar"])
            .dec();
        self.counter += 1;
        let id = msg.0.container_id().to_string();
        self.delayed.remove(&id);
        if !matches!(msg.0, Work::Running { .. }) {
            self.again.remove(&id);
        }
        match msg.0 {
            Work::Running {
                container_id,
                labels,
            } if self.latest.contains_key(&id) && self.looking.contains_key(&id) => {
                tracing::debug!(container_id = %container_id, "A lookup of the container is under way; it is looked up again after it.");
                self.again.insert(container_id, labels);
            }
            Work::Running {
                container_id,
                labels,
            } => {
                self.latest.insert(id, self.counter);
                let lookup = self.running(container_id, labels, 0);
                ctx.spawn(lookup);
            }
            Work::Stopping { container_id } if !self.retry.deregister_delay.is_zero() => {
                self.latest.remove(&id);
                self.deregister_later(container_id, ctx);
            }
            Work::Stopping { container_id } | Work::Stopped { container_id } => {
                self.latest.remove(&id);
                self.deregister(container_id);
            }
        }
    }
}

impl Handler<Barrier> for RegistrarActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Barrier, _ctx: &mut Context<Self>) -> Self::Result {
        if self.looking.is_empty() {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.barriers.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
