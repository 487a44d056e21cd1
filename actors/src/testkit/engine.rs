//! [`FakeEngine`]: an in-memory Docker Engine (containers, the event log with `since` replay, listings, `docker inspect`) and the ECS agent
//! beside it (each container is an awsvpc task with an ENI address), and it answers this instance's addresses.
//!
//! It follows the wire contracts the real parts are tested against: events are built from the Engine's JSON
//! (`Type`, `Action`, `Actor.ID`, `Actor.Attributes`, `timeNano`), a stream replays the log from `since`
//! (inclusive), a listing is a point-in-time view of running containers, introspection answers are parsed by the
//! agent's own parser. Faults: cut every event stream, hold listings (they answer later with what ran when they
//! were asked), fail or slow down a container's introspection lookups, make instance metadata unreachable.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{ContainerInspectResponse, EventMessage};
use futures::channel::mpsc;
use tokio::sync::oneshot;

use crate::core::desired::TASK_ARN_LABEL;
use crate::core::instance::InstanceAddresses;

/// One container of the fake engine.
#[derive(Debug, Clone)]
struct Container {
    labels: HashMap<String, String>,
    running: bool,
    /// `Some` for a container with a HEALTHCHECK: `starting`, `healthy` or `unhealthy`.
    health: Option<&'static str>,
    /// The task ENI's address the ECS agent reports.
    ipv4: Ipv4Addr,
}

/// A running container as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningContainer {
    /// Full container id.
    pub id: String,
    /// Its labels (with the task ARN).
    pub labels: HashMap<String, String>,
    /// Its task ENI's address.
    pub ipv4: Ipv4Addr,
    /// `Some` with a HEALTHCHECK: `starting`, `healthy` or `unhealthy`.
    pub health: Option<&'static str>,
}

/// How a container's introspection lookups misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFault {
    /// The next `n` lookups fail (the ECS agent is unavailable for them).
    Fail(u32),
    /// Every lookup takes this long before it answers.
    Slow(Duration),
}

pub(super) struct State {
    containers: BTreeMap<String, Container>,
    log: Vec<EventMessage>,
    last_nano: i64,
    streams: Vec<mpsc::UnboundedSender<Result<EventMessage, String>>>,
    faults: HashMap<String, TaskFault>,
    hold_listings: bool,
    held: Vec<oneshot::Sender<()>>,
    /// What instance metadata answers; `None`: it is unreachable.
    instance: Option<InstanceAddresses>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            containers: BTreeMap::new(),
            log: Vec::new(),
            last_nano: 0,
            streams: Vec::new(),
            faults: HashMap::new(),
            hold_listings: false,
            held: Vec::new(),
            instance: Some(instance()),
        }
    }
}

/// The fake Docker Engine and ECS agent. Share it as `Rc<FakeEngine>`; it is single-threaded like the actors.
#[derive(Default)]
pub struct FakeEngine {
    state: RefCell<State>,
}

/// This instance's addresses as the fake instance metadata reports them.
pub fn instance() -> InstanceAddresses {
    InstanceAddresses {
        ipv4: Some(Ipv4Addr::new(10, 0, 255, 1)),
        ipv6: None,
        instance_id: Some("i-0123456789abcdef0".into()),
        unavailable: None,
    }
}

/// The ECS task ARN the fake gives container `id` (one task per container).
pub fn task_arn(id: &str) -> String {
    format!(
        "arn:aws:ecs:us-east-1:111122223333:task/prod/{}",
        &id[..32.min(id.len())]
    )
}

impl FakeEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates and starts container `id` with `labels` (plus its task ARN), at ENI address `ipv4`; with
    /// `healthcheck` it starts in health `starting`.
    pub fn start(&self, id: &str, labels: &[(&str, &str)], ipv4: Ipv4Addr, healthcheck: bool) {
        let mut labels: HashMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.insert(TASK_ARN_LABEL.into(), task_arn(id));
        let c = Container {
            labels,
            running: true,
            health: healthcheck.then_some("starting"),
            ipv4,
        };
        self.state.borrow_mut().containers.insert(id.into(), c);
        self.emit(id, "start", &[]);
    }

    /// `docker kill -s TERM` of a container that takes its time to exit: a `kill` event, still running.
    pub fn kill(&self, id: &str) {
        if self.is_running(id) {
            self.emit(id, "kill", &[("signal", "15")]);
        }
    }

    /// `docker stop`: `kill` (SIGTERM), `die`, `stop`. Nothing for a container that does not run.
    pub fn stop(&self, id: &str) {
        if !self.is_running(id) {
            return;
        }
        self.emit(id, "kill", &[("signal", "15")]);
        self.set_running(id, false);
        self.emit(id, "die", &[("exitCode", "143")]);
        self.emit(id, "stop", &[]);
    }

    /// `docker rm` of a stopped container, and the event log cut to its last `keep` events (dockerd keeps 256):
    /// a long churn run holds what a real engine would, not every container ever started.
    pub fn forget(&self, id: &str, keep: usize) {
        let mut st = self.state.borrow_mut();
        if st.containers.get(id).is_some_and(|c| !c.running) {
            st.containers.remove(id);
        }
        let cut = st.log.len().saturating_sub(keep);
        st.log.drain(..cut);
    }

    /// The container exits on its own (`die`).
    pub fn die(&self, id: &str) {
        if self.is_running(id) {
            self.set_running(id, false);
            self.emit(id, "die", &[("exitCode", "1")]);
        }
    }

    /// `docker restart`, the task's ENI address now `ipv4`: `kill`, `die`, `stop`, `start`, `restart`.
    pub fn restart(&self, id: &str, ipv4: Ipv4Addr) {
        self.stop(id);
        if let Some(c) = self.state.borrow_mut().containers.get_mut(id) {
            c.running = true;
            c.ipv4 = ipv4;
            c.health = c.health.map(|_| "starting");
        } else {
            return;
        }
        self.emit(id, "start", &[]);
        self.emit(id, "restart", &[]);
    }

    /// `docker pause` then, with `unpause`, `docker unpause` (a paused container still runs).
    pub fn pause(&self, id: &str, unpause: bool) {
        if self.is_running(id) {
            self.emit(id, if unpause { "unpause" } else { "pause" }, &[]);
        }
    }

    /// The HEALTHCHECK's verdict changes (`health_status: healthy|unhealthy`); nothing without a healthcheck.
    pub fn health(&self, id: &str, healthy: bool) {
        let status = if healthy { "healthy" } else { "unhealthy" };
        let changed = {
            let mut st = self.state.borrow_mut();
            match st.containers.get_mut(id) {
                Some(c) if c.running && c.health.is_some() => {
                    c.health = Some(status);
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.emit(id, &format!("health_status: {status}"), &[]);
        }
    }

    /// Ends every event stream with an error (dockerd restarted, the socket dropped).
    pub fn cut_streams(&self) {
        for tx in self.state.borrow_mut().streams.drain(..) {
            let _ = tx.unbounded_send(Err("connection reset by peer".into()));
        }
    }

    /// From now on listings answer only at [`Self::release_listings`], with what ran when they were asked.
    pub fn hold_listings(&self) {
        self.state.borrow_mut().hold_listings = true;
    }

    /// Answers the held listings, and no longer holds new ones.
    pub fn release_listings(&self) {
        let mut st = self.state.borrow_mut();
        st.hold_listings = false;
        for tx in st.held.drain(..) {
            let _ = tx.send(());
        }
    }

    /// Answers only the newest held listing (the others stay held).
    pub fn release_newest_listing(&self) {
        if let Some(tx) = self.state.borrow_mut().held.pop() {
            let _ = tx.send(());
        }
    }

    /// Sets (or, with `None`, clears) how `id`'s introspection lookups misbehave.
    pub fn task_fault(&self, id: &str, fault: Option<TaskFault>) {
        let mut st = self.state.borrow_mut();
        match fault {
            Some(f) => st.faults.insert(id.into(), f),
            None => st.faults.remove(id),
        };
    }

    /// Instance metadata answers `addresses` from now on; `None`: it is unreachable.
    pub fn set_instance(&self, addresses: Option<InstanceAddresses>) {
        self.state.borrow_mut().instance = addresses;
    }

    /// The running containers.
    pub fn running(&self) -> Vec<RunningContainer> {
        let st = self.state.borrow();
        let running = st.containers.iter().filter(|(_, c)| c.running);
        running
            .map(|(id, c)| RunningContainer {
                id: id.clone(),
                labels: c.labels.clone(),
                ipv4: c.ipv4,
                health: c.health,
            })
            .collect()
    }

    fn is_running(&self, id: &str) -> bool {
        self.state
            .borrow()
            .containers
            .get(id)
            .is_some_and(|c| c.running)
    }

    fn set_running(&self, id: &str, running: bool) {
        if let Some(c) = self.state.borrow_mut().containers.get_mut(id) {
            c.running = running;
        }
    }

    /// Appends an event to the log and sends it to every open stream.
    fn emit(&self, id: &str, action: &str, extra: &[(&str, &str)]) {
        let mut st = self.state.borrow_mut();
        let Some(c) = st.containers.get(id) else {
            return;
        };
        let mut attributes = c.labels.clone();
        attributes.insert("name".into(), format!("ecs-app-{}", &id[..8.min(id.len())]));
        attributes.insert("image".into(), "r53d-test/app:1".into());
        attributes.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let nano = wall.max(st.last_nano + 1);
        st.last_nano = nano;
        let json = serde_json::json!({"Type": "container", "Action": action, "scope": "local",
            "Actor": {"ID": id, "Attributes": attributes}, "time": nano / 1_000_000_000, "timeNano": nano});
        let Ok(event) = serde_json::from_value::<EventMessage>(json) else {
            return;
        };
        st.streams
            .retain(|tx| tx.unbounded_send(Ok(event.clone())).is_ok());
        st.log.push(event);
    }

    pub(super) fn inspect_json(&self, id: &str) -> Option<ContainerInspectResponse> {
        let st = self.state.borrow();
        let c = st.containers.get(id)?;
        let health = c
            .health
            .map(|h| serde_json::json!({"Status": h, "FailingStreak": 0}));
        let json = serde_json::json!({"Id": id, "State": {"Running": c.running, "Status":
            if c.running { "running" } else { "exited" }, "Health": health},
            "Config": {"Labels": c.labels},
            "HostConfig": {"NetworkMode": format!("container:pause-{id}")},
            "NetworkSettings": {"Ports": {}, "Networks": {}}});
        serde_json::from_value(json).ok()
    }

    pub(super) fn task_json(&self, id: &str) -> Option<String> {
        let st = self.state.borrow();
        let c = st.containers.get(id)?;
        let status = if c.running { "RUNNING" } else { "STOPPED" };
        Some(format!(
            r#"{{"Arn":"{}","DesiredStatus":"{status}","KnownStatus":"{status}","Family":"app","Version":"1",
            "Containers":[{{"DockerId":"{id}","DockerName":"app","Name":"app",
            "Networks":[{{"NetworkMode":"awsvpc","IPv4Addresses":["{}"]}}]}}]}}"#,
            task_arn(id),
            c.ipv4
        ))
    }

    /// Takes a lookup's fault (a `Fail` is used up one lookup at a time).
    pub(super) fn take_fault(&self, id: &str) -> Option<TaskFault> {
        let mut st = self.state.borrow_mut();
        let fault = st.faults.get(id).copied();
        if let Some(TaskFault::Fail(n)) = fault {
            match n {
                0 | 1 => st.faults.remove(id),
                _ => st.faults.insert(id.into(), TaskFault::Fail(n - 1)),
            };
        }
        fault
    }

    /// A listing's gate: `None` to answer at once, or the receiver a held listing waits on.
    pub(super) fn listing_gate(&self) -> Option<oneshot::Receiver<()>> {
        let mut st = self.state.borrow_mut();
        if !st.hold_listings {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        st.held.push(tx);
        Some(rx)
    }

    /// A new event stream: the logged events from `since` (inclusive), then every new one.
    pub(super) fn subscribe(
        &self,
        since: i64,
    ) -> mpsc::UnboundedReceiver<Result<EventMessage, String>> {
        let (tx, rx) = mpsc::unbounded();
        let mut st = self.state.borrow_mut();
        let replay = st.log.iter().filter(|e| e.time_nano.unwrap_or(0) >= since);
        for e in replay {
            let _ = tx.unbounded_send(Ok(e.clone()));
        }
        st.streams.push(tx);
        rx
    }

    /// What instance metadata answers now.
    pub(super) fn instance_answer(&self) -> Option<InstanceAddresses> {
        self.state.borrow().instance.clone()
    }
}
