//! The local journal's contents: what this agent has written to one hosted zone, so that a restart need not read
//! the zone to learn it (fleet scale: a rollout of 2 000 agents would otherwise read the zone 2 000 times).
//!
//! A journal is keyed by zone, cluster, scope and owner, and has a [`FORMAT`]; one of another key, or of a format
//! this version does not read, is rejected (and the caller falls back to reading the zone), never half-used. It lists the records Route53
//! acknowledged, the TTL of each weighted group under those names that other writers share (this agent adopts
//! it: Route53 gives a group one TTL), and the names whose changes were sent but not yet acknowledged (`unsure`:
//! a change that timed out may still land, so those names are read at the next launch). Encoding and checking
//! are pure; the file I/O (atomic replace) is the writer's (`route53::journal`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ownership::Owner;
use super::plan::Group;
use super::record::{Record, RecordSet, RecordType};

/// The journal format this version writes.
pub const FORMAT: u32 = 2;

/// The format before the shared groups' TTLs were kept; still read (its names are then not trusted as known).
const FORMAT_WITHOUT_TTLS: u32 = 1;

/// Whose journal this is: a journal is used only by the agent with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalKey {
    /// Hosted zone id.
    pub zone_id: String,
    /// Cluster tag as written in SetIdentifiers.
    pub cluster: String,
    /// `<region>.<account>`, when the owner writes the scoped format.
    pub scope: Option<String>,
    /// Owner part as written (with its host tag, if any).
    pub owner: String,
}

impl JournalKey {
    /// The key of `owner`'s journal for `zone_id`.
    pub fn of(zone_id: &str, owner: &Owner) -> Self {
        Self {
            zone_id: zone_id.to_string(),
            cluster: owner.cluster_tag().to_string(),
            scope: owner.region_account().map(str::to_string),
            owner: owner.owner().to_string(),
        }
    }
}

/// One acknowledged record, as Route53 holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    name: String,
    #[serde(rename = "type")]
    record_type: String,
    set_identifier: String,
    weight: i64,
    ttl: i64,
    value: String,
}

/// The TTL of one weighted group that other writers share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SharedTtl {
    name: String,
    #[serde(rename = "type")]
    record_type: String,
    ttl: i64,
}

/// The file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct File {
    format: u32,
    key: JournalKey,
    zone_name: String,
    cluster_owners: usize,
    records: Vec<Entry>,
    #[serde(default)]
    shared_ttls: Vec<SharedTtl>,
    unsure: BTreeSet<String>,
}

/// A journal as the writer keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// Whose it is.
    pub key: JournalKey,
    /// The zone's name (so a restart needs no GetHostedZone either).
    pub zone_name: String,
    /// Owners of this cluster in the zone at the last full read (the verification's fleet budget).
    pub cluster_owners: usize,
    /// Records Route53 acknowledged, this owner's only.
    pub records: Vec<Record>,
    /// The TTL of each group under those records' names that other writers share, as last read; `None` from a
    /// journal of the format that did not keep them.
    pub shared_ttls: Option<BTreeMap<Group, i64>>,
    /// Names with changes sent and not acknowledged: to be read at the next launch.
    pub unsure: BTreeSet<String>,
}

/// Why a journal was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Not JSON of the expected shape (torn, truncated, edited, another program's).
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// Written by a version with another format.
    #[error("format {found}, this version reads formats {FORMAT_WITHOUT_TTLS} and {FORMAT}")]
    Format {
        /// The format found.
        found: u32,
    },
    /// Another zone's, cluster's or owner's.
    #[error("written for zone {} cluster {} owner {}, not this agent", .0.zone_id, .0.cluster, .0.owner)]
    OtherKey(JournalKey),
    /// A record in it that this owner would not write.
    #[error("holds a record this owner does not own or cannot parse: {0}")]
    BadRecord(String),
}

/// The file's bytes for `journal` (pretty JSON: an operator may read it).
pub fn encode(journal: &Journal) -> Vec<u8> {
    let file = File {
        format: FORMAT,
        key: journal.key.clone(),
        zone_name: journal.zone_name.clone(),
        cluster_owners: journal.cluster_owners,
        records: journal.records.iter().map(entry).collect(),
        shared_ttls: journal
            .shared_ttls
            .iter()
            .flatten()
            .map(shared_ttl)
            .collect(),
        unsure: journal.unsure.clone(),
    };
    serde_json::to_vec_pretty(&file).expect("a journal always serializes")
}

fn entry(r: &Record) -> Entry {
    Entry {
        name: r.key.name.clone(),
        record_type: r.key.record_type.as_str().to_string(),
        set_identifier: r.key.set_identifier.clone(),
        weight: r.weight,
        ttl: r.ttl,
        value: r.value_string(),
    }
}

fn shared_ttl(((name, record_type), ttl): (&Group, &i64)) -> SharedTtl {
    SharedTtl {
        name: name.clone(),
        record_type: record_type.as_str().to_string(),
        ttl: *ttl,
    }
}

/// The journal in `bytes`, if it is `owner`'s for `zone_id` in this format and every record in it is `owner`'s.
pub fn decode(bytes: &[u8], zone_id: &str, owner: &Owner) -> Result<Journal, Rejected> {
    #[derive(Deserialize)]
    struct Head {
        format: u32,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| Rejected::Corrupt(e.to_string()))?;
    if head.format != FORMAT && head.format != FORMAT_WITHOUT_TTLS {
        return Err(Rejected::Format { found: head.format });
    }
    let file: File = serde_json::from_slice(bytes).map_err(|e| Rejected::Corrupt(e.to_string()))?;
    if file.key != JournalKey::of(zone_id, owner) {
        return Err(Rejected::OtherKey(file.key));
    }
    let records = file
        .records
        .into_iter()
        .map(|e| record(e, owner))
        .collect::<Result<Vec<_>, _>>()?;
    let shared = file.shared_ttls.into_iter().map(|s| {
        let t = RecordType::parse(&s.record_type);
        t.map(|t| ((s.name, t), s.ttl))
            .ok_or_else(|| Rejected::Corrupt(format!("record type {}", s.record_type)))
    });
    let shared_ttls = shared.collect::<Result<BTreeMap<_, _>, _>>()?;
    let shared_ttls = (head.format == FORMAT).then_some(shared_ttls);
    Ok(Journal {
        key: file.key,
        zone_name: file.zone_name,
        cluster_owners: file.cluster_owners.max(1),
        records,
        shared_ttls,
        unsure: file.unsure,
    })
}

fn record(e: Entry, owner: &Owner) -> Result<Record, Rejected> {
    let id = e.set_identifier.clone();
    if !owner.owns(&id) {
        return Err(Rejected::BadRecord(id));
    }
    let set = RecordSet {
        name: e.name,
        record_type: e.record_type,
        set_identifier: Some(e.set_identifier),
        weight: Some(e.weight),
        ttl: Some(e.ttl),
        values: vec![e.value],
        has_extras: false,
    };
    set.as_record().ok_or(Rejected::BadRecord(id))
}

#[cfg(test)]
#[path = "journal/tests.rs"]
mod tests;
