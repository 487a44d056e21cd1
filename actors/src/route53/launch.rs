//! The writer's launch: from a trusted journal (no read at all), or by reading the zone page by page between the
//! other steps, so registrations and deregistrations flow during the read. Names read or written while the scan
//! runs keep what the writer learnt of them; the rest comes from the scan. The launch sweep (records of
//! containers that no longer run) waits for the scan, since only a full read knows every record of this owner;
//! until then `/readyz` says the agent is syncing and `r53d_launch_read_pages` counts the pages read.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::oneshot;

use super::api::{ErrorClass, FULL_PAGE};
use super::pages::Cursor;
use super::writer::{now, Writer};
use crate::core::claim::Claim;
use crate::core::journal::Journal;
use crate::core::ownership::{parse, InstanceId, Owner};
use crate::core::plan::weighted_counts;
use crate::core::record::{Record, RecordSet};
use crate::core::scan::ZoneScan;

/// Where the launch stands.
pub(super) enum Launch {
    /// A trusted journal, taken at the start.
    Journal(Journal),
    /// The zone read is under way.
    Scanning(Box<Scan>),
    /// Launched.
    Done,
    /// A drain ended the zone read: the book does not know every record of this owner, so no journal is saved.
    Abandoned,
}

/// A zone read in progress.
pub(super) struct Scan {
    scan: ZoneScan,
    cursor: Cursor,
    pages: usize,
    /// Names read or written since the scan's page holding them: the writer's view of them is newer than the
    /// scan's.
    touched: BTreeSet<String>,
    /// The launch sweep, once asked for: the containers to keep and who waits for the answer.
    sweep: Option<(BTreeMap<String, Claim>, oneshot::Sender<usize>)>,
}

impl Launch {
    /// A launch that reads the zone for `owner`.
    pub(super) fn scan(owner: &Owner) -> Self {
        Self::Scanning(Box::new(Scan {
            scan: ZoneScan::new(owner),
            cursor: Cursor::default(),
            pages: 0,
            touched: BTreeSet::new(),
            sweep: None,
        }))
    }

    /// True while the zone read is under way.
    pub(super) fn scanning(&self) -> bool {
        matches!(self, Self::Scanning(_))
    }

    /// `name` was read or written: the scan's view of it is older.
    pub(super) fn touched(&mut self, name: &str) {
        if let Self::Scanning(s) = self {
            s.touched.insert(name.to_string());
        }
    }

    /// A drain ends an unfinished launch read; its sweep never runs.
    pub(super) fn abandon(&mut self) {
        if self.scanning() {
            *self = Self::Abandoned;
        }
    }

    /// True when the book knows every record of this owner (from the journal or a whole zone read).
    pub(super) fn complete(&self) -> bool {
        matches!(self, Self::Done)
    }
}

impl Writer {
    /// Starts the launch: a journal is taken at once; a zone read goes on page by page ([`Self::page`]).
    pub(super) fn begin(&mut self) {
        if let Launch::Journal(_) = self.launch {
            let Launch::Journal(journal) = std::mem::replace(&mut self.launch, Launch::Done) else {
                unreachable!("matched above")
            };
            self.launch_from(journal);
        }
    }

    /// The launch from a trusted journal: no zone read. The names a previous run left unsure are read once the
    /// launch sweep has said which containers run, and so is this host's own per-instance name when the agent was
    /// down long enough for the janitor to have judged the host stopped and removed it ([`DOWN_LONG`]).
    fn launch_from(&mut self, journal: Journal) {
        let mut unsure = self.take_unsure_from(&journal);
        if self.journal_age().is_none_or(|age| age > DOWN_LONG) {
            unsure.extend(host_names(&journal.records));
        }
        self.cluster_owners = journal.cluster_owners;
        tracing::info!(zone_id = %self.config.zone_id, records = journal.records.len(), unsure = unsure.len(),
            cluster_owners = self.cluster_owners, "Launch from the journal: no zone read.");
        let names = journal.records.iter().map(|r| r.key.name.clone());
        match journal.shared_ttls {
            // The journal knows each name's shared TTLs: its names need no read before a new record.
            Some(ttls) => {
                self.names.learned_all(names);
                self.book.set_foreign_ttls(None, ttls.into_iter().collect());
            }
            None => tracing::info!(zone_id = %self.config.zone_id,
                "Journal of the previous format: each name is read before its first new record."),
        }
        self.book.load_actual(journal.records, Default::default());
        self.publish();
        self.after_sweep = unsure;
        self.start_verify(now(), false);
    }

    /// Reads the next page of the launch read.
    pub(super) async fn page(&mut self) {
        let Launch::Scanning(scan) = &mut self.launch else {
            return;
        };
        let start = scan.cursor.start().cloned();
        let res = self
            .api
            .list(&self.config.zone_id, start.as_ref(), FULL_PAGE)
            .await;
        let Launch::Scanning(scan) = &mut self.launch else {
            return;
        };
        let page = match res {
            Ok(page) => page,
            Err(e) if e.class() == ErrorClass::Permanent => {
                return self.fail(format!("reading zone {}: {e}", self.config.zone_id));
            }
            Err(e) => {
                tracing::warn!(zone_id = %self.config.zone_id, error = %e, pages = scan.pages, "Reading the zone failed; retrying this page.");
                return self.retry_later(BTreeSet::new(), &e);
            }
        };
        scan.pages += 1;
        self.metrics.launch_read_pages.inc();
        for set in &page.sets {
            // The scan's view of these names is now the newer one.
            scan.touched.remove(&set.name.to_ascii_lowercase());
        }
        scan.scan.feed(page.sets);
        match scan.cursor.advance(page.next) {
            Ok(false) => self.succeeded(),
            Ok(true) => {
                self.succeeded();
                self.scanned();
            }
            Err(e) => self.fail(format!("reading zone {}: {e}", self.config.zone_id)),
        }
    }

    /// The zone read is complete: this owner's records join the book (where the writer has not learnt newer),
    /// then the launch sweep runs if it was asked for.
    fn scanned(&mut self) {
        let Launch::Scanning(scan) = std::mem::replace(&mut self.launch, Launch::Done) else {
            return;
        };
        let Scan {
            scan,
            touched,
            sweep,
            pages,
            ..
        } = *scan;
        let scanned = scan.finish();
        let sets: Vec<RecordSet> = scanned
            .sets
            .into_iter()
            .filter(|s| !touched.contains(&s.name.to_ascii_lowercase()))
            .collect();
        let kept: BTreeSet<String> = sets.iter().map(|s| s.name.to_ascii_lowercase()).collect();
        self.notes.warn_mismatches(&self.config, &sets);
        let ttls = self.notes.foreign_ttls(&self.config, &sets);
        self.book.set_foreign_ttls(Some(&kept), ttls);
        self.notes
            .shared_owner_id(&self.config, &self.owner, scanned.other_hosts);
        self.cluster_owners = scanned.cluster_owners;
        self.names.learned_all(kept);
        self.book.add_inherited(untagged(&self.owner, &sets));
        let counts = weighted_counts(&sets);
        let records = ours(&self.owner, sets);
        tracing::info!(zone_id = %self.config.zone_id, records = records.len(), pages, read = scanned.seen,
            cluster_owners = self.cluster_owners, "Found this owner's records in the zone.");
        self.book.merge_actual(records, counts, &touched);
        self.save_journal();
        self.publish();
        self.start_verify(now(), true);
        if let Some((keep, reply)) = sweep {
            self.sweep(keep, reply);
        }
    }

    /// Launch sync: marks this owner's records that no running container holds and `keep` does not protect for
    /// deletion, and answers how many. Waits for the zone read when it is still under way.
    pub(super) fn sweep(&mut self, keep: BTreeMap<String, Claim>, reply: oneshot::Sender<usize>) {
        if let Launch::Scanning(scan) = &mut self.launch {
            scan.sweep = Some((keep, reply));
            return;
        }
        let stale = self.book.sweep(&keep);
        self.swept = true;
        tracing::info!(zone_id = %self.config.zone_id, stale, "Launch sync: removing records of containers that no longer run.");
        let unsure = std::mem::take(&mut self.after_sweep);
        let at = now();
        self.schedule.recheck_at(unsure, at);
        let _ = reply.send(stale);
    }
}

/// A journal older than this was left by an agent down long enough for its host to be judged: a stopped EC2
/// instance's records go after the janitor's grace (10 minutes by default; two sightings). A daemon rollout's
/// restart takes seconds and reads nothing.
const DOWN_LONG: std::time::Duration = std::time::Duration::from_secs(300);

/// The names of this owner's per-instance records (the SRV target of its bridge and host containers).
fn host_names(records: &[Record]) -> BTreeSet<String> {
    let host = InstanceId::Host.to_string();
    records
        .iter()
        .filter(|r| parse(&r.key.set_identifier).is_some_and(|p| p.instance == host))
        .map(|r| r.key.name.clone())
        .collect()
}

/// This owner's records (A, AAAA, SRV) among `sets`.
pub(super) fn ours(owner: &Owner, sets: Vec<RecordSet>) -> Vec<Record> {
    sets.into_iter()
        .filter(|s| s.set_identifier.as_deref().is_some_and(|id| owner.owns(id)))
        .filter_map(|s| s.as_record())
        .collect()
}

/// For an owner whose id carries a host tag: the records of the same owner id without a tag (written before the
/// tag existed, or by another host given the same `agent.owner_id`), of this cluster and scope. None otherwise.
pub(super) fn untagged(owner: &Owner, sets: &[RecordSet]) -> Vec<Record> {
    if owner.base_owner() == owner.owner() {
        return Vec::new();
    }
    sets.iter()
        .filter(|s| {
            s.set_identifier
                .as_deref()
                .and_then(parse)
                .is_some_and(|p| {
                    p.cluster_tag == owner.cluster_tag()
                        && p.owner == owner.base_owner()
                        && (p.scope.is_none() || p.scope == owner.scope())
                })
        })
        .filter_map(RecordSet::as_record)
        .collect()
}
