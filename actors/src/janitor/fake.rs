//! In-memory EC2 and ECS for tests: EC2 instances with a state (or unknown), small `DescribeInstances` pages with
//! `nextToken`, call counts, an "unreachable" switch and an optional account rate bucket; ECS knows clusters by
//! name and answers `DescribeClusters` with their ARN.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::ec2::{Ec2Api, Ec2Error, Ec2Page, IDS_PER_CALL};
use super::ecs::{EcsApi, EcsError};
use crate::testkit::bucket::Admit;

/// The fake EC2. Single-threaded; share it with `Rc`.
pub struct FakeEc2 {
    /// EC2 instance id → state.
    states: RefCell<BTreeMap<String, String>>,
    page_size: usize,
    down: Cell<bool>,
    calls: Cell<usize>,
    /// The account's `DescribeInstances` bucket, if any.
    account: RefCell<Option<Arc<dyn Admit>>>,
    throttled: Cell<usize>,
}

impl FakeEc2 {
    /// An EC2 that knows no instance and serves `page_size` instances a page.
    pub fn new(page_size: usize) -> Self {
        Self {
            states: RefCell::default(),
            page_size: page_size.max(1),
            down: Cell::new(false),
            calls: Cell::new(0),
            account: RefCell::default(),
            throttled: Cell::new(0),
        }
    }

    /// Sets the state of instance `id` (`None`: EC2 does not know it).
    pub fn set(&self, id: &str, state: Option<&str>) {
        let mut states = self.states.borrow_mut();
        match state {
            Some(s) => states.insert(id.into(), s.into()),
            None => states.remove(id),
        };
    }

    /// Makes every call fail as if throttled, or work again.
    pub fn set_down(&self, down: bool) {
        self.down.set(down);
    }

    /// `DescribeInstances` pages asked for so far (served or not).
    pub fn calls(&self) -> usize {
        self.calls.get()
    }

    /// Every call takes a token from `bucket` first (`RequestLimitExceeded` when it is empty).
    pub fn set_account_bucket<B: Admit + 'static>(&self, bucket: Arc<B>) {
        *self.account.borrow_mut() = Some(bucket);
    }

    /// Calls throttled by the account bucket so far.
    pub fn throttled(&self) -> usize {
        self.throttled.get()
    }

    fn admit(&self) -> Result<(), Ec2Error> {
        let throttled =
            self.down.get() || self.account.borrow().as_ref().is_some_and(|b| !b.admit());
        if throttled {
            self.throttled.set(self.throttled.get() + 1);
            return Err(Ec2Error::from_code(
                "RequestLimitExceeded",
                "Request limit exceeded.",
                Some(503),
            ));
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl Ec2Api for FakeEc2 {
    async fn describe_page(&self, ids: &[String], next: Option<&str>) -> Result<Ec2Page, Ec2Error> {
        self.calls.set(self.calls.get() + 1);
        self.admit()?;
        if ids.is_empty() || ids.len() > IDS_PER_CALL {
            return Err(Ec2Error::Permanent {
                code: "InvalidParameterValue".into(),
                message: format!("{} filter values", ids.len()),
            });
        }
        let known = self.states.borrow();
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

/// The fake ECS: clusters by name, each with its ARN.
#[derive(Default)]
pub struct FakeEcs {
    clusters: RefCell<BTreeMap<String, String>>,
    down: Cell<bool>,
    calls: Cell<usize>,
}

impl FakeEcs {
    /// Creates cluster `name` in `region` of `account`.
    pub fn create_cluster(&self, name: &str, region: &str, account: &str) {
        let arn = format!("arn:aws:ecs:{region}:{account}:cluster/{name}");
        self.clusters.borrow_mut().insert(name.into(), arn);
    }

    /// Makes every call fail as if throttled, or work again.
    pub fn set_down(&self, down: bool) {
        self.down.set(down);
    }

    /// `DescribeClusters` calls so far.
    pub fn calls(&self) -> usize {
        self.calls.get()
    }
}

#[async_trait(?Send)]
impl EcsApi for FakeEcs {
    async fn cluster_arn(&self, cluster: &str) -> Result<Option<String>, EcsError> {
        self.calls.set(self.calls.get() + 1);
        if self.down.get() {
            return Err(EcsError::from_code(
                "ThrottlingException",
                "Rate exceeded",
                Some(400),
            ));
        }
        Ok(self.clusters.borrow().get(cluster).cloned())
    }
}
