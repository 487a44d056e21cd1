//! route53-discovery: DNS service discovery for ECS without a mesh.
//!
//! One agent per container instance watches the Docker Engine and keeps weighted A, AAAA and SRV records of every
//! running task in a Route53 hosted zone. [`run`] wires the actors of [`route53_discovery_actors`] together:
//!
//! ```text
//! bootstrap: Docker socket → identity (owner, cluster) → hosted zone name
//! actors:    EventWatcherActor → RegistrarPool(N) → MetadataActor, Route53Actor;  SupervisorActor watches all
//! http:      /healthz /readyz /metrics /records
//! ```
//!
//! The same binary runs the janitor ([`RunMode::Janitor`]): its own process, a `JanitorActor` under the same
//! supervisor and HTTP endpoints.

pub mod bootstrap;
pub mod cli;
pub mod http;
pub mod settings;

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use actix::prelude::*;
use route53_discovery_actors::health::HealthState;
use route53_discovery_actors::messages::ActorFailed;
use route53_discovery_actors::metrics::Metrics;
use route53_discovery_actors::supervisor::{Shutdown, SupervisorActor, EXIT_FAILURE};

use crate::settings::Settings;

/// Exit code for invalid configuration (`EX_USAGE`).
pub const EXIT_CONFIG: i32 = 64;

/// Where a panic on any thread is reported: the supervisor of the running system.
static PANIC_SINK: OnceLock<Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>> =
    OnceLock::new();

fn install_panic_hook() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = PANIC_SINK.get_or_init(|| Mutex::new(None));
    *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        if let Some(tx) = PANIC_SINK.get().and_then(|s| s.lock().ok()?.clone()) {
            let _ = tx.send(info.to_string());
        }
    }));
    rx
}

/// How long the agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Until a signal or an unrecoverable failure.
    Continuous,
    /// One launch sync (register running containers, remove stale own records), then a normal drain and exit.
    Once,
    /// The janitor service, until a signal or an unrecoverable failure.
    Janitor,
}

/// Runs the agent until `shutdown` resolves (exit 0 after draining) or an unrecoverable failure (exit 1).
///
/// Returns the process exit code.
pub fn run(settings: Settings, shutdown: impl Future<Output = ()> + 'static) -> i32 {
    run_with(settings, shutdown, RunMode::Continuous)
}

/// [`run`], in the given mode.
pub fn run_with(
    settings: Settings,
    shutdown: impl Future<Output = ()> + 'static,
    mode: RunMode,
) -> i32 {
    let system = actix_rt::System::new();
    let health = Arc::new(HealthState::default());
    let metrics = Arc::new(Metrics::default());
    let started = system.block_on(async move {
        let http = http::start(&settings.health, health.clone(), metrics.clone())
            .map_err(|e| format!("cannot listen on {}: {e}", settings.health.listen))?;
        let mut supervisor = SupervisorActor::new(health.clone(), settings.agent.shutdown_grace);
        supervisor.on_stop(Box::new(move || Box::pin(async move { http.stop().await })));
        let supervisor = supervisor.start();
        let mut panics = install_panic_hook();
        let sup = supervisor.clone();
        actix_rt::spawn(async move {
            while let Some(p) = panics.recv().await {
                sup.do_send(ActorFailed {
                    actor: "panic",
                    error: p,
                });
            }
        });
        let (sup, synced) = (supervisor.clone(), health.clone());
        actix_rt::spawn(async move {
            if mode == RunMode::Once {
                // Ends at the first of: the launch sync is done, or a signal.
                let done = async move {
                    while synced.readiness(std::time::Duration::MAX).is_err() {
                        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                };
                futures::future::select(Box::pin(done), Box::pin(shutdown)).await;
            } else {
                shutdown.await;
            }
            sup.do_send(Shutdown);
        });
        match mode {
            RunMode::Janitor => actix_rt::spawn(bootstrap::janitor::start(
                settings, health, metrics, supervisor,
            )),
            _ => actix_rt::spawn(bootstrap::start_pipeline(
                settings, health, metrics, supervisor,
            )),
        };
        Ok::<_, String>(())
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "Cannot start.");
        return EXIT_FAILURE;
    }
    system.run_with_code().unwrap_or(EXIT_FAILURE)
}

/// `janitor --once`: one clean-up of dead owners' records, then the exit code (0 done, 2 braked, 1 error).
pub fn janitor_once(settings: Settings, allow_mass_delete: bool) -> i32 {
    let system = actix_rt::System::new();
    match system.block_on(bootstrap::janitor::once(&settings, allow_mass_delete)) {
        Err(e) => {
            tracing::error!(error = %e, "Janitor clean-up failed; nothing was deleted.");
            EXIT_FAILURE
        }
        Ok(r) if r.braked => {
            tracing::error!(dead = r.dead.len(), limit = r.limit, owners = ?r.dead.keys().collect::<Vec<_>>(),
                "Janitor brake: more owners are gone than janitor.max_owners_per_cycle allows; nothing deleted. Re-run with --allow-mass-delete to remove them.");
            2
        }
        Ok(r) => {
            let p = r.purge.unwrap_or_default();
            tracing::info!(
                owners = r.owners,
                unjudged = r.unjudged,
                dead = r.dead.len(),
                removed = p.removed,
                already_gone = p.already_gone,
                kept = p.kept,
                error = p.error.as_deref().unwrap_or(""),
                "Janitor clean-up done."
            );
            i32::from(p.error.is_some())
        }
    }
}
