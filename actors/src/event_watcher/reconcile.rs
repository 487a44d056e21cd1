//! Reconciling with a listing of running labelled containers: at launch, after every reconnect, and on a long
//! jittered interval. Events are hints; the listing is the truth.
//!
//! Every running container is handed to its registrar again (a lookup on this host; the writer sends nothing
//! when the record is unchanged, so a quiet reconcile costs no Route53 request), and every container this
//! watcher knew as running but that no longer runs gets a stop. A lookup that failed earlier (ECS agent down
//! longer than the retry budget) is retried this way too.

use std::collections::{BTreeSet, HashMap, HashSet};

use actix::prelude::*;

use super::{connect_and_list, EventWatcherActor};
use crate::backoff::uniform;
use crate::core::listing::listing_work;
use crate::registrar::Work;
use crate::route53::Protect;

impl EventWatcherActor {
    /// Dispatches a listing; returns the SetIdentifiers of the running containers (the launch sweep keeps their
    /// records).
    ///
    /// `listed_at` is the event number current when the listing was requested: a container with a newer event
    /// is left to that event ([`listing_work`]).
    pub(super) fn apply_listing(
        &mut self,
        running: Vec<(String, HashMap<String, String>)>,
        listed_at: u64,
    ) -> BTreeSet<String> {
        let ids: Vec<String> = running.iter().map(|(id, _)| id.clone()).collect();
        let work = listing_work(&self.known, &self.seen, &ids, listed_at);
        self.seen.retain(|_, s| s.seq > listed_at);
        for gone in work.stopped {
            self.known.remove(&gone);
            self.pool.dispatch(Work::Stopped { container_id: gone });
        }
        let start: HashSet<String> = work.running.into_iter().collect();
        let keep = running
            .iter()
            .filter_map(|(id, l)| self.policy.identity(id, l).ok())
            .map(|i| i.set_identifier)
            .collect();
        tracing::info!(
            containers = running.len(),
            "Listed running labelled containers."
        );
        for (container_id, labels) in running {
            if !start.contains(&container_id) {
                continue;
            }
            self.known.insert(container_id.clone());
            self.pool.dispatch(Work::Running {
                container_id,
                labels,
            });
        }
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
        let fut = connect_and_list(self.config.socket.clone(), self.policy.label_key.clone(), 0);
        let listed_at = self.seq;
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            match res {
                Ok(listed) => {
                    tracing::debug!("Periodic reconcile.");
                    let running = act.apply_listing(listed.running, listed_at);
                    act.route53.do_send(Protect { running });
                    act.health.stats.synced_now();
                }
                // The event stream's own reconnect handles an unreachable Docker; try again next time.
                Err(e) => {
                    tracing::warn!(error = %e, "Periodic reconcile could not list containers.")
                }
            }
            act.schedule_reconcile(ctx);
        }));
    }
}
