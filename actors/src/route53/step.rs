//! What the writer does next. Sends come first: deletes, and upserts into names already known, go out while
//! other names still wait to be read. A name is read before a first upsert into it (other writers' TTL and the
//! group's size are learnt), and before any change after its fate became unsure (a timeout, a refused batch);
//! names only this owner can hold (the SRV targets it writes) are never read first; upserts that could go wait
//! for at most [`GATHER_READS`] successful reads of other names, so a burst of new names goes in a few batches. Then due
//! rechecks, then a page of the launch read.

use std::collections::{BTreeSet, HashSet};
use std::time::Instant;

use super::writer::Writer;
use crate::core::ownership::Owner;
use crate::core::plan::Change;
use crate::core::record::RecordKey;

/// The writer's next step.
#[derive(Debug)]
pub(super) enum Step {
    /// Send these changes (in batches).
    Send(Vec<Change>),
    /// Read this name.
    Read(String, Why),
    /// Read the next page of the launch read.
    Page,
    /// Nothing to do before this instant (`None`: before a message).
    Wait(Option<Instant>),
}

/// Why a name is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// A change waits for it.
    Before,
    /// Its recheck or verification is due: what differs from the book is drift.
    Recheck,
}

/// The names the writer knows about.
#[derive(Debug, Default)]
pub(super) struct Names {
    /// Read in this run (by the launch read or since), and not forgotten since.
    known: HashSet<String>,
    /// Must be read before any change goes into them.
    unsure: BTreeSet<String>,
}

impl Names {
    /// `name` was read: its state is known.
    pub(super) fn learned(&mut self, name: &str) {
        self.unsure.remove(name);
        self.known.insert(name.to_string());
    }

    /// Names a full read found.
    pub(super) fn learned_all(&mut self, names: impl IntoIterator<Item = String>) {
        self.known.extend(names);
    }

    /// What Route53 holds under `names` is in doubt until they are read again.
    pub(super) fn doubt(&mut self, names: impl IntoIterator<Item = String>) {
        self.unsure.extend(names);
    }

    /// True when `name` must be read before any change goes into it.
    pub(super) fn is_unsure(&self, name: &str) -> bool {
        self.unsure.contains(name)
    }

    /// No record of this owner is under `name` any more: its state is dropped.
    pub(super) fn forget(&mut self, name: &str) {
        self.known.remove(name);
    }

    /// True when `change` must wait for a read of its name: the name is unsure, or `change` is an upsert into a
    /// name not known that another writer could hold.
    pub(super) fn must_read(&self, change: &Change, own_name: impl Fn(&str) -> bool) -> bool {
        let name = &change.record().key.name;
        self.unsure.contains(name)
            || (matches!(change, Change::Upsert(_))
                && !self.known.contains(name)
                && !own_name(name))
    }
}

/// While some changes wait for a read, the upserts that belong with them wait too: those of the same task
/// (same SetIdentifier) and those into this owner's SRV target names, which nothing points at before the SRV
/// record goes. A task's records then go together in one batch, while deletes and other tasks' upserts go now.
fn hold_back(
    send: Vec<Change>,
    waiting: &[Change],
    own_name: impl Fn(&str) -> bool,
) -> (Vec<Change>, Vec<Change>) {
    if waiting.is_empty() {
        return (send, Vec::new());
    }
    let tasks: BTreeSet<&str> = waiting
        .iter()
        .map(|c| c.record().key.set_identifier.as_str())
        .collect();
    send.into_iter().partition(|c| {
        let key = &c.record().key;
        let belongs = tasks.contains(key.set_identifier.as_str()) || own_name(&key.name);
        matches!(c, Change::Delete(_)) || !belongs
    })
}

/// How many successful reads of other names upserts that could go wait for, so that a burst of new names (a host
/// starting many services) costs a few batches rather than one per name, also when the account throttles every
/// agent to a trickle; new names arriving all the time cannot hold them longer. Deletes never wait.
const GATHER_READS: u32 = 8;

/// The last safety net: a change goes out only for this owner's records, or to delete an untagged record of its
/// owner id that the book replaced ([`Owner::owns_untagged`]).
pub(super) fn may_send(owner: &Owner, change: &Change) -> bool {
    let id = &change.record().key.set_identifier;
    owner.owns(id) || (matches!(change, Change::Delete(_)) && owner.owns_untagged(id))
}

impl Writer {
    /// Plans and chooses the next step at `now`.
    pub(super) fn next_step(&mut self, now: Instant) -> Step {
        if self.failed {
            return Step::Wait(None);
        }
        if !self.schedule.ready(now) {
            return Step::Wait(self.schedule.next_wake());
        }
        self.verify_if_due(now);
        for key in self.schedule.release_quarantine(now) {
            self.held.remove(&key);
            self.book.mark_dirty([key]);
        }
        let upto = self.schedule.latest();
        let (send, read) = self.plan_turn();
        if !send.is_empty() {
            self.reads_while_gathering = 0;
            let send = self.alone_if_suspect(send);
            self.settle_stamps(&send);
            return Step::Send(send);
        }
        self.settle_stamps(&[]);
        if let Some(name) = read {
            return Step::Read(name, Why::Before);
        }
        self.complete(upto);
        if let Some(name) = self.schedule.take_due_recheck(now) {
            return Step::Read(name, Why::Recheck);
        }
        if self.launch.scanning() {
            return Step::Page;
        }
        Step::Wait(self.schedule.next_wake())
    }

    /// Plans the dirty keys: the changes that go now, and the name to read first when others wait for it. What
    /// does not go now stays dirty.
    fn plan_turn(&mut self) -> (Vec<Change>, Option<String>) {
        let plan = self.book.take_plan();
        // A refusal counted on a group size in doubt waits for the name's read instead.
        let (recount, refused): (Vec<_>, Vec<_>) = plan
            .refused
            .into_iter()
            .partition(|k| self.names.is_unsure(&k.name));
        self.refuse(refused);
        let read = recount.first().map(|k| k.name.clone());
        self.book.mark_dirty(recount);
        let own = self.book.own_targets();
        let (send, waiting) = self.split(plan.changes, &own);
        let (mut send, mut later) = hold_back(send, &waiting, |n| own.contains(n));
        let only_upserts = !send.iter().any(|c| matches!(c, Change::Delete(_)));
        if waiting.is_empty() || send.is_empty() || !only_upserts {
            self.reads_while_gathering = 0;
        } else if self.reads_while_gathering < GATHER_READS {
            later.append(&mut send);
        }
        let read = waiting
            .first()
            .map(|c| c.record().key.name.clone())
            .or(read);
        let unplanned = waiting.iter().chain(&later);
        self.book
            .mark_dirty(unplanned.map(|c| c.record().key.clone()));
        (send, read)
    }

    /// Splits planned changes into those that may go now and those that wait for a read; drops quarantined
    /// changes (they come back when their quarantine ends) and any change this owner may not make.
    fn split(&self, changes: Vec<Change>, own: &HashSet<String>) -> (Vec<Change>, Vec<Change>) {
        changes
            .into_iter()
            .filter(|c| may_send(&self.owner, c))
            .filter(|c| self.held.get(&c.record().key) != Some(c))
            .partition(|c| !self.names.must_read(c, |n| own.contains(n)))
    }

    /// Drops the receipt stamps of keys that neither go now nor stay dirty: they need no change (yet).
    fn settle_stamps(&mut self, send: &[Change]) {
        let sending: HashSet<&RecordKey> = send.iter().map(|c| &c.record().key).collect();
        let book = &self.book;
        self.stamps
            .retain(|k| sending.contains(k) || book.is_dirty(k));
    }

    /// A suspect of a refused batch goes alone (the others wait a turn); otherwise everything goes.
    fn alone_if_suspect(&mut self, mut send: Vec<Change>) -> Vec<Change> {
        let Some(i) = send
            .iter()
            .position(|c| self.suspects.contains(&c.record().key))
        else {
            return send;
        };
        let alone = send.swap_remove(i);
        self.book
            .mark_dirty(send.iter().map(|c| c.record().key.clone()));
        vec![alone]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::{Record, RecordValue};

    fn upsert(name: &str) -> Change {
        Change::Upsert(Record::new(
            name.into(),
            "r53d:c:o:t-1".into(),
            RecordValue::A([10, 0, 0, 1].into()),
            60,
            1,
        ))
    }

    fn delete(name: &str) -> Change {
        let Change::Upsert(r) = upsert(name) else {
            unreachable!()
        };
        Change::Delete(r)
    }

    #[test]
    fn an_upsert_into_a_name_not_known_waits_for_a_read_unless_only_this_owner_can_hold_it() {
        let names = Names::default();
        assert!(names.must_read(&upsert("web."), |_| false));
        assert!(!names.must_read(&upsert("t-1.web."), |n| n == "t-1.web."));
        assert!(
            !names.must_read(&delete("web."), |_| false),
            "a delete never waits for a first read"
        );
    }

    #[test]
    fn a_tasks_upserts_wait_with_the_one_that_waits_for_a_read_and_deletes_never_wait() {
        let other_task = |c: Change| match c {
            Change::Upsert(mut r) => {
                r.key.set_identifier = "r53d:c:o:t-2".into();
                Change::Upsert(r)
            }
            c => c,
        };
        let waiting = [upsert("_web._tcp.")];
        let send = vec![
            upsert("web."),
            upsert("h.hosts."),
            delete("old."),
            other_task(upsert("api.")),
        ];
        let (now, later) = hold_back(send, &waiting, |n| n == "h.hosts.");
        let names = |cs: &[Change]| -> Vec<String> {
            cs.iter().map(|c| c.record().key.name.clone()).collect()
        };
        assert_eq!(names(&now), ["old.", "api."]);
        assert_eq!(names(&later), ["web.", "h.hosts."]);
        assert_eq!(
            hold_back(later, &[], |_| true).0.len(),
            2,
            "nothing waits: everything goes"
        );
    }

    #[test]
    fn an_unsure_name_holds_every_change_until_read_and_a_forgotten_name_is_read_again() {
        let mut names = Names::default();
        names.learned("web.");
        assert!(!names.must_read(&upsert("web."), |_| false));
        names.doubt(["web.".to_string(), "t-1.web.".to_string()]);
        assert!(names.must_read(&delete("web."), |_| false));
        assert!(names.must_read(&upsert("t-1.web."), |_| true));
        names.learned("web.");
        assert!(!names.must_read(&delete("web."), |_| false));
        names.forget("web.");
        assert!(names.must_read(&upsert("web."), |_| false));
    }
}
