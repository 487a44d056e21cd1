//! Docker Engine container events → what the agent does about them.
//!
//! Contract: `shared/reference/ecs-and-docker.md` §4.1. `Action` is a free string (`health_status: healthy`,
//! `exec_start: sh -c ...`), so it is parsed by prefix, never matched whole. Both the current and the legacy
//! (`status`/`id`/`from`) event forms parse, since bollard ignores the legacy fields.

use std::collections::HashMap;

use bollard::models::{EventMessage, EventMessageTypeEnum};

/// The container actions the watcher subscribes to.
pub const WATCHED_ACTIONS: &[&str] = &[
    "start",
    "die",
    "stop",
    "kill",
    "destroy",
    "oom",
    "pause",
    "unpause",
    "restart",
    "health_status",
];

/// The Docker `/events` filter the watcher subscribes with: container events that carry the service label.
///
/// `exec_create`/`exec_start` are left out, so Docker healthchecks do not flood the agent.
pub fn event_filters(label_key: &str) -> HashMap<String, Vec<String>> {
    let events = WATCHED_ACTIONS;
    HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![label_key.to_string()]),
        (
            "event".to_string(),
            events.iter().map(|e| e.to_string()).collect(),
        ),
    ])
}

/// What an event means for a container's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// The container runs (`start`, `unpause`, `restart`): it should have a record.
    Running,
    /// The container is being stopped (`kill` with a terminating signal, `stop`) but still runs: its record goes
    /// (after `deregister_delay`, if one is set). `kill` comes before the container exits, so by default the record
    /// goes before the task stops answering.
    Stopping,
    /// The container has exited or is gone (`die`, `destroy`): its record goes at once.
    Stopped,
    /// Nothing to do (`pause`, `oom` (a `die` follows if the container exits), `kill` with a signal such as HUP
    /// that a container may handle and survive, `health_status: ...`, `exec_*`, anything unknown).
    Ignored,
    /// `health_status: healthy`: registers when the agent waits for health (`register_when = "healthy"`).
    Healthy,
    /// `health_status: unhealthy`: deregisters when the agent waits for health.
    Unhealthy,
}

/// What a container event asks of the container's registrar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventWork {
    /// Look it up and register it.
    Run,
    /// It is being stopped (or turned unhealthy) and still runs: deregister after the deregistration delay.
    Stopping,
    /// It exited or is gone: deregister at once.
    Stopped,
}

/// The event → work matrix. `wait_for_health` is `agent.register_when = "healthy"`: then `healthy` registers and
/// `unhealthy` deregisters; otherwise health events change nothing.
pub fn event_work(lifecycle: Lifecycle, wait_for_health: bool) -> Option<EventWork> {
    match lifecycle {
        Lifecycle::Running => Some(EventWork::Run),
        Lifecycle::Healthy if wait_for_health => Some(EventWork::Run),
        Lifecycle::Stopping => Some(EventWork::Stopping),
        Lifecycle::Unhealthy if wait_for_health => Some(EventWork::Stopping),
        Lifecycle::Stopped => Some(EventWork::Stopped),
        Lifecycle::Healthy | Lifecycle::Unhealthy | Lifecycle::Ignored => None,
    }
}

/// The part of a Docker event the agent acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// Full container id.
    pub container_id: String,
    /// The raw action (`start`, `health_status: healthy`, ...), for logs.
    pub action: String,
    /// What it means.
    pub lifecycle: Lifecycle,
    /// Labels (plus Docker's own `image`/`name` attributes).
    pub attributes: HashMap<String, String>,
    /// `timeNano` of the event, used to resume the stream with `since`.
    pub time_nano: Option<i64>,
}

/// Signals after which a `kill` counts as the container stopping (numbers as Docker reports them, or names).
const TERMINATING: &[&str] = &[
    "15", "9", "2", "3", "SIGTERM", "SIGKILL", "SIGINT", "SIGQUIT", "TERM", "KILL", "INT", "QUIT",
];

/// Maps an action string (and, for `kill`, its `signal` attribute) to its lifecycle meaning.
pub fn lifecycle_of(action: &str, signal: Option<&str>) -> Lifecycle {
    let verb = action.split(':').next().unwrap_or("").trim();
    match verb {
        "start" | "unpause" | "restart" => Lifecycle::Running,
        "kill" if signal.is_some_and(|s| !TERMINATING.contains(&s)) => Lifecycle::Ignored,
        "kill" | "stop" => Lifecycle::Stopping,
        "die" | "destroy" => Lifecycle::Stopped,
        "health_status" => match action.split(':').nth(1).map(str::trim) {
            Some("healthy") => Lifecycle::Healthy,
            Some("unhealthy") => Lifecycle::Unhealthy,
            _ => Lifecycle::Ignored,
        },
        _ => Lifecycle::Ignored,
    }
}

/// Converts a bollard event; `None` for events that are not about a container or have no id.
pub fn parse_event(msg: &EventMessage) -> Option<ContainerEvent> {
    if msg.typ != Some(EventMessageTypeEnum::CONTAINER) {
        return None;
    }
    let actor = msg.actor.as_ref()?;
    let id = actor.id.clone().filter(|id| !id.is_empty())?;
    let action = msg.action.clone().unwrap_or_default();
    let attributes = actor.attributes.clone().unwrap_or_default();
    Some(ContainerEvent {
        container_id: id,
        lifecycle: lifecycle_of(&action, attributes.get("signal").map(String::as_str)),
        action,
        attributes,
        time_nano: msg.time_nano,
    })
}

/// How long a draining watcher keeps reading stop events once none has come: at host shutdown or a spot
/// reclaim dockerd stops every container at once, so their `kill` events follow the agent's SIGTERM within
/// moments.
pub const DRAIN_QUIET: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest a draining watcher reads stop events (well inside the drain deadline).
pub const DRAIN_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a draining watcher reads stop events: until none has come for `quiet`, and never past `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainWindow {
    /// Stop reading once no stop event has come for this long.
    pub quiet: std::time::Duration,
    /// Stop reading after this long in any case.
    pub max: std::time::Duration,
}

impl Default for DrainWindow {
    /// [`DRAIN_QUIET`] and [`DRAIN_MAX`].
    fn default() -> Self {
        Self {
            quiet: DRAIN_QUIET,
            max: DRAIN_MAX,
        }
    }
}

impl DrainWindow {
    /// True when a draining watcher may stop reading: `quiet` without a stop event, or `max` in all.
    pub fn over(
        &self,
        since_drain: std::time::Duration,
        since_last_stop: std::time::Duration,
    ) -> bool {
        since_drain >= self.max || since_last_stop >= self.quiet
    }
}

/// Formats a `timeNano` for Docker's `since`: `<seconds>.<9-digit nanoseconds>` (a shorter fraction would be
/// right-padded by the daemon and mean something else).
pub fn since_param(time_nano: i64) -> String {
    format!(
        "{}.{:09}",
        time_nano.div_euclid(1_000_000_000),
        time_nano.rem_euclid(1_000_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> EventMessage {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn start_in_both_forms_parses_the_same() {
        let new = parse_event(&fixture("event_start.json")).unwrap();
        let legacy = parse_event(&fixture("event_start_legacy.json")).unwrap();
        assert_eq!(new, legacy);
        assert_eq!(new.lifecycle, Lifecycle::Running);
        assert_eq!(
            new.attributes["discovery.service.name"],
            "web.internal.example.com"
        );
        assert_eq!(new.time_nano, Some(1782760544767535449));
    }

    #[test]
    fn die_is_a_stop() {
        let die = parse_event(&fixture("event_die.json")).unwrap();
        assert_eq!(die.lifecycle, Lifecycle::Stopped);
        assert_eq!(die.attributes["exitCode"], "143");
    }

    #[test]
    fn actions_are_parsed_by_prefix() {
        assert_eq!(
            lifecycle_of("health_status: healthy", None),
            Lifecycle::Healthy
        );
        assert_eq!(
            lifecycle_of("health_status: unhealthy", None),
            Lifecycle::Unhealthy
        );
        assert_eq!(
            lifecycle_of("health_status: starting", None),
            Lifecycle::Ignored
        );
        assert_eq!(
            lifecycle_of("exec_start: sh -c true", None),
            Lifecycle::Ignored
        );
        assert_eq!(lifecycle_of("kill", Some("15")), Lifecycle::Stopping);
        assert_eq!(lifecycle_of("kill", Some("9")), Lifecycle::Stopping);
        assert_eq!(lifecycle_of("kill", None), Lifecycle::Stopping);
        assert_eq!(lifecycle_of("stop", None), Lifecycle::Stopping);
        assert_eq!(
            lifecycle_of("kill", Some("1")),
            Lifecycle::Ignored,
            "SIGHUP reloads, it does not stop"
        );
        assert_eq!(lifecycle_of("destroy", None), Lifecycle::Stopped);
        assert_eq!(
            lifecycle_of("oom", None),
            Lifecycle::Ignored,
            "die follows if the container exits"
        );
        assert_eq!(lifecycle_of("pause", None), Lifecycle::Ignored);
        assert_eq!(lifecycle_of("something-new", None), Lifecycle::Ignored);
    }

    #[test]
    fn network_events_are_not_container_events() {
        let raw = r#"{"Type":"network","Action":"connect","Actor":{"ID":"n1","Attributes":{"container":"c1","name":"bridge","type":"bridge"}}}"#;
        let msg: EventMessage = serde_json::from_str(raw).unwrap();
        assert_eq!(parse_event(&msg), None);
    }

    #[test]
    fn since_has_nine_digit_nanos() {
        assert_eq!(
            since_param(1_700_000_000_000_000_005),
            "1700000000.000000005"
        );
        assert_eq!(
            since_param(1_782_760_544_767_535_449),
            "1782760544.767535449"
        );
    }

    #[test]
    fn filter_asks_only_for_labelled_container_lifecycle_events() {
        let f = event_filters("discovery.service.name");
        assert_eq!(f["label"], vec!["discovery.service.name"]);
        assert!(!f["event"].iter().any(|e| e.starts_with("exec")));
    }

    #[test]
    fn a_drain_window_ends_when_stop_events_go_quiet_or_at_its_cap() {
        use std::time::Duration as D;
        let w = DrainWindow::default();
        assert!(!w.over(D::from_millis(300), D::from_millis(300)));
        assert!(w.over(D::from_millis(1200), DRAIN_QUIET));
        assert!(
            !w.over(D::from_secs(4), D::from_millis(200)),
            "stop events keep coming"
        );
        assert!(w.over(DRAIN_MAX, D::ZERO), "but never past the cap");
    }

    #[test]
    fn the_event_to_work_matrix() {
        use EventWork::{Run, Stopped, Stopping};
        let table = [
            (Lifecycle::Running, None, Some(Run)),
            (Lifecycle::Stopping, None, Some(Stopping)),
            (Lifecycle::Stopped, None, Some(Stopped)),
            (Lifecycle::Ignored, None, None),
            (Lifecycle::Healthy, Some(false), None),
            (Lifecycle::Healthy, Some(true), Some(Run)),
            (Lifecycle::Unhealthy, Some(false), None),
            (Lifecycle::Unhealthy, Some(true), Some(Stopping)),
        ];
        for (lifecycle, health, want) in table {
            for wait in health.map_or(vec![false, true], |h| vec![h]) {
                assert_eq!(
                    event_work(lifecycle, wait),
                    want,
                    "{lifecycle:?}, wait for health: {wait}"
                );
            }
        }
    }
}
