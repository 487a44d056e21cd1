//! An in-memory ECS for tests: container instances with a status and an agent connection, small pages with
//! `nextToken`, `MISSING` failures for unknown ids, call counts, and an "unreachable" switch.
//!
//! It expresses what moto cannot: an agent that disconnects (`agentConnected = false`) and reconnects under the
//! same id, and an instance that is `INACTIVE` rather than gone.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use async_trait::async_trait;

use super::ecs::{Described, EcsApi, EcsError, InstancePage, DESCRIBE_CHUNK};
use super::plan::Instance;

/// The fake. Single-threaded; share it with `Rc`.
#[derive(Debug)]
pub struct FakeEcs {
    cluster: String,
    instances: RefCell<BTreeMap<String, Instance>>,
    page_size: usize,
    down: Cell<bool>,
    lists: Cell<usize>,
    describes: Cell<usize>,
}

impl FakeEcs {
    /// An empty cluster named `cluster`, listing `page_size` ids per page.
    pub fn new(cluster: &str, page_size: usize) -> Self {
        Self {
            cluster: cluster.into(),
            instances: RefCell::default(),
            page_size: page_size.max(1),
            down: Cell::new(false),
            lists: Cell::new(0),
            describes: Cell::new(0),
        }
    }

    /// Registers (or replaces) an ACTIVE instance with a connected agent.
    pub fn register(&self, id: &str) {
        self.set(id, "ACTIVE", true);
    }

    /// Sets an instance's status and agent connection.
    pub fn set(&self, id: &str, status: &str, agent_connected: bool) {
        let i = Instance {
            id: id.into(),
            status: status.into(),
            agent_connected,
        };
        self.instances.borrow_mut().insert(id.into(), i);
    }

    /// Forgets an instance entirely (describe reports it `MISSING`).
    pub fn remove(&self, id: &str) {
        self.instances.borrow_mut().remove(id);
    }

    /// Makes every call fail as if the endpoint did not answer.
    pub fn set_down(&self, down: bool) {
        self.down.set(down);
    }

    /// (list pages, describe calls) served so far.
    pub fn calls(&self) -> (usize, usize) {
        (self.lists.get(), self.describes.get())
    }

    fn check(&self, cluster: &str) -> Result<(), EcsError> {
        if self.down.get() {
            return Err(EcsError::Transient("connection refused".into()));
        }
        if cluster != self.cluster {
            return Err(EcsError::Permanent {
                code: "ClusterNotFoundException".into(),
                message: "Cluster not found.".into(),
            });
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl EcsApi for FakeEcs {
    async fn list(
        &self,
        cluster: &str,
        status: &str,
        next: Option<&str>,
    ) -> Result<InstancePage, EcsError> {
        self.lists.set(self.lists.get() + 1);
        self.check(cluster)?;
        let start: usize = next.and_then(|t| t.parse().ok()).unwrap_or(0);
        let all: Vec<String> = self
            .instances
            .borrow()
            .values()
            .filter(|i| i.status == status)
            .map(|i| {
                format!(
                    "arn:aws:ecs:us-east-1:1:container-instance/{cluster}/{}",
                    i.id
                )
            })
            .collect();
        let end = (start + self.page_size).min(all.len());
        Ok(InstancePage {
            ids: all[start.min(end)..end]
                .iter()
                .map(|a| super::ecs::instance_id(a).to_string())
                .collect(),
            next: (end < all.len()).then(|| end.to_string()),
        })
    }

    async fn describe(&self, cluster: &str, ids: &[String]) -> Result<Described, EcsError> {
        self.describes.set(self.describes.get() + 1);
        self.check(cluster)?;
        if ids.is_empty() || ids.len() > DESCRIBE_CHUNK {
            return Err(EcsError::Permanent {
                code: "InvalidParameterException".into(),
                message: format!("{} container instances", ids.len()),
            });
        }
        let known = self.instances.borrow();
        let mut out = Described::default();
        for id in ids {
            match known.get(id) {
                Some(i) => out.instances.push(i.clone()),
                None => out.missing.push(id.clone()),
            }
        }
        Ok(out)
    }
}
