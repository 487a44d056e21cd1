//! Files in `agent.state_dir` replaced atomically: a temporary file in the same directory, flushed to disk, renamed
//! over the old one, then the directory flushed. A reader finds the old file or the new one, never a torn one, even
//! when the agent is SIGKILLed mid-write. Used by the writer's journal.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Prefix of the temporaries (the journal's name, kept so that an older version's leftovers are found too).
const TEMP_PREFIX: &str = ".journal-";

/// Creates `dir` if missing and checks that it is writable.
pub fn prepare(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    temporary(dir).map(drop)
}

/// Replaces `path` (a file in `dir`) with `bytes`, atomically.
pub fn replace(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = temporary(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself is durable once the directory is flushed (not possible on every platform).
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// `zone_id` as a file-name part: anything but ASCII letters and digits becomes `_`.
pub fn file_part(zone_id: &str) -> String {
    zone_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A temporary file for the next save, named so that [`remove_stale_temporaries`] knows it.
fn temporary(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// Removes what saves cut short by a kill left behind (they never replaced anything). Only at the launch, before
/// anything saves: a save under way elsewhere would lose its temporary file.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}
