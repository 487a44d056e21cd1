//! `Route53Actor`: the one writer of this agent's records in one hosted zone.
//!
//! The actor is a thin front: registrars and the watcher send it messages and go on at once, and it hands each to
//! the writer's one sequential loop ([`writer`]), which owns the record book, the schedule and the API client. The
//! loop takes whatever queued while a request was under way, plans, and makes at most one request per turn: a
//! change batch when something can be sent, else a targeted read of one name, else one page of the launch read.
//! Reads never hold sends; only this owner's records are ever changed. Errors follow their class
//! ([`api::ErrorClass`]): transient ones back off and retry, conflicts re-read and retry the keys alone (one that
//! still fails is quarantined), permanent ones are reported to the supervisor, which drains and exits non-zero.

pub mod api;
mod book;
pub mod dry_run;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
#[cfg(test)]
mod fault_tests;
pub mod journal;
mod latency;
mod launch;
pub mod limiter;
pub mod measured;
mod messages;
#[cfg(test)]
mod migration_tests;
mod notes;
pub mod pages;
mod read;
pub mod sdk;
mod send;
#[cfg(test)]
mod srv_tests;
mod step;
#[cfg(test)]
mod tests;
mod writer;

pub use messages::{
    writer_now, Deregister, Flush, Protect, Register, Stamped, Sweep, Withhold, WriterLink,
};

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot};

use self::api::DnsApi;
use self::journal::WriterJournal;
use self::writer::{Input, Writer};
use crate::core::journal::Journal;
use crate::core::ownership::Owner;
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

/// The writer's front: it forwards every message to the writer's loop, started with the actor. The loop outlives
/// the actor: once nothing holds the actor's address it stops, the loop sees its inbox close, sends what is still
/// pending (a drain) and reports the writer stopped.
pub struct Route53Actor {
    inbox: mpsc::UnboundedSender<Input>,
    writer: Option<(Writer, mpsc::UnboundedReceiver<Input>)>,
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
        let (inbox, rx) = mpsc::unbounded_channel();
        let writer = Writer::new(api, config, owner, reporter, health, metrics);
        Self {
            inbox,
            writer: Some((writer, rx)),
        }
    }

    /// Keeps `journal` after every acknowledged change; a `loaded` journal (this owner's, for this zone) replaces
    /// the launch read: its records are taken as what Route53 holds, its unsure names are read after the launch
    /// sweep, and the verification reads the rest.
    pub fn with_journal(mut self, journal: WriterJournal, loaded: Option<Journal>) -> Self {
        if let Some((writer, _)) = self.writer.as_mut() {
            writer.keep_journal(journal, loaded);
        }
        self
    }

    fn forward(&self, input: Input) {
        // The loop ends only after every sender is gone, so a send cannot fail while the actor lives.
        let _ = self.inbox.send(input);
    }
}

impl Actor for Route53Actor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
        if let Some((writer, rx)) = self.writer.take() {
            actix_rt::spawn(writer.run(rx));
        }
    }
}

/// Forwards a writer message, unstamped (tests and tools) or stamped (the registrars), to the loop.
macro_rules! forward {
    ($msg:ident) => {
        impl Handler<$msg> for Route53Actor {
            type Result = ();

            fn handle(&mut self, msg: $msg, _: &mut Context<Self>) {
                self.forward(Input::$msg(msg, None));
            }
        }

        impl Handler<Stamped<$msg>> for Route53Actor {
            type Result = ();

            fn handle(&mut self, m: Stamped<$msg>, _: &mut Context<Self>) {
                self.forward(Input::$msg(m.msg, Some(m.received)));
            }
        }
    };
}

forward!(Register);
forward!(Deregister);
forward!(Withhold);

impl Handler<Protect> for Route53Actor {
    type Result = ();

    fn handle(&mut self, msg: Protect, _: &mut Context<Self>) {
        self.forward(Input::Protect(msg));
    }
}

impl Handler<Sweep> for Route53Actor {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, msg: Sweep, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.forward(Input::Sweep(msg, tx));
        Box::pin(async move { rx.await.unwrap_or(0) })
    }
}

impl Handler<Flush> for Route53Actor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.forward(Input::Flush(tx));
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
