//! One registrar's book of its containers, as a pure state machine over injected instants: which event is each
//! container's latest (its generation), which lookups are under way, which lookup runs once more when the one
//! under way ends, and which stopping containers keep their records until when. The registrar actor only does the
//! I/O each step asks for.
//!
//! Rules (docs/how-it-works.md, event semantics):
//! * A lookup's answer is applied only if no newer event of its container came meanwhile (events of one
//!   container take effect in order although lookups run side by side).
//! * A `Running` while a lookup of the container is under way starts no second one beside it, but one more after
//!   it; after a failed lookup that re-run is the retry, at once, and counts against the retry budget.
//! * A stopping container (still running) keeps its record until the deregistration delay has passed; any newer
//!   event cancels the wait; a drain sends every waiting deregistration at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Labels of a container.
pub type Labels = HashMap<String, String>;

/// What happened to a container, as the registrar is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// It runs: look it up and register it.
    Running(Labels),
    /// It is being stopped (or turned unhealthy) and still runs.
    Stopping,
    /// It exited or is gone.
    Stopped,
}

/// A lookup to run: the glue computes the identity, asks for the address and reports back with the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Full container id.
    pub container_id: String,
    /// Its labels.
    pub labels: Labels,
    /// 0 for the first try.
    pub attempt: u32,
    /// The container's latest event when the lookup was asked for.
    pub generation: u64,
}

/// A deregistration to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// Full container id.
    pub container_id: String,
}

impl Stop {
    fn of(container_id: &str) -> Self {
        Self {
            container_id: container_id.to_string(),
        }
    }
}

/// What an event asks the glue to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Start this lookup.
    Lookup(Lookup),
    /// Nothing now: a lookup is under way and runs once more after it.
    Queued,
    /// Deregister now.
    Deregister(Stop),
    /// Deregister at this instant unless a newer event comes (the glue arms a timer and calls [`Book::due`]).
    DeregisterAt(Instant),
}

/// How a lookup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It answered (publish or skip).
    Answered,
    /// It failed for a reason worth trying again.
    Failed,
}

/// What to do with a lookup's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A newer event superseded it: drop the answer.
    Stale,
    /// Apply the answer; then start `rerun`, if an event came during the lookup.
    Apply {
        /// The lookup to start after applying.
        rerun: Option<Lookup>,
    },
    /// Failed: try `lookup` again after `after` (zero when an event came meanwhile).
    Retry {
        /// The next attempt.
        lookup: Lookup,
        /// Its delay.
        after: Duration,
    },
    /// Failed past the retry budget: give up until the next listing.
    GiveUp,
}

/// One registrar's containers.
#[derive(Debug, Default)]
pub struct Book {
    counter: u64,
    /// The generation of each running container's latest event.
    latest: HashMap<String, u64>,
    /// Lookups under way per container.
    looking: HashMap<String, usize>,
    /// Containers to look up once more when their lookup under way ends.
    again: HashMap<String, Labels>,
    /// Stopping containers and when their records go.
    delayed: HashMap<String, Instant>,
    retries: u32,
    retry_delay: Duration,
    deregister_delay: Duration,
}

impl Book {
    /// A book with this retry budget, retry delay and deregistration delay.
    pub fn new(retries: u32, retry_delay: Duration, deregister_delay: Duration) -> Self {
        Self {
            retries,
            retry_delay,
            deregister_delay,
            ..Self::default()
        }
    }

    /// Takes an event of `container_id` at `now`.
    pub fn on_event(&mut self, container_id: &str, event: Event, now: Instant) -> Step {
        self.counter += 1;
        self.delayed.remove(container_id);
        let labels = match event {
            Event::Running(labels) => labels,
            Event::Stopping if !self.deregister_delay.is_zero() => {
                self.forget(container_id);
                let at = now + self.deregister_delay;
                self.delayed.insert(container_id.to_string(), at);
                return Step::DeregisterAt(at);
            }
            Event::Stopping | Event::Stopped => {
                self.forget(container_id);
                return Step::Deregister(Stop::of(container_id));
            }
        };
        if self.latest.contains_key(container_id) && self.looking.contains_key(container_id) {
            self.again.insert(container_id.to_string(), labels);
            return Step::Queued;
        }
        self.latest.insert(container_id.to_string(), self.counter);
        Step::Lookup(self.lookup(container_id, labels, 0))
    }

    /// The glue started `lookup`.
    pub fn started(&mut self, lookup: &Lookup) {
        let id = lookup.container_id.clone();
        *self.looking.entry(id).or_insert(0) += 1;
    }

    /// `lookup` ended with `outcome`: what to do with its answer.
    pub fn finished(&mut self, lookup: &Lookup, outcome: Outcome) -> Next {
        let id = lookup.container_id.as_str();
        if let Some(n) = self.looking.get_mut(id) {
            *n -= 1;
            if *n == 0 {
                self.looking.remove(id);
            }
        }
        if !self.is_current(lookup) {
            return Next::Stale;
        }
        let again = self.again.remove(id);
        match outcome {
            Outcome::Answered => Next::Apply {
                rerun: again.map(|labels| self.lookup(id, labels, 0)),
            },
            Outcome::Failed if lookup.attempt < self.retries => {
                let (after, labels) = match again {
                    Some(labels) => (Duration::ZERO, labels),
                    None => (self.retry_delay, lookup.labels.clone()),
                };
                let next = self.lookup(id, labels, lookup.attempt + 1);
                Next::Retry {
                    lookup: next,
                    after,
                }
            }
            Outcome::Failed => Next::GiveUp,
        }
    }

    /// True when `lookup` still answers the container's latest event (a retry that is due runs only then).
    pub fn is_current(&self, lookup: &Lookup) -> bool {
        self.latest.get(&lookup.container_id) == Some(&lookup.generation)
    }

    /// The deregistrations due at `now` (all of them when `draining`).
    pub fn due(&mut self, now: Instant, draining: bool) -> Vec<Stop> {
        let mut due: Vec<String> = self
            .delayed
            .iter()
            .filter(|(_, t)| draining || **t <= now)
            .map(|(id, _)| id.clone())
            .collect();
        due.sort();
        due.iter()
            .map(|id| {
                self.delayed.remove(id);
                Stop::of(id)
            })
            .collect()
    }

    /// True while a deregistration waits for its delay.
    pub fn has_delayed(&self) -> bool {
        !self.delayed.is_empty()
    }

    /// True when no lookup is under way.
    pub fn idle(&self) -> bool {
        self.looking.is_empty()
    }

    fn lookup(&self, container_id: &str, labels: Labels, attempt: u32) -> Lookup {
        Lookup {
            container_id: container_id.to_string(),
            labels,
            attempt,
            generation: self.latest.get(container_id).copied().unwrap_or(0),
        }
    }

    /// A stop event: the container's lookups and queued re-run are superseded.
    fn forget(&mut self, container_id: &str) {
        self.latest.remove(container_id);
        self.again.remove(container_id);
    }
}

#[cfg(test)]
#[path = "lifecycle/tests.rs"]
mod tests;
