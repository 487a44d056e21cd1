//! Cheap elections: what an agent remembers of its last full election, and which ECS call (if any) it makes in the
//! next cycle. A full election lists the whole cluster (2 × ⌈N/100⌉ calls + 1 describe); made by every agent every
//! cycle it would be 80 000 calls per cycle for N = 2 000, 13 × ECS's cluster-read bucket. Instead:
//!
//! * the **janitor** runs the full election every cycle (it must see a lower candidate that joins);
//! * its **deputies**, the next [`DEPUTIES`] live candidates, describe the janitor alone every cycle (1 call) and
//!   run the full election only when it no longer serves, so one of them takes over at its next cycle;
//! * **everyone else** describes the janitor once every [`spacing`] cycles (at a random phase, so about
//!   [`FOLLOWER_CHECKS`] agents of the fleet check per cycle), and otherwise makes no ECS call at all.
//!
//! Fleet-wide per cycle: 2⌈N/100⌉ + 1 + DEPUTIES + ≈ FOLLOWER_CHECKS calls (N = 2 000: ≈ 244, 0.8 per second at a
//! 300 s cycle). While no candidate is found at all, an agent elects in full only once every
//! [`spacing_without_janitor`] cycles (about [`NO_CANDIDATE_ELECTIONS`] agents of the fleet a cycle), and at once
//! after its own announcement succeeds. The standing is saved after each full election
//! ([`super::standing_file`]) and resumed at a restart. An agent without one whose full election fails waits
//! [`hold_after`] cycles before the next (doubling), so a fleet's first elections that overrun ECS's bucket die
//! out instead of sustaining themselves. A new lower candidate runs its own full election at its start and acts
//! at once; the old janitor sees it at its next full election and steps down (two janitors for at most one cycle,
//! both judging by the same rules). When the janitor and all its deputies are gone at once, the first follower to check elects anew.

use rand::Rng;

/// Live candidates after the janitor that check on it every cycle.
pub const DEPUTIES: usize = 3;
/// About how many other agents of the fleet check on the janitor per cycle.
pub const FOLLOWER_CHECKS: usize = 200;
/// With no candidate anywhere (e.g. `ecs:PutAttributes` denied fleet-wide), about how many agents of the fleet
/// elect in full per cycle. Each such election lists and describes the whole cluster (60 calls at N = 2 000).
pub const NO_CANDIDATE_ELECTIONS: usize = 5;

/// The number of cycles between a follower's checks in a cluster of `instances`.
pub fn spacing(instances: usize) -> u32 {
    u32::try_from(instances.div_ceil(FOLLOWER_CHECKS).max(1)).unwrap_or(u32::MAX)
}

/// The number of cycles between an agent's full elections while no candidate is found, in a cluster of
/// `instances`.
pub fn spacing_without_janitor(instances: usize) -> u32 {
    u32::try_from(instances.div_ceil(NO_CANDIDATE_ELECTIONS).max(1)).unwrap_or(u32::MAX)
}

/// What the last full election found, from this agent's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The janitor it elected (`None`: no candidate at all).
    pub janitor: Option<String>,
    /// This agent's place among the live candidates (0: the janitor), when it is among those described; `None`
    /// when it is further down than the full election looked.
    pub rank: Option<usize>,
    /// This agent's id is an ACTIVE or DRAINING instance of the cluster.
    pub listed: bool,
    /// ACTIVE and DRAINING instances listed.
    pub instances: usize,
    /// Cycles left before a follower checks again.
    pub wait: u32,
    /// This agent had announced its candidacy when it elected (a standing from before that left it out).
    pub candidate: bool,
}

impl Standing {
    /// The standing after a full election; a follower's first check comes at a random cycle of its spacing.
    pub fn after_election(
        janitor: Option<String>,
        rank: Option<usize>,
        listed: bool,
        instances: usize,
    ) -> Self {
        let every = match janitor {
            Some(_) => spacing(instances),
            None => spacing_without_janitor(instances),
        };
        let wait = rand::thread_rng().gen_range(0..every);
        Self {
            janitor,
            rank,
            listed,
            instances,
            wait,
            candidate: false,
        }
    }
}

/// The most cycles an agent without a standing waits after failed full elections (`2^HOLD_DOUBLINGS - 1`).
pub const HOLD_DOUBLINGS: u32 = 5;

/// Cycles to wait before the next full election of an agent without a standing, after `failures` in a row
/// (throttled, or ECS unreachable): uniform in `[0, 2^failures)`, at most [`HOLD_DOUBLINGS`] doublings. A fleet
/// whose first elections overrun ECS's bucket halves its demand every cycle instead of repeating it, so the storm
/// dies out within a few cycles rather than sustaining itself.
pub fn hold_after(failures: u32) -> u32 {
    let span = 1u32 << failures.clamp(1, HOLD_DOUBLINGS);
    rand::thread_rng().gen_range(0..span)
}

/// The next cycle's ECS work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// List and describe the cluster.
    Full,
    /// Describe this janitor only; a full election if it no longer serves.
    Check(String),
    /// No ECS call: the remembered janitor stands.
    Rest,
}

/// The step for an agent with `standing` (none: it never ran a full election); counts a follower's wait down.
pub fn next_step(standing: Option<&mut Standing>) -> Step {
    let Some(s) = standing else {
        return Step::Full;
    };
    let Some(janitor) = s.janitor.clone() else {
        // Nobody to rely on: look again, a few agents of the fleet per cycle (this agent's own announcement
        // clears its standing, so a new candidate elects at once).
        if s.wait == 0 {
            s.wait = spacing_without_janitor(s.instances).saturating_sub(1);
            return Step::Full;
        }
        s.wait -= 1;
        return Step::Rest;
    };
    match s.rank {
        Some(0) => Step::Full,
        Some(r) if r <= DEPUTIES => Step::Check(janitor),
        _ if s.wait == 0 => {
            s.wait = spacing(s.instances).saturating_sub(1);
            Step::Check(janitor)
        }
        _ => {
            s.wait -= 1;
            Step::Rest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(rank: Option<usize>, instances: usize) -> Standing {
        Standing {
            janitor: Some("j".into()),
            rank,
            listed: true,
            instances,
            wait: 0,
            candidate: true,
        }
    }

    #[test]
    fn the_janitor_elects_in_full_its_deputies_check_on_it_every_cycle() {
        assert_eq!(next_step(None), Step::Full, "no standing yet");
        assert_eq!(next_step(Some(&mut standing(Some(0), 2000))), Step::Full);
        for r in 1..=DEPUTIES {
            let mut s = standing(Some(r), 2000);
            for _ in 0..5 {
                assert_eq!(
                    next_step(Some(&mut s)),
                    Step::Check("j".into()),
                    "deputy {r}"
                );
            }
        }
        let mut nobody = Standing {
            janitor: None,
            ..standing(None, 10)
        };
        let steps: Vec<Step> = (0..4).map(|_| next_step(Some(&mut nobody))).collect();
        assert_eq!(
            steps,
            [Step::Full, Step::Rest, Step::Full, Step::Rest],
            "10 instances, 5 a cycle"
        );
    }

    #[test]
    fn with_no_candidate_a_few_agents_of_the_fleet_elect_per_cycle() {
        assert_eq!(spacing_without_janitor(2000), 400);
        let mut s = Standing::after_election(None, None, true, 2000);
        assert!(s.wait < 400);
        let fulls = (0..4000)
            .filter(|_| next_step(Some(&mut s)) == Step::Full)
            .count();
        assert_eq!(fulls, 10, "once every 400 cycles");
    }

    #[test]
    fn a_follower_checks_once_per_spacing_and_rests_otherwise() {
        assert_eq!(spacing(10), 1);
        assert_eq!(spacing(2000), 10);
        for rank in [None, Some(DEPUTIES + 1)] {
            let mut s = standing(rank, 2000);
            let steps: Vec<Step> = (0..30).map(|_| next_step(Some(&mut s))).collect();
            let checks = steps.iter().filter(|s| matches!(s, Step::Check(_))).count();
            assert_eq!(checks, 3, "{steps:?}");
            assert!(steps.iter().all(|s| *s != Step::Full));
        }
        let mut small = standing(None, 50);
        assert!((0..5).all(|_| next_step(Some(&mut small)) == Step::Check("j".into())));
    }

    #[test]
    fn failed_elections_wait_longer_each_time_up_to_a_bound() {
        let most = |failures| (0..400).map(|_| hold_after(failures)).max().unwrap();
        assert_eq!(most(1), 1);
        assert_eq!(most(3), 7);
        assert_eq!(most(40), (1 << HOLD_DOUBLINGS) - 1, "bounded");
        let mean = (0..4000).map(|_| hold_after(4)).sum::<u32>() as f64 / 4000.0;
        assert!((6.5..8.5).contains(&mean), "uniform over 0..16: {mean}");
    }

    #[test]
    fn followers_start_at_random_phases_within_their_spacing() {
        let waits: std::collections::BTreeSet<u32> = (0..200)
            .map(|_| Standing::after_election(Some("j".into()), None, true, 2000).wait)
            .collect();
        assert!(waits.iter().all(|w| *w < 10));
        assert!(waits.len() > 5, "{waits:?}");
    }
}
