//! The writer's schedule over injected instants: backoffs, quarantine, rechecks (the later window wins, one name
//! at a time), the verification and its spread, the drain and the next wake.

use super::*;
use crate::core::record::RecordType;

fn key(n: u8) -> RecordKey {
    RecordKey {
        name: "web.example.com.".into(),
        record_type: RecordType::A,
        set_identifier: format!("r53d:prod:me:t-{n}"),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn no_request_during_a_backoff() {
    let (mut s, t) = (Schedule::default(), Instant::now());
    assert!(s.ready(t));
    s.back_off(t + ms(250));
    assert!(!s.ready(t + ms(249)));
    assert_eq!(s.next_wake(), Some(t + ms(250)));
    assert!(s.ready(t + ms(250)));
    assert_eq!(s.next_wake(), None, "a backoff that ran out is over");
    s.back_off(t + ms(500));
    s.succeeded();
    assert_eq!(s.next_wake(), None);
}

#[test]
fn flush_accounting_counts_received_and_attempted_changes() {
    let mut s = Schedule::default();
    assert_eq!((s.received(), s.received()), (1, 2));
    assert_eq!(s.queued(), 2);
    assert_eq!(s.complete(1), 1);
    assert_eq!(s.complete(0), 1, "never goes back");
    assert_eq!((s.latest(), s.done(), s.queued()), (2, 1, 1));
}

#[test]
fn quarantined_keys_come_back_when_due() {
    let (mut s, t) = (Schedule::default(), Instant::now());
    s.quarantine([key(1)], t + ms(100));
    s.quarantine([key(2)], t + ms(300));
    assert_eq!(s.next_wake(), Some(t + ms(100)));
    assert_eq!(s.release_quarantine(t + ms(50)), vec![]);
    assert_eq!(s.release_quarantine(t + ms(100)), vec![key(1)]);
    assert_eq!(s.next_wake(), Some(t + ms(300)));
    s.back_off(t + ms(900));
    assert_eq!(
        s.next_wake(),
        Some(t + ms(900)),
        "a due key waits for the backoff, without waking before"
    );
}

#[test]
fn a_name_rechecked_twice_waits_for_the_later_window_and_due_names_come_one_at_a_time() {
    let (mut s, t) = (Schedule::default(), Instant::now());
    s.recheck_at(["a.".to_string()], t + ms(400));
    s.recheck_at(
        ["a.".to_string(), "b.".to_string(), "c.".to_string()],
        t + ms(100),
    );
    assert_eq!(s.next_wake(), Some(t + ms(100)));
    assert_eq!(s.take_due_recheck(t + ms(50)), None);
    let first = s.take_due_recheck(t + ms(100));
    let second = s.take_due_recheck(t + ms(100));
    assert_eq!(
        BTreeSet::from([first.unwrap(), second.unwrap()]),
        BTreeSet::from(["b.".to_string(), "c.".to_string()])
    );
    assert_eq!(
        s.take_due_recheck(t + ms(399)),
        None,
        "a. waits for its later window"
    );
    assert!(s.recheck_pending("a."));
    assert_eq!(s.take_due_recheck(t + ms(400)), Some("a.".to_string()));
    assert_eq!(s.next_wake(), None);
}

#[test]
fn a_verification_round_spreads_its_names_evenly_over_the_spread() {
    let t = Instant::now();
    let names: BTreeSet<String> = (0..4).map(|n| format!("n{n}.")).collect();
    let round = verify_round(&names, t, ms(4000));
    let times: Vec<Duration> = round.iter().map(|(_, at)| *at - t).collect();
    assert_eq!(times, vec![ms(0), ms(1000), ms(2000), ms(3000)]);
    assert!(verify_round(&BTreeSet::new(), t, ms(4000)).is_empty());
}

#[test]
fn nothing_wakes_the_writer_before_a_running_backoff_ends() {
    let (mut s, t) = (Schedule::default(), Instant::now());
    s.recheck_at(["a.".to_string()], t);
    s.verify_at(t + ms(10));
    s.back_off(t + ms(700));
    assert_eq!(
        s.next_wake(),
        Some(t + ms(700)),
        "a due recheck waits for the backoff"
    );
    assert!(s.ready(t + ms(700)));
    assert_eq!(s.next_wake(), Some(t));
}

#[test]
fn the_verification_fires_once_when_due() {
    let (mut s, t) = (Schedule::default(), Instant::now());
    s.verify_at(t + ms(1000));
    assert!(!s.take_verify(t));
    assert!(s.take_verify(t + ms(1000)));
    assert!(!s.take_verify(t + ms(2000)), "until the next one is set");
}

#[test]
fn a_drain_drops_the_checks_but_not_a_backoff_of_pending_changes() {
    let (mut s, t) = (Schedule::default(), Instant::now());
    s.recheck_at(["a.".to_string()], t + ms(100));
    s.verify_at(t + ms(100));
    s.quarantine([key(1)], t + ms(100));
    s.back_off(t + ms(700));
    s.drain();
    assert_eq!(s.next_wake(), Some(t + ms(700)));
}

#[test]
fn a_small_fleet_verifies_at_the_configured_interval_and_a_large_one_within_its_budget() {
    let five_min = Duration::from_secs(300);
    assert_eq!(
        verify_interval(five_min, 20, 2, 0.25),
        five_min,
        "20 x 2 / 0.25 = 160 s < 5 min"
    );
    assert_eq!(
        verify_interval(five_min, 200, 2, 0.25),
        Duration::from_secs(1600)
    );
    assert_eq!(
        verify_interval(five_min, 2000, 2, 0.25),
        Duration::from_secs(16_000)
    );
    // The fleet's rate: 2000 owners x 2 names / 16 000 s = 0.25 requests/s.
    assert_eq!(
        verify_interval(five_min, 100_000, 50, 0.25),
        MAX_VERIFY_INTERVAL,
        "capped at a day"
    );
    assert_eq!(
        verify_interval(five_min, 0, 0, 0.25),
        five_min,
        "nothing known yet: at least one owner, one name"
    );
    let two_days = Duration::from_secs(172_800);
    assert_eq!(
        verify_interval(two_days, 1, 1, 0.25),
        two_days,
        "a configured interval longer than a day stays"
    );
    assert_eq!(
        verify_interval(five_min, 1, 1, 0.0),
        MAX_VERIFY_INTERVAL,
        "no budget"
    );
}

#[test]
fn an_agent_verifies_within_its_own_reads_per_hour() {
    assert_eq!(agent_verify_floor(1, Some(4.0)), Duration::from_secs(900));
    assert_eq!(agent_verify_floor(3, Some(4.0)), Duration::from_secs(2700));
    assert_eq!(
        agent_verify_floor(0, Some(4.0)),
        Duration::from_secs(900),
        "at least one name"
    );
    assert_eq!(
        agent_verify_floor(5, None),
        Duration::ZERO,
        "no per-agent limit"
    );
    assert_eq!(agent_verify_floor(10, Some(1e-9)), MAX_VERIFY_INTERVAL);
}
