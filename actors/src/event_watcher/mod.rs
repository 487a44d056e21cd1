//! `EventWatcherActor`: Docker Engine events → registrar pool, with list-then-watch and resync on reconnect.
//!
//! ```text
//! connect ─▶ since = now (or the last event's time) ─▶ list running labelled containers ─▶ Running / Stopped
//!        ─▶ watch /events?since=… (type=container, label=<key>) ─▶ Running / Stopped, handed on at once
//!        ─▶ on error or end: backoff, reconnect, list again (the daemon keeps only 256 events and tells no gaps)
//! ```
//!
//! `since` is taken before listing, so nothing between the list and the watch is missed; `since` is inclusive,
//! so the re-delivered last event is dropped. At launch it also waits for the registrars to handle the listed
//! containers, asks the writer to [`Sweep`] records of containers that no longer run, flushes, and marks the agent
//! ready. If Docker stays unreachable past the reconnect budget, the supervisor is told.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bollard::models::EventMessage;

use crate::core::claim::Claim;
use crate::core::desired::RecordPolicy;
use crate::core::events::{event_work, parse_event, DrainWindow, EventWork};
use crate::core::listing::{Seen, Tickets};
use crate::health::HealthState;
use crate::messages::Reporter;
use crate::metrics::Metrics;
use crate::registrar::pool::RegistrarPool;
use crate::registrar::Work;
use crate::route53::{Flush, Protect, Sweep, WriterLink};

mod drain;
mod reconcile;
pub mod source;
#[cfg(test)]
mod tests;

pub use reconcile::Resync;
pub use source::{BollardSource, DockerSource};

const ACTOR: &str = "event_watcher";

/// How the watcher treats Docker: reconnects, reconciles, health gating, the drain window.
#[derive(Debug, Clone, Copy)]
pub struct DockerConfig {
    /// How long Docker may stay unreachable before the agent gives up.
    pub reconnect_budget: Duration,
    /// Interval of the periodic reconcile (jittered ±20 %); `None` disables it.
    pub reconcile_interval: Option<Duration>,
    /// Containers with a Docker HEALTHCHECK are registered only once healthy, and removed when unhealthy.
    pub register_when_healthy: bool,
    /// The first reconnect delay (it doubles, jittered, up to 10 s); 250 ms in the agent.
    pub first_reconnect_delay: Duration,
    /// How long a drain keeps reading stop events ([`drain`]).
    pub drain: DrainWindow,
}

/// The first reconnect delay the agent uses.
pub const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// Stop watching: the head of the drain.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Drain;

/// The watcher.
pub struct EventWatcherActor {
    config: DockerConfig,
    /// The Docker Engine (or an in-memory one in tests).
    docker: Rc<dyn DockerSource>,
    policy: Arc<RecordPolicy>,
    /// The only strong addresses of the registrars.
    pool: RegistrarPool,
    /// The writer, for the launch sweep, flush and listing protection.
    route53: WriterLink,
    reporter: Reporter,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    /// Running labelled containers handed to the registrars.
    known: HashSet<String>,
    /// Events dispatched so far, and each container's latest one (for listings that overlap events).
    seq: u64,
    seen: HashMap<String, Seen>,
    /// Listings in the order they were asked for ([`Tickets`]).
    tickets: Tickets,
    /// The newest `timeNano` seen, to resume with `since` after a reconnect.
    last_nano: Option<i64>,
    /// (id, action) of the events seen at exactly `last_nano`: `since` is inclusive, so they come again.
    seen_at_last: HashSet<(String, String)>,
    /// A reconnect is scheduled or under way (a stream error is followed by the stream's end: act once).
    reconnecting: bool,
    stream: Option<SpawnHandle>,
    /// In a drain: when it began and when the last stop event came ([`drain`]).
    draining: Option<(Instant, Instant)>,
    down_since: Option<Instant>,
    backoff: ExponentialBackoff,
    launched: bool,
    /// Containers the latest applied listing keeps (running, labelled): the launch sweep keeps only those, so a
    /// newer listing that no longer finds a container (a reconnect's, after its stop) ends its protection.
    last_keep: BTreeSet<String>,
}

fn new_backoff(first: Duration) -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

/// What a listing found, and the instant its event stream starts from.
struct Listed {
    since: i64,
    running: source::Running,
}

impl EventWatcherActor {
    /// A watcher that feeds `pool`.
    #[allow(clippy::too_many_arguments)] // its collaborators, each passed once at start-up
    pub fn new(
        config: DockerConfig,
        docker: Rc<dyn DockerSource>,
        policy: Arc<RecordPolicy>,
        pool: RegistrarPool,
        route53: WriterLink,
        reporter: Reporter,
        health: Arc<HealthState>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            config,
            docker,
            policy,
            pool,
            route53,
            reporter,
            health,
            metrics,
            known: HashSet::new(),
            seq: 0,
            seen: HashMap::new(),
            tickets: Tickets::default(),
            last_nano: None,
            seen_at_last: HashSet::new(),
            reconnecting: false,
            stream: None,
            draining: None,
            down_since: None,
            backoff: new_backoff(config.first_reconnect_delay),
            launched: false,
            last_keep: BTreeSet::new(),
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        let since = self.last_nano.unwrap_or_else(now_nanos);
        let fut = self.docker.list_running(&self.policy.label_key);
        // Spawned, not awaited, so a `Drain` is handled even while Docker hangs.
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.reconnecting = false;
            match res {
                Ok(running) => act.on_listed(Listed { since, running }, ctx),
                Err(e) => act.on_down(format!("listing containers failed: {e}"), ctx),
            }
        }));
    }

    fn on_listed(&mut self, listed: Listed, ctx: &mut Context<Self>) {
        // The stream is down while a (re)connect lists, so no event is newer than this listing.
        // The stream resumes from this listing: it supersedes any listing asked before it.
        self.tickets.supersede();
        let keep = self.apply_listing(listed.running, self.seq);
        if let Some(old) = self.stream.take() {
            ctx.cancel_future(old);
        }
        let events = self.docker.events(&self.policy.label_key, listed.since);
        self.stream = Some(ctx.add_stream(events));
        self.down_since = None;
        self.metrics.stream_up.set(1);
        self.health.set_stream_down(false);
        self.backoff = new_backoff(self.config.first_reconnect_delay);
        if !self.launched {
            self.launched = true;
            self.finish_launch(keep, ctx);
            self.schedule_reconcile(ctx);
        } else {
            self.route53.protect.do_send(Protect { running: keep });
        }
    }

    /// Launch sync: wait for the listed containers, sweep stale records, flush, then report ready.
    ///
    /// The sweep keeps the records of listed containers that still run when the registrars are done: one that
    /// exited during the launch lookups has had its stop handed on, and its (inherited) record must go too (one
    /// being stopped keeps them until its delayed deregistration); so must one that a newer listing (a
    /// reconnect's, which also clears the event bookkeeping before it) no longer found.
    fn finish_launch(&mut self, keep: BTreeMap<String, Claim>, ctx: &mut Context<Self>) {
        let barrier = self.pool.clone();
        let fut = async move { barrier.barrier().await }.into_actor(self);
        let fut = fut.then(move |res, act, _| {
            let keep: BTreeMap<String, Claim> = keep
                .into_iter()
                .filter(|(id, _)| act.last_keep.contains(id))
                .filter(|(id, _)| act.seen.get(id).is_none_or(Seen::still_running))
                .collect();
            // Sent now, so every deregistration of a later stop event reaches the writer after the sweep.
            let (route53, health, metrics) =
                (act.route53.clone(), act.health.clone(), act.metrics.clone());
            let sweep = res.map(|()| route53.sweep.send(Sweep { keep }));
            async move {
                sweep?.await?;
                route53.flush.send(Flush).await?;
                health.set_synced();
                metrics.synced_now();
                Ok::<_, MailboxError>(())
            }
            .into_actor(act)
        });
        ctx.spawn(fut.map(|res, act, _| match res {
            Ok(()) => tracing::info!("Launch sync done; ready."),
            Err(e) => act.reporter.failed(ACTOR, format!("launch sync: {e}")),
        }));
    }

    fn on_down(&mut self, why: String, ctx: &mut Context<Self>) {
        if self.draining.is_some() {
            tracing::info!(reason = %why, "Draining: the Docker event stream ended; stopping now.");
            return ctx.stop();
        }
        if std::mem::replace(&mut self.reconnecting, true) {
            return;
        }
        if let Some(h) = self.stream.take() {
            ctx.cancel_future(h);
        }
        self.metrics.stream_up.set(0);
        self.health.set_stream_down(true);
        let since = *self.down_since.get_or_insert_with(Instant::now);
        if since.elapsed() > self.config.reconnect_budget {
            let budget = self.config.reconnect_budget;
            self.reporter.failed(
                ACTOR,
                format!("Docker unreachable for longer than {budget:?}: {why}"),
            );
            return;
        }
        let delay = self.backoff.next().unwrap_or(Duration::from_secs(10));
        tracing::warn!(socket = %self.docker.describe(), reason = %why, ?delay, "Docker event stream down; reconnecting.");
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }

    /// Numbers a dispatched event and remembers it as the container's latest.
    fn note_event(&mut self, container_id: &str, work: EventWork) {
        self.seq += 1;
        // Docker sends `stop` after `die`: a container that exited stays exited until it runs again.
        let was_exited = self.seen.get(container_id).is_some_and(|s| s.exited);
        let seen = Seen {
            seq: self.seq,
            running: work == EventWork::Run,
            exited: work == EventWork::Stopped || (work == EventWork::Stopping && was_exited),
        };
        self.seen.insert(container_id.to_string(), seen);
    }

    fn on_event(&mut self, msg: EventMessage) {
        let Some(ev) = parse_event(&msg) else { return };
        let (nano, seen) = (
            ev.time_nano.unwrap_or_default(),
            (ev.container_id.clone(), ev.action.clone()),
        );
        match self.last_nano {
            // `since` is inclusive: events at the resume instant are delivered again after a reconnect. Older
            // timestamps are not skipped: concurrent operations can publish slightly out of order.
            Some(last) if nano == last && !self.seen_at_last.insert(seen.clone()) => return,
            Some(last) if nano <= last => {}
            _ => {
                self.last_nano = Some(nano);
                self.seen_at_last = HashSet::from([seen]);
            }
        }
        tracing::debug!(container_id = %ev.container_id, action = %ev.action, "Docker event.");
        if !self.admit_while_draining(ev.lifecycle) {
            return;
        }
        let verb = ev.action.split(':').next().unwrap_or_default().trim();
        self.metrics.events.with_label_values(&[verb]).inc();
        let Some(work) = event_work(ev.lifecycle, self.config.register_when_healthy) else {
            return;
        };
        let id = ev.container_id;
        let running = work == EventWork::Run;
        if running {
            self.known.insert(id.clone());
        } else {
            self.known.remove(&id);
        }
        self.note_event(&id, work);
        self.pool.dispatch(match work {
            EventWork::Run => Work::Running {
                container_id: id,
                labels: ev.attributes,
            },
            EventWork::Stopping => Work::Stopping { container_id: id },
            EventWork::Stopped => Work::Stopped { container_id: id },
        });
    }
}

impl Actor for EventWatcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.connect(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.reporter.stopped(ACTOR);
    }
}

impl StreamHandler<Result<EventMessage, String>> for EventWatcherActor {
    fn handle(&mut self, item: Result<EventMessage, String>, ctx: &mut Context<Self>) {
        match item {
            Ok(msg) => self.on_event(msg),
            Err(e) => self.on_down(format!("event stream error: {e}"), ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.stream = None;
        self.on_down("event stream ended".into(), ctx);
    }
}

impl Handler<Drain> for EventWatcherActor {
    type Result = ();

    fn handle(&mut self, _msg: Drain, ctx: &mut Context<Self>) {
        self.start_drain(ctx);
    }
}
