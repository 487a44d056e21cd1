//! An in-memory ECS and EC2 for tests: container instances with a status and an agent connection, small pages
//! with `nextToken`, `MISSING` failures for unknown ids, call counts, and "unreachable" switches; each container
//! instance `x` runs on EC2 instance `i-x`, whose state (running by default) can change or vanish.
//!
//! It expresses what moto cannot: an agent that disconnects (`agentConnected = false`) and reconnects under the
//! same id, and an instance that is `INACTIVE` rather than gone.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::ec2::{Ec2Api, Ec2Error, Ec2Page, IDS_PER_CALL};
use super::ecs::{Described, EcsApi, EcsError, InstancePage, DESCRIBE_CHUNK};
use super::plan::Instance;
use crate::testkit::bucket::Admit;

/// The fake. Single-threaded; share it with `Rc`.
#[derive(Debug)]
pub struct FakeEcs {
    cluster: String,
    instances: RefCell<BTreeMap<String, Instance>>,
    page_size: usize,
    down: Cell<bool>,
    lists: Cell<usize>,
    describes: Cell<usize>,
    /// EC2 instance id → state.
    ec2: RefCell<BTreeMap<String, String>>,
    ec2_down: Cell<bool>,
    ec2_calls: Cell<usize>,
    /// Container instance id → the value of its janitor-candidate attribute.
    candidates: RefCell<BTreeMap<String, String>>,
    attribute_calls: Cell<usize>,
    attributes_denied: Cell<bool>,
    /// The account's cluster-read bucket (ListContainerInstances, DescribeContainerInstances), if any.
    account: RefCell<Option<Arc<dyn Admit>>>,
    throttled: Cell<usize>,
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
            ec2: RefCell::default(),
            ec2_down: Cell::new(false),
            ec2_calls: Cell::new(0),
            candidates: RefCell::default(),
            attribute_calls: Cell::new(0),
            attributes_denied: Cell::new(false),
            account: RefCell::default(),
            throttled: Cell::new(0),
        }
    }

    /// List and describe calls take a token from `bucket` first (`ThrottlingException` when it is empty), like
    /// ECS's cluster-read bucket shared by the whole account.
    pub fn set_account_bucket<B: Admit + 'static>(&self, bucket: Arc<B>) {
        *self.account.borrow_mut() = Some(bucket);
    }

    /// List and describe calls throttled by the account bucket so far.
    pub fn throttled(&self) -> usize {
        self.throttled.get()
    }

    fn admit(&self) -> Result<(), EcsError> {
        let account = self.account.borrow();
        if account.as_ref().is_some_and(|b| !b.admit()) {
            self.throttled.set(self.throttled.get() + 1);
            return Err(EcsError::from_code(
                "ThrottlingException",
                "Rate exceeded",
                Some(400),
            ));
        }
        Ok(())
    }

    /// Registers an ACTIVE instance with a connected agent whose janitor is on for `zone` (as its agent's
    /// `PutAttributes` would).
    pub fn register_candidate(&self, id: &str, zone: &str) {
        self.candidates.borrow_mut().insert(id.into(), zone.into());
        self.register(id);
    }

    /// Makes `PutAttributes` / `DeleteAttributes` fail with `AccessDenied` (an IAM gap), or work again.
    pub fn deny_attributes(&self, denied: bool) {
        self.attributes_denied.set(denied);
    }

    /// `PutAttributes` / `DeleteAttributes` calls served so far.
    pub fn attribute_calls(&self) -> usize {
        self.attribute_calls.get()
    }

    /// The EC2 instance container instance `id` runs on.
    pub fn ec2_id(id: &str) -> String {
        format!("i-{id}")
    }

    /// Sets the state of the EC2 instance under container instance `id` (`None`: EC2 does not know it).
    pub fn set_ec2(&self, id: &str, state: Option<&str>) {
        let mut ec2 = self.ec2.borrow_mut();
        match state {
            Some(s) => ec2.insert(Self::ec2_id(id), s.into()),
            None => ec2.remove(&Self::ec2_id(id)),
        };
    }

    /// Makes every EC2 call fail as if throttled.
    pub fn set_ec2_down(&self, down: bool) {
        self.ec2_down.set(down);
    }

    /// `DescribeInstances` pages served so far.
    pub fn ec2_calls(&self) -> usize {
        self.ec2_calls.get()
    }

    /// Registers (or replaces) an ACTIVE instance with a connected agent.
    pub fn register(&self, id: &str) {
        self.set(id, "ACTIVE", true);
    }

    /// Sets an instance's status and agent connection. Its EC2 instance runs unless [`Self::set_ec2`] says
    /// otherwise, and is terminated once the status is INACTIVE (as when an instance is terminated: ECS then
    /// deregisters it).
    pub fn set(&self, id: &str, status: &str, agent_connected: bool) {
        let i = Instance {
            id: id.into(),
            status: status.into(),
            agent_connected,
            ec2_instance_id: Some(Self::ec2_id(id)),
            janitor_for: None,
        };
        let mut ec2 = self.ec2.borrow_mut();
        let state = ec2
            .entry(Self::ec2_id(id))
            .or_insert_with(|| "running".into());
        if status == "INACTIVE" {
            *state = "terminated".into();
        }
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
        self.admit()?;
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
        self.admit()?;
        self.check(cluster)?;
        if ids.is_empty() || ids.len() > DESCRIBE_CHUNK {
            return Err(EcsError::Permanent {
                code: "InvalidParameterException".into(),
                message: format!("{} container instances", ids.len()),
            });
        }
        let known = self.instances.borrow();
        let candidates = self.candidates.borrow();
        let mut out = Described::default();
        for id in ids {
            match known.get(id) {
                Some(i) => out.instances.push(Instance {
                    janitor_for: candidates.get(id).cloned(),
                    ..i.clone()
                }),
                None => out.missing.push(id.clone()),
            }
        }
        Ok(out)
    }

    async fn put_attribute(
        &self,
        cluster: &str,
        id: &str,
        name: &str,
        value: &str,
    ) -> Result<(), EcsError> {
        self.attribute_call(cluster, id, name)?;
        self.candidates.borrow_mut().insert(id.into(), value.into());
        Ok(())
    }

    async fn delete_attribute(&self, cluster: &str, id: &str, name: &str) -> Result<(), EcsError> {
        self.attribute_call(cluster, id, name)?;
        self.candidates.borrow_mut().remove(id);
        Ok(())
    }
}

impl FakeEcs {
    fn attribute_call(&self, cluster: &str, id: &str, name: &str) -> Result<(), EcsError> {
        self.attribute_calls.set(self.attribute_calls.get() + 1);
        self.check(cluster)?;
        if self.attributes_denied.get() {
            return Err(EcsError::Permanent {
                code: "AccessDeniedException".into(),
                message: "not authorized to perform ecs:PutAttributes".into(),
            });
        }
        if name != super::plan::CANDIDATE_ATTRIBUTE {
            return Err(EcsError::Permanent {
                code: "InvalidParameterException".into(),
                message: format!("unexpected attribute {name}"),
            });
        }
        match self.instances.borrow().contains_key(id) {
            true => Ok(()),
            false => Err(EcsError::Permanent {
                code: "TargetNotFoundException".into(),
                message: format!("Could not find {id}"),
            }),
        }
    }
}

#[async_trait(?Send)]
impl Ec2Api for FakeEcs {
    async fn describe_page(&self, ids: &[String], next: Option<&str>) -> Result<Ec2Page, Ec2Error> {
        self.ec2_calls.set(self.ec2_calls.get() + 1);
        if self.ec2_down.get() {
            return Err(Ec2Error::Transient(
                "RequestLimitExceeded (HTTP 503)".into(),
            ));
        }
        if ids.is_empty() || ids.len() > IDS_PER_CALL {
            return Err(Ec2Error::Permanent {
                code: "InvalidParameterValue".into(),
                message: format!("{} filter values", ids.len()),
            });
        }
        let known = self.ec2.borrow();
        let all: Vec<(String, String)> = ids
            .iter()
            .filter_map(|i| Some((i.clone(), known.get(i)?.clone())))
            .collect();
        let start: usize = next.and_then(|t| t.parse().ok()).unwrap_or(0);
        let end = (start + self.page_size).min(all.len());
        Ok(Ec2Page {
            states: all[start.min(end)..end].to_vec(),
            next: (end < all.len()).then(|| end.to_string()),
        })
    }
}
