//! The registrar's book over injected instants: generations, re-runs, retries, delayed deregistration, drains.

use super::*;

const ID: &str = "c1";

fn labels(v: &str) -> Labels {
    Labels::from([("discovery.service.name".to_string(), v.to_string())])
}

fn book(delay_ms: u64) -> Book {
    Book::new(
        2,
        Duration::from_millis(500),
        Duration::from_millis(delay_ms),
    )
}

fn lookup_of(step: Step) -> Lookup {
    match step {
        Step::Lookup(l) => l,
        other => panic!("expected a lookup, got {other:?}"),
    }
}

fn start(b: &mut Book, now: Instant, v: &str) -> Lookup {
    let l = lookup_of(b.on_event(ID, Event::Running(labels(v)), now));
    b.started(&l);
    l
}

#[test]
fn an_answer_is_applied_unless_a_newer_event_came() {
    let (mut b, t) = (book(0), Instant::now());
    let l = start(&mut b, t, "web");
    assert!(!b.idle());
    assert_eq!(
        b.finished(&l, Outcome::Answered),
        Next::Apply { rerun: None }
    );
    assert!(b.idle());
    let l = start(&mut b, t, "web");
    let stop = b.on_event(ID, Event::Stopped, t);
    assert_eq!(
        stop,
        Step::Deregister(Stop {
            container_id: ID.into()
        })
    );
    assert_eq!(
        b.finished(&l, Outcome::Answered),
        Next::Stale,
        "the stop came after the lookup began"
    );
    assert!(b.idle());
}

#[test]
fn a_running_during_a_lookup_runs_once_more_after_it() {
    let (mut b, t) = (book(0), Instant::now());
    let l = start(&mut b, t, "web");
    assert_eq!(
        b.on_event(ID, Event::Running(labels("api")), t),
        Step::Queued
    );
    assert_eq!(
        b.on_event(ID, Event::Running(labels("api2")), t),
        Step::Queued,
        "still one"
    );
    let Next::Apply { rerun: Some(again) } = b.finished(&l, Outcome::Answered) else {
        panic!("expected a re-run")
    };
    assert_eq!((again.attempt, again.labels.clone()), (0, labels("api2")));
    assert!(b.is_current(&again));
}

#[test]
fn a_failed_lookup_is_retried_after_the_delay_or_at_once_when_an_event_came_and_gives_up_at_the_budget(
) {
    let (mut b, t) = (book(0), Instant::now());
    let l = start(&mut b, t, "web");
    let Next::Retry { lookup: l1, after } = b.finished(&l, Outcome::Failed) else {
        panic!("expected a retry")
    };
    assert_eq!((l1.attempt, after), (1, Duration::from_millis(500)));
    b.started(&l1);
    assert_eq!(
        b.on_event(ID, Event::Running(labels("web")), t),
        Step::Queued
    );
    let Next::Retry { lookup: l2, after } = b.finished(&l1, Outcome::Failed) else {
        panic!("expected a retry")
    };
    assert_eq!(
        (l2.attempt, after),
        (2, Duration::ZERO),
        "the event is the retry, at once"
    );
    b.started(&l2);
    assert_eq!(b.finished(&l2, Outcome::Failed), Next::GiveUp);
}

#[test]
fn a_retry_that_a_stop_superseded_is_not_current() {
    let (mut b, t) = (book(0), Instant::now());
    let l = start(&mut b, t, "web");
    let Next::Retry { lookup: l1, .. } = b.finished(&l, Outcome::Failed) else {
        panic!("expected a retry")
    };
    b.on_event(ID, Event::Stopped, t);
    assert!(!b.is_current(&l1));
    let l = start(&mut b, t, "web");
    assert!(!b.is_current(&l1), "nor after a new start");
    assert!(b.is_current(&l));
}

#[test]
fn a_stopping_container_keeps_its_record_until_the_delay_and_a_newer_event_cancels_it() {
    let (mut b, t) = (book(2000), Instant::now());
    let l = start(&mut b, t, "web");
    b.finished(&l, Outcome::Answered);
    assert_eq!(
        b.on_event(ID, Event::Stopping, t),
        Step::DeregisterAt(t + Duration::from_secs(2))
    );
    assert_eq!(b.due(t + Duration::from_secs(1), false), vec![]);
    let stops = b.due(t + Duration::from_secs(2), false);
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].container_id, ID);
    assert!(!b.has_delayed());
    // A restart during the wait cancels it.
    let l = start(&mut b, t, "web");
    b.finished(&l, Outcome::Answered);
    b.on_event(ID, Event::Stopping, t);
    start(&mut b, t + Duration::from_millis(10), "web");
    assert_eq!(b.due(t + Duration::from_secs(5), false), vec![]);
}

#[test]
fn a_drain_sends_every_waiting_deregistration_and_die_cuts_a_wait_short() {
    let (mut b, t) = (book(60_000), Instant::now());
    for id in ["a", "b"] {
        let l = lookup_of(b.on_event(id, Event::Running(labels("web")), t));
        b.started(&l);
        b.finished(&l, Outcome::Answered);
        b.on_event(id, Event::Stopping, t);
    }
    let die = b.on_event("a", Event::Stopped, t);
    assert!(matches!(die, Step::Deregister(Stop { ref container_id, .. }) if container_id == "a"));
    let stops = b.due(t, true);
    assert_eq!(
        stops
            .iter()
            .map(|s| s.container_id.as_str())
            .collect::<Vec<_>>(),
        vec!["b"]
    );
}

#[test]
fn a_stop_without_a_lookup_here_deregisters_at_once() {
    let (mut b, t) = (book(0), Instant::now());
    assert_eq!(
        b.on_event(ID, Event::Stopped, t),
        Step::Deregister(Stop {
            container_id: ID.into()
        })
    );
}
