//! Conflict handling of the writer: after `InvalidChangeBatch`, re-read the names involved (targeted paging), re-plan
//! each key against what really exists, and send the keys one by one. "Not found" on a DELETE is settled by the
//! re-read (nothing left to send); a key that still fails is quarantined and tried again later, never blocking
//! the others.

use std::collections::BTreeSet;
use std::time::Instant;

use actix::prelude::*;

use super::api::{read_name, DnsError, ErrorClass};
use super::{log_applied, ours, Route53Actor, ACTOR};
use crate::core::plan::Change;
use crate::core::record::RecordKey;

impl Route53Actor {
    /// `InvalidChangeBatch`: re-read the names involved, re-plan each key and send them one by one.
    pub(super) fn resolve_conflict(
        &mut self,
        rest: Vec<Change>,
        err: DnsError,
        upto: u64,
        ctx: &mut Context<Self>,
    ) {
        tracing::warn!(zone_id = %self.config.zone_id, error = %err, changes = rest.len(), "Change batch conflicts with the zone; re-reading.");
        self.in_flight = true;
        let keys: BTreeSet<RecordKey> = rest.iter().map(|c| c.record().key.clone()).collect();
        let names: BTreeSet<String> = keys.iter().map(|k| k.name.clone()).collect();
        let (api, zone_id, owner) = (
            self.api.clone(),
            self.config.zone_id.clone(),
            self.owner.clone(),
        );
        let read = async move {
            let mut found = Vec::new();
            for name in &names {
                found.extend(ours(&owner, read_name(&*api, &zone_id, name).await?));
            }
            Ok::<_, DnsError>((names, found))
        };
        ctx.spawn(read.into_actor(self).map(move |res, act, ctx| match res {
            Ok((names, found)) => {
                act.book.refresh_names(&names, found);
                act.send_each(keys, upto, ctx);
            }
            Err(e) => {
                act.in_flight = false;
                let rest = keys.iter().filter_map(|k| act.book.plan(k)).collect();
                act.retry_later(rest, &e, ctx);
            }
        }));
    }

    /// Sends each key's current plan as its own request; quarantines those that still conflict.
    fn send_each(&mut self, keys: BTreeSet<RecordKey>, upto: u64, ctx: &mut Context<Self>) {
        let changes: Vec<Change> = keys.iter().filter_map(|k| self.book.plan(k)).collect();
        let (api, zone_id) = (self.api.clone(), self.config.zone_id.clone());
        let fut = async move {
            let mut results = Vec::new();
            for change in changes {
                let res = api.change(&zone_id, std::slice::from_ref(&change)).await;
                results.push((change, res));
            }
            results
        };
        ctx.spawn(fut.into_actor(self).map(move |results, act, ctx| {
            act.in_flight = false;
            for (change, res) in results {
                act.after_single(change, res, ctx);
            }
            act.publish();
            act.complete(upto);
            act.kick(ctx);
        }));
    }

    fn after_single(&mut self, change: Change, res: Result<(), DnsError>, ctx: &mut Context<Self>) {
        let key = change.record().key.clone();
        match res.map_err(|e| (e.class(), e)) {
            Ok(()) => {
                log_applied(&self.config.zone_id, std::slice::from_ref(&change));
                self.book.applied(&[change]);
            }
            Err((ErrorClass::Conflict, e)) => {
                tracing::error!(zone_id = %self.config.zone_id, record_name = %key.name, set_identifier = %key.set_identifier,
                    action = change.action(), error = %e, retry_in = ?self.config.quarantine, "Change quarantined.");
                self.quarantine
                    .insert(key, Instant::now() + self.config.quarantine);
            }
            Err((ErrorClass::Transient, e)) => self.retry_later(vec![change], &e, ctx),
            Err((ErrorClass::Permanent, e)) => self
                .reporter
                .failed(ACTOR, format!("zone {}: {e}", self.config.zone_id)),
        }
    }
}
