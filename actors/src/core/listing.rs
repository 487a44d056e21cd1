//! A listing of running containers against the event stream: which containers a listing may stop or start.
//!
//! A periodic listing runs while events keep arriving. A container that started during the list call is not in
//! it, and one that died during it may still be; the listing must not override such a container's newer event.
//! Each event gets a sequence number; a listing is stamped with the number current when it was requested, and a
//! container whose latest event is newer than that is left to its event.
//!
//! Listings can also answer out of order (a periodic one still under way when a reconnect lists again): each is
//! numbered when it is asked for ([`Tickets`]), and one that answers after a later-asked one was applied is
//! dropped, since its view is older and the event bookkeeping it would need is gone.

use std::collections::{HashMap, HashSet};

/// The latest event of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Its sequence number.
    pub seq: u64,
    /// Whether it said the container runs (start) or not (kill, stop, die).
    pub running: bool,
    /// Whether it said the container has exited or is gone (die, destroy), not only that it is being stopped.
    pub exited: bool,
}

impl Seen {
    /// True while the container still runs by this event: it started, or it is being stopped but has not
    /// exited (a stopping container keeps its records until its deregistration delay has passed).
    pub fn still_running(&self) -> bool {
        self.running || !self.exited
    }
}

/// What a listing asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListingWork {
    /// Known containers the listing no longer finds: stop them.
    pub stopped: Vec<String>,
    /// Listed containers to hand to their registrar as running.
    pub running: Vec<String>,
    /// Listed containers whose records the listing keeps: those it hands on as running, and those being stopped
    /// that have not exited (their records go with their delayed deregistration, not with the listing).
    pub keep: Vec<String>,
}

/// The work a listing requested at event number `listed_at` calls for, given the containers known as running,
/// the latest event of each container, and the listed ids.
pub fn listing_work(
    known: &HashSet<String>,
    seen: &HashMap<String, Seen>,
    listed: &[String],
    listed_at: u64,
) -> ListingWork {
    let newer = |id: &str| seen.get(id).filter(|s| s.seq > listed_at);
    let listed_set: HashSet<&str> = listed.iter().map(String::as_str).collect();
    let mut stopped: Vec<String> = known
        .iter()
        .filter(|id| !listed_set.contains(id.as_str()) && newer(id).is_none())
        .cloned()
        .collect();
    stopped.sort();
    let running = listed
        .iter()
        .filter(|id| newer(id).is_none_or(|s| s.running))
        .cloned()
        .collect();
    let keep = listed
        .iter()
        .filter(|id| newer(id).is_none_or(Seen::still_running))
        .cloned()
        .collect();
    ListingWork {
        stopped,
        running,
        keep,
    }
}

/// Numbers listings as they are asked for, and admits an answer only if no later-asked listing was applied.
#[derive(Debug, Default)]
pub struct Tickets {
    issued: u64,
    applied: u64,
}

impl Tickets {
    /// The number of a listing asked for now.
    pub fn issue(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    /// A listing that supersedes every one asked before it (the reconnect's: the event stream resumes from it);
    /// their answers are dropped from now on.
    pub fn supersede(&mut self) {
        self.issued += 1;
        self.applied = self.issued;
    }

    /// True (and remembered) when listing `ticket` may be applied: no later-asked listing has been.
    pub fn admit(&mut self, ticket: u64) -> bool {
        if ticket < self.applied {
            return false;
        }
        self.applied = ticket;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_being_stopped_during_the_list_call_keeps_its_records_until_it_exits() {
        let seen = |exited| {
            HashMap::from([(
                "c".to_string(),
                Seen {
                    seq: 12,
                    running: false,
                    exited,
                },
            )])
        };
        let work = listing_work(&HashSet::new(), &seen(false), &ids(&["c"]), 10);
        assert_eq!(
            (work.running, work.keep),
            (vec![], ids(&["c"])),
            "killed, not exited"
        );
        let work = listing_work(&HashSet::new(), &seen(true), &ids(&["c"]), 10);
        assert_eq!(work.keep, Vec::<String>::new(), "exited");
    }

    #[test]
    fn a_listing_that_answers_after_a_later_asked_one_is_dropped() {
        let mut t = Tickets::default();
        let (first, second, third) = (t.issue(), t.issue(), t.issue());
        assert!(t.admit(second));
        assert!(!t.admit(first), "older view, answered late");
        assert!(t.admit(third));
        assert!(!t.admit(second), "admitted once; a later one since");
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_container_started_during_the_list_call_is_not_stopped_by_it() {
        let known = HashSet::from(["old".to_string(), "new".to_string()]);
        let seen = HashMap::from([(
            "new".to_string(),
            Seen {
                seq: 11,
                running: true,
                exited: false,
            },
        )]);
        let work = listing_work(&known, &seen, &ids(&["old"]), 10);
        assert!(
            work.stopped.is_empty(),
            "the start (event 11) is newer than the listing (10): {work:?}"
        );
        assert_eq!(work.running, ids(&["old"]));
    }

    #[test]
    fn a_container_that_died_during_the_list_call_is_not_started_again() {
        let known = HashSet::new();
        let seen = HashMap::from([(
            "dead".to_string(),
            Seen {
                seq: 12,
                running: false,
                exited: true,
            },
        )]);
        let work = listing_work(&known, &seen, &ids(&["dead", "live"]), 10);
        assert_eq!(work.running, ids(&["live"]));
    }

    #[test]
    fn older_events_leave_the_listing_in_charge() {
        let known = HashSet::from(["gone".to_string()]);
        let seen = HashMap::from([
            (
                "gone".to_string(),
                Seen {
                    seq: 3,
                    running: true,
                    exited: false,
                },
            ),
            (
                "back".to_string(),
                Seen {
                    seq: 4,
                    running: false,
                    exited: true,
                },
            ),
        ]);
        let work = listing_work(&known, &seen, &ids(&["back"]), 10);
        assert_eq!(work.stopped, ids(&["gone"]));
        assert_eq!(work.running, ids(&["back"]));
    }
}
