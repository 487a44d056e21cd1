//! The janitor cycle's election: announcing this agent as a candidate, and electing as cheaply as its
//! [`Standing`] allows (a full election, one describe of the remembered janitor, or nothing); saving the standing
//! after a full election; holding off, with doubling waits, after failed full elections without a standing.

use super::cycle::{Cycle, Report};
use super::ecs::{describe_into, list_all, EcsError, Knowledge, DESCRIBE_CHUNK};
use super::plan::{elect, CANDIDATE_ATTRIBUTE};
use super::standing::{hold_after, next_step, Standing, Step, DEPUTIES};

/// Lists the ACTIVE and DRAINING instances and describes them, lowest ids first, until the janitor is known;
/// remembers the outcome as this agent's [`Standing`].
async fn election(c: &Cycle) -> Result<(Option<String>, bool, Knowledge), EcsError> {
    let mut ids = list_all(&*c.ecs, &c.cluster, "ACTIVE").await?;
    ids.extend(list_all(&*c.ecs, &c.cluster, "DRAINING").await?);
    ids.sort();
    ids.dedup();
    let listed = ids.contains(&c.me);
    let mut known = Knowledge::default();
    let mut winner = None;
    let mut chunks = ids.chunks(DESCRIBE_CHUNK);
    for chunk in chunks.by_ref() {
        describe_into(&*c.ecs, &c.cluster, chunk, &mut known).await?;
        // Every lower id is described by now, so the lowest connected one found is the lowest overall.
        if let Some(w) = elect(known.instances.values(), &c.zone_id) {
            winner = Some(w.to_string());
            break;
        }
    }
    // The janitor near the end of a chunk: one chunk more, so that its deputies know their rank.
    let serving = |k: &Knowledge| {
        k.instances
            .values()
            .filter(|i| i.can_serve(&c.zone_id))
            .count()
    };
    if winner.is_some() && serving(&known) <= DEPUTIES {
        if let Some(chunk) = chunks.next() {
            describe_into(&*c.ecs, &c.cluster, chunk, &mut known).await?;
        }
    }
    let live = known.instances.values().filter(|i| i.can_serve(&c.zone_id));
    let rank = live.map(|i| i.id.as_str()).position(|id| id == c.me);
    let mut standing = Standing::after_election(winner.clone(), rank, listed, ids.len());
    standing.candidate = c.announced.get();
    if let Some(store) = &c.store {
        store.save(&standing);
    }
    *c.standing.borrow_mut() = Some(standing);
    Ok((winner, listed, known))
}

/// This cycle's election, as cheap as the agent's [`Standing`] allows: a full one, one describe of the janitor
/// (a full one if it no longer serves), or none at all.
pub(super) async fn stand(c: &Cycle) -> Result<(Option<String>, bool, Knowledge), EcsError> {
    let step = match lower_than_its_janitor(c) {
        true => Step::Full,
        false => next_step(c.standing.borrow_mut().as_mut()),
    };
    let remembered = || {
        let s = c.standing.borrow();
        let s = s.as_ref().expect("a check or a rest has a standing");
        (s.janitor.clone(), s.listed, Knowledge::default())
    };
    match step {
        Step::Full => {
            let elected = election(c).await;
            note_outcome(c, elected.is_ok());
            elected
        }
        Step::Rest => Ok(remembered()),
        Step::Check(janitor) => {
            let mut known = Knowledge::default();
            describe_into(
                &*c.ecs,
                &c.cluster,
                std::slice::from_ref(&janitor),
                &mut known,
            )
            .await?;
            match known
                .instances
                .get(&janitor)
                .is_some_and(|i| i.can_serve(&c.zone_id))
            {
                true => Ok(remembered()),
                false => election(c).await,
            }
        }
    }
}

/// A cycle with no ECS call: this agent has no standing and waits after failed full elections.
pub(super) fn holding(c: &Cycle) -> Option<Report> {
    let (failures, left) = c.held.get();
    if left == 0 || c.standing.borrow().is_some() {
        return None;
    }
    c.held.set((failures, left - 1));
    Some(Report::Holding {
        failures,
        cycles_left: left - 1,
    })
}

/// After a full election: a success ends the holds; a failure without a standing doubles the next wait.
fn note_outcome(c: &Cycle, ok: bool) {
    let (failures, _) = c.held.get();
    match (ok, c.standing.borrow().is_some()) {
        (true, _) => c.held.set((0, 0)),
        (false, false) => c.held.set((failures + 1, hold_after(failures + 1))),
        (false, true) => {}
    }
}

/// Puts this agent's [`CANDIDATE_ATTRIBUTE`] on its container instance, once. A failure is logged and tried
/// again next cycle; until it succeeds this agent is never elected.
pub(super) async fn announce(c: &Cycle) {
    if c.announced.get() {
        return;
    }
    let (cluster, zone_id) = (c.cluster.as_str(), c.zone_id.as_str());
    match c
        .ecs
        .put_attribute(cluster, &c.me, CANDIDATE_ATTRIBUTE, zone_id)
        .await
    {
        Ok(()) => {
            c.announced.set(true);
            // A standing from before the announcement left this agent out of the candidates (a resumed one
            // from an announced run did not).
            if c.standing.borrow().as_ref().is_some_and(|s| !s.candidate) {
                c.standing.replace(None);
            }
            tracing::info!(cluster, zone_id, owner = %c.me, attribute = CANDIDATE_ATTRIBUTE, "Announced this agent as a janitor candidate (ECS attribute on its container instance).");
        }
        Err(e) => {
            tracing::warn!(cluster, zone_id, owner = %c.me, error = %e, "Could not announce this agent as a janitor candidate (check ecs:PutAttributes on the cluster's container instances); it is not elected until it can.");
        }
    }
}

/// True when this agent, announced, remembers a janitor with a higher id: it would win a full election unless
/// ECS sees it unable to serve, and a janitor that sees it as a candidate steps down, so it must look (else the
/// cluster could be left without a janitor).
fn lower_than_its_janitor(c: &Cycle) -> bool {
    let standing = c.standing.borrow();
    let janitor = standing.as_ref().and_then(|s| s.janitor.as_deref());
    c.announced.get() && janitor.is_some_and(|j| j > c.me.as_str())
}
