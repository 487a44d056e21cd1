//! `SupervisorActor`: turns a failure or a signal into a drain, then stops the system with an exit code.
//!
//! ```text
//! ActorFailed / panic ─┐                        ┌─▶ EventWatcherActor: Drain (stop watching; drops the pool)
//! SIGTERM (Shutdown) ──┴─▶ not ready, draining ─┤     registrars finish their mailboxes, drop the leaves
//!                                               │     metadata + route53 finish in-flight work and stop
//!                                               └─▶ every ActorStopped in, or the deadline ─▶ stop_with_code
//! ```
//!
//! The supervisor never holds a strong address of a worker (it would keep it alive): workers report through the
//! [`Reporter`] it hands out. Exit codes: 0 after a signal, 1 after a failure. The deadline must stay below the ECS
//! stop timeout (30 s by default) so the drain is not cut by SIGKILL. A signal leaves records of running
//! containers in place: the drain stops watching, it does not deregister.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::LocalBoxFuture;

use crate::event_watcher::Drain;
use crate::health::HealthState;
use crate::messages::{ActorFailed, ActorStopped, Reporter};

/// Exit code after an unrecoverable failure.
pub const EXIT_FAILURE: i32 = 1;

/// Start a graceful shutdown with exit code 0 (SIGTERM, SIGINT, or a test's shutdown future).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// The pipeline is up: the head to drain and how many actors must report stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Attach {
    /// The head of the pipeline (the `EventWatcherActor`).
    pub watcher: Recipient<Drain>,
    /// Number of actors that report [`ActorStopped`].
    pub expected: usize,
}

/// Something to run once the drain is over (stopping the HTTP server).
pub type OnStop = Box<dyn FnOnce() -> LocalBoxFuture<'static, ()>>;

/// The supervisor.
pub struct SupervisorActor {
    health: Arc<HealthState>,
    grace: Duration,
    watcher: Option<Recipient<Drain>>,
    expected: usize,
    stopped: Vec<&'static str>,
    exit_code: Option<i32>,
    on_stop: Vec<OnStop>,
    finished: bool,
}

impl SupervisorActor {
    /// A supervisor that gives the drain `grace` before it stops anyway.
    pub fn new(health: Arc<HealthState>, grace: Duration) -> Self {
        Self {
            health,
            grace,
            watcher: None,
            expected: 0,
            stopped: Vec::new(),
            exit_code: None,
            on_stop: Vec::new(),
            finished: false,
        }
    }

    /// Runs `f` after the drain, before the system stops.
    pub fn on_stop(&mut self, f: OnStop) {
        self.on_stop.push(f);
    }

    /// A reporter for the pipeline's actors.
    pub fn reporter(addr: &Addr<Self>) -> Reporter {
        Reporter::new(addr.clone().recipient(), addr.clone().recipient())
    }

    fn begin_drain(&mut self, code: i32, ctx: &mut Context<Self>) {
        if self.exit_code.is_some() {
            // Already draining; a failure during a signal drain still makes the exit non-zero.
            self.exit_code = self.exit_code.max(Some(code));
            return;
        }
        self.exit_code = Some(code);
        self.health.set_draining();
        tracing::info!(exit_code = code, grace = ?self.grace, "Draining.");
        if let Some(w) = self.watcher.take() {
            w.do_send(Drain);
        }
        ctx.run_later(self.grace, |act, ctx| {
            tracing::warn!(stopped = ?act.stopped, expected = act.expected, "Drain deadline reached; stopping anyway.");
            act.finish(ctx);
        });
        self.check_done(ctx);
    }

    fn check_done(&mut self, ctx: &mut Context<Self>) {
        if self.exit_code.is_some() && self.watcher.is_none() && self.stopped.len() >= self.expected
        {
            self.finish(ctx);
        }
    }

    fn finish(&mut self, _ctx: &mut Context<Self>) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let code = self.exit_code.unwrap_or(EXIT_FAILURE);
        let hooks = std::mem::take(&mut self.on_stop);
        actix_rt::spawn(async move {
            for hook in hooks {
                hook().await;
            }
            tracing::info!(exit_code = code, "Stopped.");
            System::current().stop_with_code(code);
        });
    }
}

/// How often the supervisor proves the actor system is alive (read by `/healthz`).
pub const HEARTBEAT: Duration = Duration::from_secs(1);

impl Actor for SupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.health.beat();
        ctx.run_interval(HEARTBEAT, |act, _| act.health.beat());
    }
}

impl Handler<Attach> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: Attach, ctx: &mut Context<Self>) {
        self.expected = msg.expected;
        if self.exit_code.is_some() {
            msg.watcher.do_send(Drain);
            self.check_done(ctx);
        } else {
            self.watcher = Some(msg.watcher);
        }
    }
}

impl Handler<ActorFailed> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ActorFailed, ctx: &mut Context<Self>) {
        tracing::error!(actor = msg.actor, error = %msg.error, "Actor failed.");
        self.begin_drain(EXIT_FAILURE, ctx);
    }
}

impl Handler<ActorStopped> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ActorStopped, ctx: &mut Context<Self>) {
        tracing::debug!(actor = msg.actor, "Actor stopped.");
        self.stopped.push(msg.actor);
        if self.exit_code.is_none() && self.watcher.is_some() {
            // A pipeline actor stopped without being asked: nothing would register containers any more.
            self.begin_drain(EXIT_FAILURE, ctx);
        }
        self.check_done(ctx);
    }
}

impl Handler<Shutdown> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Context<Self>) {
        tracing::info!("Shutdown requested; records of running containers stay in place.");
        self.begin_drain(0, ctx);
    }
}

#[cfg(test)]
mod tests;
