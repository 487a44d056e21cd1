//! The journal file and the writer's use of it: what this agent has written, kept in `agent.state_dir` so that a
//! restart trusts it instead of reading the zone ([`crate::core::journal`] holds the format and its checks).
//!
//! * **Atomic** ([`crate::state_file`]): a reader finds the old journal or the new one, never a torn one, even
//!   when the agent is SIGKILLed mid-write.
//! * **Write-ahead of doubt.** Before changes are sent, their names are saved as *unsure*; once Route53
//!   acknowledges them (or a read of the name settles them) they leave that list and the acknowledged records are
//!   saved. A restart reads the unsure names at once (a change that timed out may have landed) and trusts the rest;
//!   the periodic verification reads every name within its interval.
//! * **Never fatal.** A journal that cannot be read is ignored with a log line (the launch reads the zone); one that
//!   cannot be written is warned about once, and the agent goes on without it.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::writer::Writer;
use crate::core::journal::{decode, encode, Journal, JournalKey};
use crate::core::ownership::Owner;
use crate::core::plan::Change;
use crate::state_file;

/// Where one zone's journal lives.
#[derive(Debug, Clone)]
pub struct JournalStore {
    dir: PathBuf,
    path: PathBuf,
}

impl JournalStore {
    /// The journal of `zone_id` in `dir`, which is created if missing and must be writable (checked now).
    /// Opened at the launch, before anything saves: it also removes what saves cut short by a kill left behind.
    pub fn open(dir: &Path, zone_id: &str) -> io::Result<Self> {
        state_file::prepare(dir)?;
        state_file::remove_stale_temporaries(dir);
        Ok(Self {
            dir: dir.to_path_buf(),
            path: dir.join(format!("journal-{}.json", state_file::file_part(zone_id))),
        })
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal, if there is one for `owner` in `zone_id` that this version can trust; otherwise `None`, with an
    /// info line (none yet) or a warning (unreadable, corrupt, another key or format) saying why.
    pub fn load(&self, zone_id: &str, owner: &Owner) -> Option<Journal> {
        let path = self.path.display();
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::info!(zone_id, path = %path, "No journal yet: reading the zone.");
                return None;
            }
            Err(e) => {
                tracing::warn!(zone_id, path = %path, error = %e, "Cannot read the journal: reading the zone instead.");
                return None;
            }
        };
        match decode(&bytes, zone_id, owner) {
            Ok(j) => Some(j),
            Err(e) => {
                tracing::warn!(zone_id, path = %path, reason = %e, "Journal not used: reading the zone instead (it is replaced at the next save).");
                None
            }
        }
    }

    /// How long ago the journal was last saved (`None`: no journal, or its time cannot be read).
    pub fn age(&self) -> Option<std::time::Duration> {
        let saved = fs::metadata(&self.path).and_then(|m| m.modified()).ok()?;
        saved.elapsed().ok()
    }

    /// Replaces the journal with `journal`, atomically ([`state_file::replace`]). When that fails the old journal
    /// is removed (best effort): it no longer tells what the agent has written, and the next start must read the
    /// zone instead.
    pub fn save(&self, journal: &Journal) -> io::Result<()> {
        let res = state_file::replace(&self.dir, &self.path, &encode(journal));
        if res.is_err() {
            let _ = fs::remove_file(&self.path);
        }
        res
    }
}

/// The writer's journal: the store, what goes into every save besides the records, and whether saving works.
#[derive(Debug)]
pub struct WriterJournal {
    store: JournalStore,
    key: JournalKey,
    zone_name: String,
    /// Names with changes sent and not settled.
    unsure: BTreeSet<String>,
    /// The last save failed (warned once until one succeeds).
    failing: bool,
}

impl WriterJournal {
    /// The journal of `owner` in `zone_id` (named `zone_name`), kept in `store`.
    pub fn new(store: JournalStore, zone_id: &str, zone_name: &str, owner: &Owner) -> Self {
        Self {
            store,
            key: JournalKey::of(zone_id, owner),
            zone_name: zone_name.to_string(),
            unsure: BTreeSet::new(),
            failing: false,
        }
    }
}

impl Writer {
    /// Saves the journal as the book stands (no-op without one, or before the launch read has ended).
    pub(super) fn save_journal(&mut self) {
        if !self.launch.complete() {
            // The book holds only part of this owner's records until the launch read ends.
            return;
        }
        let records = self.book.actual_records();
        let shared_ttls = self.book.shared_ttls();
        let owners = self.cluster_owners;
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        let journal = Journal {
            key: j.key.clone(),
            zone_name: j.zone_name.clone(),
            cluster_owners: owners,
            records,
            shared_ttls: Some(shared_ttls),
            unsure: j.unsure.clone(),
        };
        match (j.store.save(&journal), j.failing) {
            (Ok(()), true) => {
                j.failing = false;
                tracing::info!(zone_id = %self.config.zone_id, path = %j.store.path().display(), "Journal saved again.");
            }
            (Err(e), false) => {
                j.failing = true;
                tracing::warn!(zone_id = %self.config.zone_id, path = %j.store.path().display(), error = %e,
                    "Cannot save the journal: the next start reads the zone in full.");
            }
            _ => {}
        }
    }

    /// Before `changes` go out: their names are unsure until settled, and saved so before anything is sent.
    pub(super) fn journal_sending(&mut self, changes: &[Change]) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        let before = j.unsure.len();
        j.unsure
            .extend(changes.iter().map(|c| c.record().key.name.clone()));
        if j.unsure.len() != before {
            self.save_journal();
        }
    }

    /// `names` are settled (acknowledged, or read back): saves the book and what is still unsure.
    pub(super) fn journal_settled<'a>(&mut self, names: impl IntoIterator<Item = &'a String>) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        for name in names {
            j.unsure.remove(name);
        }
        self.save_journal();
    }

    /// How long ago the journal was last saved, when there is one.
    pub(super) fn journal_age(&self) -> Option<std::time::Duration> {
        self.journal.as_ref().and_then(|j| j.store.age())
    }

    /// Names a previous run left unsure (to read at once).
    pub(super) fn take_unsure_from(&mut self, journal: &Journal) -> BTreeSet<String> {
        if let Some(j) = self.journal.as_mut() {
            j.unsure.clone_from(&journal.unsure);
        }
        journal.unsure.clone()
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
