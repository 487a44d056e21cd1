//! `RegistrarPool`: N registrars behind a router that shards by container id.
//!
//! Like a `SyncArbiter` it spreads work over a fixed set of workers, but the workers are async actors (a
//! `SyncArbiter` cannot run async code) and the choice is `crc32(container id) % N`, never round-robin: every event
//! of one container lands on the same worker, in order, while different containers run in parallel.

use actix::prelude::*;

use super::{Barrier, ContainerWork, RegistrarActor, Work};
use crate::route53::writer_now;

/// The pool; it holds the only strong addresses of the registrars, so dropping it lets them drain and stop.
#[derive(Clone)]
pub struct RegistrarPool {
    shards: Vec<Addr<RegistrarActor>>,
    /// `r53d_queue_depth{queue="registrar"}`: raised here, lowered by the registrar that takes the work.
    depth: Option<prometheus::IntGauge>,
}

impl RegistrarPool {
    /// Starts `n` (at least 1) registrars made by `factory(index)` on the current arbiter.
    pub fn start(n: usize, factory: impl Fn(usize) -> RegistrarActor) -> Self {
        Self {
            shards: (0..n.max(1)).map(|i| factory(i).start()).collect(),
            depth: None,
        }
    }

    /// Counts dispatched work in `depth` (the registrars count it down).
    pub fn with_depth_gauge(mut self, depth: prometheus::IntGauge) -> Self {
        self.depth = Some(depth);
        self
    }

    /// The worker index for a container.
    pub fn shard_for(&self, container_id: &str) -> usize {
        shard(container_id, self.shards.len())
    }

    /// Hands work to its worker without waiting (the event reader must never block), stamped with its receipt.
    pub fn dispatch(&self, work: Work) {
        let i = self.shard_for(work.container_id());
        if let Some(d) = &self.depth {
            d.inc();
        }
        // The watcher dispatches in the turn that received the event or listing: its receipt is now.
        let received = writer_now();
        self.shards[i].do_send(ContainerWork { work, received });
    }

    /// Resolves once every worker has handled everything dispatched before the call.
    pub async fn barrier(&self) -> Result<(), MailboxError> {
        let waits = self.shards.iter().map(|s| s.send(Barrier));
        for res in futures::future::join_all(waits).await {
            res?;
        }
        Ok(())
    }
}

/// `crc32(container_id) % n`: stable across runs and processes.
pub fn shard(container_id: &str, n: usize) -> usize {
    crc32fast::hash(container_id.as_bytes()) as usize % n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_always_maps_to_the_same_shard_and_ids_spread() {
        let ids: Vec<String> = (0..1000).map(|i| format!("{i:064x}")).collect();
        for id in &ids {
            assert_eq!(shard(id, 8), shard(id, 8));
        }
        let mut counts = [0usize; 8];
        ids.iter().for_each(|id| counts[shard(id, 8)] += 1);
        assert!(counts.iter().all(|c| *c > 60), "{counts:?}");
    }
}
