//! The janitor is a live agent, end to end: an instance where no agent runs (a daemon task still pending), or
//! whose agent has the janitor off, is never elected, however low its id; a live agent with the janitor on is,
//! and cleans. Candidacy is an ECS attribute on the agent's own container instance in moto, put at the first
//! cycle and withdrawn at a graceful stop.

use std::time::Duration;

use super::{cycles, Fleet};
use crate::support::agent::{free_port, Agent};

/// The counter `name`'s value in a `/metrics` body.
fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

#[test]
fn the_lowest_instances_without_a_janitor_agent_are_passed_over_and_a_live_one_cleans() {
    let f = Fleet::new("jan-elect", 4);
    // ids[0]: no agent runs there. ids[1]: an agent with the janitor off. ids[2]: a live janitor.
    let (off, on, dead) = (&f.ids[1], &f.ids[2], &f.ids[3]);
    let recs = f.put_owned(&[dead]);
    let port = free_port();
    let mut off_agent = Agent::start(&f.config(off, port, &f.spy, "enabled = false"), port);
    off_agent.wait_ready();
    let mut agent = f.agent(on, f.w.port, &f.spy);
    f.w.wait_records(recs);
    f.ecs.deregister(&f.cluster, dead);
    f.w.wait_records(vec![]);
    let logs = agent.logs();
    assert!(
        logs.contains("Announced this agent as a janitor candidate"),
        "{logs}"
    );
    assert!(logs.contains("Removed record of a dead owner"), "{logs}");
    assert!(!logs.contains("No janitor this cycle"), "{logs}");
    let (_, body) = agent.get("/metrics").expect("/metrics answers");
    assert!(
        metric(&body, "r53d_janitor_elections_won_total") >= 1.0,
        "{body}"
    );
    assert_eq!(
        metric(&body, "r53d_janitor_elections_lost_total"),
        0.0,
        "{body}"
    );
    assert_eq!(
        f.spy.count("PutAttributes"),
        1,
        "one announcement: {}",
        f.spy.summary()
    );
    assert!(!off_agent.logs().contains("Janitor cycle done."));
    // A graceful stop withdraws the candidacy (moto keeps a custom attribute deleted without its value, so
    // only the request is checked here; the fake ECS checks the effect).
    agent.terminate();
    assert!(agent.wait_exit(Duration::from_secs(15)).success());
    assert!(
        agent
            .logs()
            .contains("Withdrew this agent's janitor candidacy."),
        "{}",
        agent.logs()
    );
    assert_eq!(f.spy.count("DeleteAttributes"), 1, "{}", f.spy.summary());
    off_agent.terminate();
    assert!(off_agent.wait_exit(Duration::from_secs(15)).success());
    assert_eq!(
        f.spy.count("DeleteAttributes"),
        1,
        "the janitor-off agent asks ECS nothing"
    );
    eprintln!(
        "janitor-election: {} elected cycles; {}",
        cycles(&agent),
        f.spy.summary()
    );
}
