//! The janitor's [`Standing`] kept in `agent.state_dir` (`janitor-<zone>.json`, replaced atomically by
//! [`crate::state_file`]), so that a restarted agent resumes its place instead of electing in full: a fleet-wide
//! restart of 2 000 agents would otherwise be 2 000 full elections of 42 ECS calls each inside one cycle, 14 × the
//! cluster-read bucket, and every throttled one would be tried again.
//!
//! The file is keyed by zone, cluster, owner and [`FORMAT`]; one that is missing, unreadable, corrupt, of another
//! key or format is ignored with a log line (the agent elects in full, as at its first start). A resumed follower
//! checks on its janitor at a new random phase of its spacing, so a restarted fleet spreads its checks as before.
//! Saving is best effort: a failure is warned about once, and the agent goes on with the standing in memory.

use std::cell::{Cell, RefCell};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::standing::Standing;
use crate::state_file;

/// The format this version writes and reads; any other is ignored.
pub const FORMAT: u32 = 1;

/// The file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct File {
    format: u32,
    zone_id: String,
    cluster: String,
    owner: String,
    janitor: Option<String>,
    rank: Option<usize>,
    listed: bool,
    instances: usize,
    candidate: bool,
}

/// Where one agent's standing for one zone lives.
#[derive(Debug)]
pub struct StandingStore {
    dir: PathBuf,
    path: PathBuf,
    key: (String, String, String),
    /// The last file saved or loaded: an unchanged standing is not written again.
    last: RefCell<Option<File>>,
    /// The last save failed (warned once until one succeeds).
    failing: Cell<bool>,
}

impl StandingStore {
    /// The standing of `owner` of `cluster` for `zone_id`, in `dir` (created if missing; must be writable).
    pub fn open(dir: &Path, zone_id: &str, cluster: &str, owner: &str) -> io::Result<Self> {
        state_file::prepare(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            path: dir.join(format!("janitor-{}.json", state_file::file_part(zone_id))),
            key: (zone_id.into(), cluster.into(), owner.into()),
            last: RefCell::new(None),
            failing: Cell::new(false),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved standing, if there is one of this key and format (a new random phase for a follower's checks);
    /// otherwise `None`, with a log line saying why.
    pub fn load(&self) -> Option<Standing> {
        let (zone_id, path) = (self.key.0.as_str(), self.path.display());
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::info!(zone_id, path = %path, "No janitor standing saved yet: the first cycle elects in full.");
                return None;
            }
            Err(e) => {
                tracing::warn!(zone_id, path = %path, error = %e, "Cannot read the janitor standing: the first cycle elects in full.");
                return None;
            }
        };
        match self.decode(&bytes) {
            Ok(f) => {
                let mut s =
                    Standing::after_election(f.janitor.clone(), f.rank, f.listed, f.instances);
                s.candidate = f.candidate;
                tracing::info!(zone_id, janitor = ?s.janitor, rank = ?s.rank, "Janitor standing resumed from the state directory.");
                self.last.replace(Some(f));
                Some(s)
            }
            Err(reason) => {
                tracing::warn!(zone_id, path = %path, reason, "Janitor standing not used: the first cycle elects in full.");
                None
            }
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<File, String> {
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        let head: Head = serde_json::from_slice(bytes).map_err(|e| format!("corrupt: {e}"))?;
        if head.format != FORMAT {
            return Err(format!(
                "format {}, this version reads format {FORMAT}",
                head.format
            ));
        }
        let f: File = serde_json::from_slice(bytes).map_err(|e| format!("corrupt: {e}"))?;
        let (zone_id, cluster, owner) = &self.key;
        if (&f.zone_id, &f.cluster, &f.owner) != (zone_id, cluster, owner) {
            return Err(format!(
                "written for zone {} cluster {} owner {}, not this agent",
                f.zone_id, f.cluster, f.owner
            ));
        }
        Ok(f)
    }

    /// Saves `standing` unless it is the one saved last (its follower phase aside).
    pub fn save(&self, standing: &Standing) {
        let (zone_id, cluster, owner) = self.key.clone();
        let file = File {
            format: FORMAT,
            zone_id,
            cluster,
            owner,
            janitor: standing.janitor.clone(),
            rank: standing.rank,
            listed: standing.listed,
            instances: standing.instances,
            candidate: standing.candidate,
        };
        if self.last.borrow().as_ref() == Some(&file) {
            return;
        }
        let bytes = serde_json::to_vec_pretty(&file).expect("a standing always serializes");
        match (
            state_file::replace(&self.dir, &self.path, &bytes),
            self.failing.get(),
        ) {
            (Ok(()), failing) => {
                self.last.replace(Some(file));
                if failing {
                    self.failing.set(false);
                    tracing::info!(zone_id = %self.key.0, path = %self.path.display(), "Janitor standing saved again.");
                }
            }
            (Err(e), false) => {
                self.failing.set(true);
                tracing::warn!(zone_id = %self.key.0, path = %self.path.display(), error = %e,
                    "Cannot save the janitor standing: the next start elects in full.");
            }
            (Err(_), true) => {}
        }
    }
}

#[cfg(test)]
#[path = "standing_file_tests.rs"]
mod tests;
