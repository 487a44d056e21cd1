//! Reconciling with a listing of running labelled containers: at launch, after every reconnect, and on a long
//! jittered interval. Events are hints; the listing is the truth.
//!
//! Every running container is handed to its registrar again (a lookup on this host; the writer sends nothing
//! when the record is unchanged, so a quiet reconcile costs no Route53 request), and every container this
//! watcher knew as running but that no longer runs gets a stop. A lookup that failed earlier (ECS agent down
//! longer than the retry budget) is retried this way too.

use std::collections::{BTreeMap, HashSet};

use actix::fut::LocalBoxActorFuture;
use actix::prelude::*;

use super::source::Running;
use super::EventWatcherActor;
use crate::backoff::uniform;
use crate::core::claim::Claim;
use crate::core::listing::listing_work;
use crate::registrar::Work;
use crate::route53::Protect;

impl EventWatcherActor {
    /// Dispatches a listing; returns the claim of each listed container whose records it keeps, by container id
    /// (the launch sweep keeps their records, a later listing protects them).
    ///
    /// `listed_at` is the event number current when the listing was requested: a container with a newer event
    /// is left to that event ([`listing_work`]); one whose newer event says it exited is not kept, one being
    /// stopped still is (until its delayed deregistration).
    pub(super) fn apply_listing(
        &mut self,
        running: Running,
        listed_at: u64,
    ) -> BTreeMap<String, Claim> {
        let ids: Vec<String> = running.iter().map(|(id, _)| id.clone()).collect();
        let work = listing_work(&self.known, &self.seen, &ids, listed_at);
        self.seen.retain(|_, s| s.seq > listed_at);
        for gone in work.stopped {
            self.known.remove(&gone);
            self.pool.dispatch(Work::Stopped { container_id: gone });
        }
        let (start, kept): (HashSet<String>, HashSet<String>) = (
            work.running.into_iter().collect(),
            work.keep.into_iter().collect(),
        );
        tracing::info!(
            containers = running.len(),
            "Listed running labelled containers."
        );
        let mut keep = BTreeMap::new();
        for (container_id, labels) in running {
            if let (true, Ok(identity)) = (
                kept.contains(&container_id),
                self.policy.identity(&container_id, &labels),
            ) {
                keep.insert(container_id.clone(), Claim::of(&identity));
            }
            if !start.contains(&container_id) {
                continue;
            }
            self.known.insert(container_id.clone());
            self.pool.dispatch(Work::Running {
                container_id,
                labels,
            });
        }
        self.last_keep = keep.keys().cloned().collect();
        keep
    }

    /// Schedules the next periodic reconcile, at the interval ±20 %.
    pub(super) fn schedule_reconcile(&mut self, ctx: &mut Context<Self>) {
        let Some(interval) = self.config.reconcile_interval else {
            return;
        };
        let delay = interval.mul_f64(0.8) + uniform(interval.mul_f64(0.4));
        ctx.run_later(delay, Self::reconcile);
    }

    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        if self.draining.is_some() {
            return;
        }
        let fut = self
            .list_and_apply()
            .map(|_, act, ctx| act.schedule_reconcile(ctx));
        ctx.spawn(fut);
    }

    /// Lists the running labelled containers and applies the listing (unless the watcher started draining
    /// meanwhile, or a later-asked listing answered first); resolves once the work is dispatched. Nothing while
    /// the event stream is down or before the launch listing: the (re)connect lists anyway, and its listing
    /// supersedes every one asked before it.
    fn list_and_apply(&mut self) -> LocalBoxActorFuture<Self, ()> {
        if self.stream.is_none() || !self.launched {
            return Box::pin(actix::fut::ready(()));
        }
        let fut = self.docker.list_running(&self.policy.label_key);
        let (listed_at, ticket) = (self.seq, self.tickets.issue());
        let apply = fut.into_actor(self).map(move |res, act, _ctx| match res {
            Ok(_) if act.draining.is_some() => {}
            Ok(_) if !act.tickets.admit(ticket) => {
                tracing::debug!(
                    ticket,
                    "A listing answered after a newer one was applied; dropped."
                );
            }
            Ok(listed) => {
                tracing::debug!("Periodic reconcile.");
                let running = act.apply_listing(listed, listed_at);
                act.route53.protect.do_send(Protect { running });
                act.metrics.synced_now();
            }
            // The event stream's own reconnect handles an unreachable Docker; try again next time.
            Err(e) => tracing::warn!(error = %e, "Periodic reconcile could not list containers."),
        });
        Box::pin(apply)
    }
}

/// Reconcile now (as the periodic reconcile does); answered once the listing's work is dispatched.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Resync;

impl Handler<Resync> for EventWatcherActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: Resync, _ctx: &mut Context<Self>) -> Self::Result {
        self.list_and_apply()
    }
}
