//! One host for actor tests: the fake engine, the strict in-memory zone and the probe, with the helpers every
//! test uses (container ids, their SetIdentifiers, weighted record sets, a view of the zone, a held listing).

use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use super::agent::{owner, Agent, Probe, Timing, LABEL};
use super::engine::{task_arn, FakeEngine};
use crate::core::ownership::InstanceId;
use crate::core::record::RecordSet;
use crate::event_watcher::Resync;
use crate::route53::fake::FakeRoute53;
use crate::route53::Flush;

/// The engine, the zone (`Z1`, `example.com.`) and the probe of one test.
pub struct Host {
    /// Docker and the ECS agent.
    pub engine: Rc<FakeEngine>,
    /// Route53.
    pub zone: Rc<FakeRoute53>,
    /// The supervisor stand-in.
    pub probe: Probe,
}

impl Default for Host {
    fn default() -> Self {
        Self {
            engine: Rc::new(FakeEngine::new()),
            zone: Rc::new(FakeRoute53::new("Z1", "example.com.")),
            probe: Probe::default(),
        }
    }
}

/// The full id of test container `n` (64 hex digits; `salt` tells tests apart in logs).
pub fn container_id(n: u8, salt: &str) -> String {
    let mut id = format!("{n:02x}");
    while id.len() < 64 {
        id.push_str(salt);
    }
    id[..64].to_string()
}

/// The SetIdentifier the test agent gives container `id` (its task's).
pub fn set_identifier(id: &str) -> String {
    let task =
        InstanceId::from_task_arn(&task_arn(id)).unwrap_or_else(|| panic!("test task ARN of {id}"));
    owner().set_identifier(&task)
}

/// A weighted A record set, as another writer or an earlier agent left it.
pub fn weighted_a(name: &str, set_identifier: &str, weight: i64, ttl: i64, ip: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        record_type: "A".into(),
        set_identifier: Some(set_identifier.into()),
        weight: Some(weight),
        ttl: Some(ttl),
        values: vec![ip.into()],
        has_extras: false,
    }
}

/// Sleeps `ms` milliseconds, letting the actors run.
pub async fn sleep_ms(ms: u64) {
    actix_rt::time::sleep(Duration::from_millis(ms)).await;
}

impl Host {
    /// Starts container `id` labelled for `service`, its task ENI at `ipv4`, without a healthcheck.
    pub fn start(&self, id: &str, service: &str, ipv4: Ipv4Addr) {
        self.engine.start(id, &[(LABEL, service)], ipv4, false);
    }

    /// Starts an agent with timing `t`.
    pub fn agent(&self, t: Timing) -> Agent {
        Agent::start(&self.engine, &self.zone, &self.probe.reporter(), t)
    }

    /// SetIdentifier → values of every record in the zone.
    pub fn zone_view(&self) -> Vec<(String, String)> {
        let sets = self.zone.sets().into_iter();
        sets.map(|s| (s.set_identifier.unwrap_or_default(), s.values.join(",")))
            .collect()
    }

    /// Asks `agent` for a listing that answers only when the listings are released.
    pub async fn hold_a_listing(&self, agent: &Agent) {
        self.engine.hold_listings();
        agent.watcher.do_send(Resync);
        sleep_ms(20).await;
    }
}

impl Agent {
    /// Waits for the registrars' lookups, then for the writer to have attempted everything.
    pub async fn settle(&self) {
        let barrier = self.pool.barrier().await;
        barrier.unwrap_or_else(|e| panic!("registrars gone: {e}"));
        let flushed = self.writer.send(Flush).await;
        flushed.unwrap_or_else(|e| panic!("writer gone: {e}"));
    }
}
