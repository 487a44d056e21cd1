//! The launch's first Route53 steps: the journal (if `agent.state_dir` is set and usable) and the zone's name,
//! taken from a good journal or asked of Route53 (GetHostedZone) after the start-up jitter, so a fleet-wide restart
//! is not a herd even for that one request.

use std::time::Duration;

use route53_discovery_actors::backoff::uniform;
use route53_discovery_actors::core::journal::Journal;
use route53_discovery_actors::core::naming::ZoneName;
use route53_discovery_actors::core::ownership::Owner;
use route53_discovery_actors::route53::api::DnsApi;
use route53_discovery_actors::route53::journal::JournalStore;

use crate::settings::{Mode, Settings};

/// The journal store of this agent, or `None` (dry run, `agent.state_dir = ""`, or a directory that cannot be
/// written: warned about, and every start then reads the zone).
pub fn journal_store(settings: &Settings) -> Option<JournalStore> {
    let dir = settings.agent.state_dir.as_ref()?;
    if settings.agent.mode == Mode::DryRun {
        return None;
    }
    let zone_id = &settings.route53.hosted_zone_id;
    match JournalStore::open(dir, zone_id) {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::warn!(zone_id, path = %dir.display(), error = %e,
                "agent.state_dir cannot be written: no journal, so every start reads the whole zone. Mount a writable host path there (docs/deploy.md).");
            None
        }
    }
}

/// The journal to trust at this start: the store's, unless `sync --once --full` asked for a full read or its zone
/// name disagrees with the configured one.
pub fn trusted_journal(
    store: Option<&JournalStore>,
    settings: &Settings,
    owner: &Owner,
) -> Option<Journal> {
    let zone_id = &settings.route53.hosted_zone_id;
    if settings.agent.full_read {
        tracing::info!(
            zone_id,
            "A full read was asked for: the journal is not used at this start."
        );
        return None;
    }
    let journal = store?.load(zone_id, owner)?;
    match (
        &settings.route53.zone_name,
        ZoneName::new(&journal.zone_name),
    ) {
        (_, Err(e)) => {
            tracing::warn!(zone_id, error = %e, "Journal not used: its zone name is unusable.")
        }
        (Some(configured), Ok(name)) if *configured != name => {
            tracing::warn!(zone_id, journal = %journal.zone_name, "Journal not used: route53.zone_name differs from its zone name.")
        }
        _ => return Some(journal),
    }
    None
}

/// The zone's name: the trusted journal's (no request), else Route53's after a random wait up to `jitter`.
pub async fn zone_name(
    api: &dyn DnsApi,
    settings: &Settings,
    journal: Option<&Journal>,
    jitter: Duration,
    budget: Duration,
) -> Result<ZoneName, String> {
    if let Some(name) = journal.and_then(|j| ZoneName::new(&j.zone_name).ok()) {
        return Ok(name);
    }
    actix_rt::time::sleep(uniform(jitter)).await;
    super::zone_name(api, settings, budget).await
}
