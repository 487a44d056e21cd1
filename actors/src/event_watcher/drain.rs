//! The watcher's part of a drain: it keeps reading **stop** events for a short window before it stops.
//!
//! At host shutdown or a spot reclaim, dockerd stops the agent and every task together. A watcher that stopped
//! reading at SIGTERM would never see the tasks' `kill`/`die` events, and their records would stay until the
//! janitor (10–20 min) while their awsvpc addresses go to new tasks. So a draining watcher dispatches stop events
//! (nothing else: no new registrations) until none has come for [`DRAIN_QUIET`] or [`DRAIN_MAX`] has passed
//! (the defaults of `DockerConfig::drain`),
//! then stops; the registrars and the writer drain after it and send those deregistrations. An agent restart on
//! its own (an upgrade) sees no stop events and costs [`DRAIN_QUIET`]: running tasks keep their records.

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::EventWatcherActor;
use crate::core::events::Lifecycle;
#[cfg(doc)]
use crate::core::events::{DRAIN_MAX, DRAIN_QUIET};

/// How often a draining watcher checks its window.
const DRAIN_TICK: Duration = Duration::from_millis(100);

impl EventWatcherActor {
    /// Starts the drain window, or stops at once when no event stream is connected.
    pub(super) fn start_drain(&mut self, ctx: &mut Context<Self>) {
        if self.draining.is_some() {
            return;
        }
        if self.stream.is_none() {
            tracing::info!("Draining: the Docker event stream is down; stopping now.");
            return ctx.stop();
        }
        tracing::info!(quiet = ?self.config.drain.quiet, max = ?self.config.drain.max,
            "Draining: reading stop events of tasks stopping with the agent, then no longer watching Docker.");
        let now = Instant::now();
        self.draining = Some((now, now));
        ctx.run_interval(DRAIN_TICK, Self::check_drain);
    }

    fn check_drain(&mut self, ctx: &mut Context<Self>) {
        let Some((start, last)) = self.draining else {
            return;
        };
        if self.config.drain.over(start.elapsed(), last.elapsed()) {
            tracing::info!(after = ?start.elapsed(), "Draining: no longer watching Docker events.");
            ctx.stop();
        }
    }

    /// While draining, only stop events are handed on (each one extends the window); otherwise everything is.
    pub(super) fn admit_while_draining(&mut self, lifecycle: Lifecycle) -> bool {
        let Some((start, _)) = self.draining else {
            return true;
        };
        let stop = matches!(lifecycle, Lifecycle::Stopping | Lifecycle::Stopped);
        if stop {
            self.draining = Some((start, Instant::now()));
        }
        stop
    }
}
