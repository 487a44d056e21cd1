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
