//! The actors of route53-discovery and the pure core they call.
//!
//! # Layout / message flow
//!
//! ```text
//! Docker ──events──▶ EventWatcherActor ──Work──▶ RegistrarPool ──shard(id)──▶ RegistrarActor ×N
//!                         │ Sweep/Flush                                          │ Resolve    │ Register/Deregister
//!                         ▼                                                      ▼            ▼
//!                    Route53Actor ◀──────────────────────────────────────── MetadataActor   Route53Actor
//!                         │ DnsApi: SDK │ dry-run │ fake                  (introspection, docker inspect)
//! every actor ──ActorFailed / ActorStopped──▶ SupervisorActor (drain, exit code)
//! ```
//!
//! * [`core`]: parsing, naming, ownership, planning: plain functions with unit tests.
//! * [`event_watcher`], [`registrar`], [`metadata`], [`route53`], [`supervisor`]: one module per actor; messages
//!   live beside the actor that receives them; [`messages`] holds the cross-cutting lifecycle ones.
//! * [`janitor`]: the clean-up of dead hosts' records, its own process (zone read → EC2 verdicts → exact DELETEs).
//! * [`health`]: state shared with the HTTP endpoints; [`metrics`]: the Prometheus families, held beside it (a
//!   leaf: it depends on [`core`] only).
//! * [`build_info`]: the release version and git revision.
//! * [`state_file`]: atomic replacement of the files in `agent.state_dir` (the writer's journal).
//! * `error_chain`: an error and its sources on one line, for the AWS clients; `aws_credentials`: new credentials
//!   after a service rejected them as expired.
//! * `testkit` (tests, feature `test-util`): an in-memory Docker Engine and ECS agent for actor and model tests.

mod aws_credentials;
pub mod backoff;
pub mod build_info;
pub mod core;
mod error_chain;
pub mod event_watcher;
pub mod health;
pub mod janitor;
pub mod messages;
pub mod metadata;
pub mod metrics;
pub mod registrar;
pub mod route53;
pub mod state_file;
pub mod supervisor;
#[cfg(any(test, feature = "test-util"))]
pub mod testkit;
