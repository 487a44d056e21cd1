//! The messages the Route53 writer receives: registrations, deregistrations, the launch sweep, listing
//! protection and flush barriers, and [`WriterLink`], the writer as its senders hold it.

use std::collections::BTreeMap;
use std::time::Instant;

use actix::{Actor, Addr, Context, Handler, Message, Recipient};

use crate::core::claim::Claim;
use crate::core::record::Record;

/// Container `container_id` runs and should have exactly `records` (its A, AAAA and SRV records and the SRV
/// target's address records); records it held before and no longer lists go.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Register {
    /// Full container id.
    pub container_id: String,
    /// The records it should have.
    pub records: Vec<Record>,
}

/// Container `container_id` runs but must have no records now (unhealthy in `healthy` mode, not running, its task
/// stopping): its records go, and so do those an earlier agent wrote that its [`Claim`] covers; listings do not
/// protect them until the container registers records again or stops. The other containers of its task keep
/// theirs.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Withhold {
    /// Full container id.
    pub container_id: String,
}

/// Container `container_id` stopped; remove its records (unless another container of the task holds them), and
/// those an earlier agent wrote that its [`Claim`] covers.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Deregister {
    /// Full container id.
    pub container_id: String,
}

/// Launch sync: delete this owner's records that no running container holds and `keep` does not protect.
/// Answers how many were stale.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct Sweep {
    /// Claims of the running labelled containers, registered or not yet registered, by container id.
    pub keep: BTreeMap<String, Claim>,
}

/// A periodic listing found these containers running: the records claimed by those not registered (yet) are
/// kept, and records of containers no longer listed lose that protection (the record book's `protect`).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Protect {
    /// Claims of the running labelled containers, by container id.
    pub running: BTreeMap<String, Claim>,
}

/// Answers once every change sent to the writer before it has been attempted.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Flush;

/// A writer message with the instant the Docker event (or listing) behind it reached the event watcher, on
/// [`writer_now`]'s clock: the start of `r53d_event_to_change_seconds` for the records it changes.
#[derive(Debug)]
pub struct Stamped<M> {
    /// The message.
    pub msg: M,
    /// When its event was received.
    pub received: Instant,
}

impl<M> Message for Stamped<M> {
    type Result = ();
}

/// The writer's clock: tokio's, so that in a paused test runtime receipt stamps and the writer agree.
pub fn writer_now() -> Instant {
    actix_rt::time::Instant::now().into_std()
}

/// The writer as its senders see it: one [`Recipient`] per message, so the watcher and the registrars can be
/// tested against a fake writer (or the real one over an in-memory zone).
#[derive(Clone)]
pub struct WriterLink {
    /// [`Register`].
    pub register: Recipient<Stamped<Register>>,
    /// [`Withhold`].
    pub withhold: Recipient<Stamped<Withhold>>,
    /// [`Deregister`].
    pub deregister: Recipient<Stamped<Deregister>>,
    /// [`Protect`].
    pub protect: Recipient<Protect>,
    /// [`Sweep`].
    pub sweep: Recipient<Sweep>,
    /// [`Flush`].
    pub flush: Recipient<Flush>,
}

impl WriterLink {
    /// The link to an actor that handles every writer message.
    pub fn to<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<Stamped<Register>>
            + Handler<Stamped<Withhold>>
            + Handler<Stamped<Deregister>>
            + Handler<Protect>
            + Handler<Sweep>
            + Handler<Flush>,
    {
        Self {
            register: addr.clone().recipient(),
            withhold: addr.clone().recipient(),
            deregister: addr.clone().recipient(),
            protect: addr.clone().recipient(),
            sweep: addr.clone().recipient(),
            flush: addr.clone().recipient(),
        }
    }
}
