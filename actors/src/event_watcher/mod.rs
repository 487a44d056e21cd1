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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bollard::models::{ContainerSummary, EventMessage};
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::Docker;

use crate::core::desired::RecordPolicy;
use crate::core::events::{event_filters, event_work, parse_event, since_param, EventWork};
use crate::core::listing::Seen;
use crate::health::HealthState;
use crate::messages::Reporter;
use crate::registrar::pool::RegistrarPool;
use crate::registrar::Work;
use crate::route53::{Flush, Protect, Route53Actor, Sweep};

mod drain;
mod reconcile;

const ACTOR: &str = "event_watcher";

/// How Docker is reached.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// Path of the Docker Engine socket.
    pub socket: String,
    /// How long Docker may stay unreachable before the agent gives up.
    pub reconnect_budget: Duration,
    /// Interval of the periodic reconcile (jittered ±20 %); `None` disables it.
    pub reconcile_interval: Option<Duration>,
    /// Containers with a Docker HEALTHCHECK are registered only once healthy, and removed when unhealthy.
    pub register_when_healthy: bool,
}

/// Stop watching: the head of the drain.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Drain;

/// The watcher.
pub struct EventWatcherActor {
    config: DockerConfig,
    policy: Arc<RecordPolicy>,
    /// The only strong addresses of the registrars.
    pool: RegistrarPool,
    /// For the launch sweep and flush.
    route53: Addr<Route53Actor>,
    reporter: Reporter,
    health: Arc<HealthState>,
    /// Running labelled containers handed to the registrars.
    known: HashSet<String>,
    /// Events dispatched so far, and each container's latest one (for listings that overlap events).
    seq: u64,
    seen: HashMap<String, Seen>,
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
}

fn new_backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
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

/// What a listing found.
struct Listed {
    docker: Docker,
    since: i64,
    running: Vec<(String, HashMap<String, String>)>,
}

async fn connect_and_list(
    socket: String,
    label_key: String,
    since: i64,
) -> Result<Listed, bollard::errors::Error> {
    let docker = Docker::connect_with_unix(&socket, 120, bollard::API_DEFAULT_VERSION)?;
    let filters = HashMap::from([("label".to_string(), vec![label_key])]);
    let opts = ListContainersOptions {
        all: false,
        filters: Some(filters),
        ..Default::default()
    };
    let list: Vec<ContainerSummary> = docker.list_containers(Some(opts)).await?;
    let running = list
        .into_iter()
        .filter_map(|c| Some((c.id?, c.labels.unwrap_or_default())))
        .collect();
    Ok(Listed {
        docker,
        since,
        running,
    })
}

impl EventWatcherActor {
    /// A watcher that feeds `pool`.
    pub fn new(
        config: DockerConfig,
        policy: Arc<RecordPolicy>,
        pool: RegistrarPool,
        route53: Addr<Route53Actor>,
        reporter: Reporter,
        health: Arc<HealthState>,
    ) -> Self {
        Self {
            config,
            policy,
            pool,
            route53,
            reporter,
            health,
            known: HashSet::new(),
            seq: 0,
            seen: HashMap::new(),
            last_nano: None,
            seen_at_last: HashSet::new(),
            reconnecting: false,
            stream: None,
            draining: None,
            down_since: None,
            backoff: new_backoff(),
            launched: false,
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        let since = self.last_nano.unwrap_or_else(now_nanos);
        let fut = connect_and_list(
            self.config.socket.clone(),
            self.policy.label_key.clone(),
            since,
        );
        // Spawned, not awaited, so a `Drain` is handled even while Docker hangs.
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
            act.reconnecting = false;
            match res {
                Ok(listed) => act.on_listed(listed, ctx),
                Err(e) => act.on_down(format!("listing containers failed: {e}"), ctx),
            }
        }));
    }

    fn on_listed(&mut self, listed: Listed, ctx: &mut Context<Self>) {
        // The stream is down while a (re)connect lists, so no event is newer than this listing.
        let keep = self.apply_listing(listed.running, self.seq);
        let filters = event_filters(&self.policy.label_key);
        let opts = EventsOptions {
            since: Some(since_param(listed.since)),
            filters: Some(filters),
            ..Default::default()
        };
        if let Some(old) = self.stream.take() {
            ctx.cancel_future(old);
        }
        self.stream = Some(ctx.add_stream(listed.docker.events(Some(opts))));
        self.down_since = None;
        self.health.set_stream_down(false);
        self.backoff = new_backoff();
        if !self.launched {
            self.launched = true;
            self.finish_launch(keep, ctx);
            self.schedule_reconcile(ctx);
        } else {
            self.route53.do_send(Protect { running: keep });
        }
    }

    /// Launch sync: wait for the listed containers, sweep stale records, flush, then report ready.
    fn finish_launch(&mut self, keep: BTreeSet<String>, ctx: &mut Context<Self>) {
        let (pool, route53, health) =
            (self.pool.clone(), self.route53.clone(), self.health.clone());
        let fut = async move {
            pool.barrier().await?;
            route53.send(Sweep { keep }).await?;
            route53.send(Flush).await?;
            health.set_synced();
            Ok::<_, MailboxError>(())
        };
        ctx.spawn(fut.into_actor(self).map(|res, act, _| match res {
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
        tracing::warn!(socket = %self.config.socket, reason = %why, ?delay, "Docker event stream down; reconnecting.");
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }

    /// Numbers a dispatched event and remembers it as the container's latest.
    fn note_event(&mut self, container_id: &str, running: bool) {
        self.seq += 1;
        let seen = Seen {
            seq: self.seq,
            running,
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
        self.health.stats.events.with_label_values(&[verb]).inc();
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
        self.note_event(&id, running);
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

impl StreamHandler<Result<EventMessage, bollard::errors::Error>> for EventWatcherActor {
    fn handle(
        &mut self,
        item: Result<EventMessage, bollard::errors::Error>,
        ctx: &mut Context<Self>,
    ) {
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
