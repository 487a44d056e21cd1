//! Cross-cutting lifecycle messages every actor sends to the `SupervisorActor`, and the handle they send them with.
//!
//! All other messages live beside the actor that receives them.

use actix::{Message, Recipient};

/// An actor hit an unrecoverable failure: the supervisor starts the drain and the agent exits non-zero.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ActorFailed {
    /// Which actor (`route53`, `event_watcher`, ...).
    pub actor: &'static str,
    /// What went wrong, with its causes, for the operator.
    pub error: String,
}

/// An actor finished: its mailbox drained and its in-flight work completed.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ActorStopped {
    /// Which actor.
    pub actor: &'static str,
}

/// What a pipeline actor holds to talk to the supervisor. Cheap to clone; holds no pipeline addresses.
#[derive(Clone)]
pub struct Reporter {
    failed: Recipient<ActorFailed>,
    stopped: Recipient<ActorStopped>,
}

impl Reporter {
    /// A reporter that sends to these recipients (the supervisor, or a test probe).
    pub fn new(failed: Recipient<ActorFailed>, stopped: Recipient<ActorStopped>) -> Self {
        Self { failed, stopped }
    }

    /// Reports an unrecoverable failure.
    pub fn failed(&self, actor: &'static str, error: impl std::fmt::Display) {
        tracing::error!(actor, error = %error, "Unrecoverable failure; the agent will drain and exit.");
        self.failed.do_send(ActorFailed {
            actor,
            error: error.to_string(),
        });
    }

    /// Reports that an actor has stopped.
    pub fn stopped(&self, actor: &'static str) {
        self.stopped.do_send(ActorStopped { actor });
    }
}

/// A supervisor stand-in for tests and benchmarks: collects the failures actors report and counts the actors that
/// stopped.
#[cfg(any(test, feature = "test-util"))]
pub mod probe {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use actix::prelude::*;

    use super::{ActorFailed, ActorStopped, Reporter};

    /// Failures reported so far.
    pub type Failures = Arc<Mutex<Vec<String>>>;

    /// What the actors reported: failures, and how many of each actor stopped.
    #[derive(Default, Clone)]
    pub struct Probe {
        failures: Failures,
        stopped: Arc<Mutex<HashMap<&'static str, usize>>>,
    }

    struct ProbeActor(Probe);

    impl Actor for ProbeActor {
        type Context = Context<Self>;
    }

    impl Handler<ActorFailed> for ProbeActor {
        type Result = ();
        fn handle(&mut self, msg: ActorFailed, _: &mut Context<Self>) {
            let mut f = self.0.failures.lock().unwrap_or_else(|p| p.into_inner());
            f.push(msg.error);
        }
    }

    impl Handler<ActorStopped> for ProbeActor {
        type Result = ();
        fn handle(&mut self, msg: ActorStopped, _: &mut Context<Self>) {
            let mut s = self.0.stopped.lock().unwrap_or_else(|p| p.into_inner());
            *s.entry(msg.actor).or_default() += 1;
        }
    }

    impl Probe {
        /// A reporter whose messages land in this probe (call inside an actix system).
        pub fn reporter(&self) -> Reporter {
            let addr = ProbeActor(self.clone()).start();
            Reporter::new(addr.clone().recipient(), addr.recipient())
        }

        /// The failures reported so far.
        pub fn failures(&self) -> Vec<String> {
            self.failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        }

        /// How many actors named `actor` have stopped.
        pub fn stopped(&self, actor: &str) -> usize {
            self.stopped_counts().get(actor).copied().unwrap_or(0)
        }

        /// How many of each actor have stopped.
        pub fn stopped_counts(&self) -> HashMap<&'static str, usize> {
            self.stopped
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        }
    }

    /// A reporter whose failures land in the returned list (start it inside an actix system).
    pub fn reporter() -> (Reporter, Failures) {
        let probe = Probe::default();
        (probe.reporter(), probe.failures.clone())
    }
}
