//! In-memory stand-ins for what the agent reads on its host, and a whole agent wired over them, for actor and
//! model tests: [`engine`] is the Docker Engine and ECS agent, [`agent`] starts watcher → registrar pool →
//! metadata → writer over an engine and the strict in-memory Route53 as the binary's bootstrap does, and
//! [`host`] is the harness of one test; [`fleet`] builds a fleet's records for the janitor's benchmarks.

pub mod agent;
pub mod bucket;
pub mod engine;
pub mod fleet;
pub mod host;
mod wire;

pub use agent::{Agent, Probe, Timing};
pub use engine::{instance, task_arn, FakeEngine, TaskFault};
pub use host::{container_id, set_identifier, sleep_ms, weighted_a, Host};
