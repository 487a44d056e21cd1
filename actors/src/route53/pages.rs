//! A whole-zone read that survives throttling: every page of `ListResourceRecordSets` in order, each handed to
//! the caller as it arrives (nothing is collected here), a transient failure retrying the same page after a
//! full-jitter backoff for as long as it takes, optionally paced. The writer's launch read and the janitor's zone
//! read are both this walk.

use std::time::Duration;

use actix_rt::time::{sleep_until, Instant};

use super::api::{DnsApi, DnsError, ErrorClass, ListStart, FULL_PAGE};
use crate::backoff::FullJitter;
use crate::core::record::RecordSet;

/// A cursor that does not advance this many times in a row ends the read (an emulator that ignores it).
const STUCK_LIMIT: u32 = 5;

/// How a walk goes.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    /// Least time between two page requests (zero: as fast as the client allows).
    pub pace: Duration,
    /// First and longest wait before a failed page is tried again (full jitter, never less than `pace`).
    pub backoff: (Duration, Duration),
}

/// What a walk did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Walked {
    /// Pages read.
    pub pages: usize,
    /// Failed page requests that were tried again.
    pub retries: usize,
}

/// Reads every page of `zone_id`, calling `feed` with each. Before each request `go_on` is asked: false ends the
/// walk with a transient "draining" error. Transient failures retry the same page; a permanent failure or a stuck
/// cursor ends it.
pub async fn walk_zone(
    api: &dyn DnsApi,
    zone_id: &str,
    walk: Walk,
    go_on: impl Fn() -> bool,
    mut feed: impl FnMut(Vec<RecordSet>),
) -> Result<Walked, DnsError> {
    let fresh = || FullJitter::new(walk.backoff.0, walk.backoff.1);
    let (mut backoff, mut out) = (fresh(), Walked::default());
    let mut cursor = Cursor::default();
    let mut next_at = Instant::now();
    loop {
        sleep_until(next_at).await;
        if !go_on() {
            return Err(DnsError::Transient("the agent is draining".into()));
        }
        next_at = Instant::now() + walk.pace;
        let page = match api.list(zone_id, cursor.start(), FULL_PAGE).await {
            Ok(page) => page,
            Err(e) if e.class() == ErrorClass::Transient => {
                let delay = backoff.next().unwrap_or(walk.backoff.1).max(walk.pace);
                tracing::warn!(zone_id, error = %e, pages = out.pages, ?delay, "Reading the zone failed; retrying this page.");
                out.retries += 1;
                next_at = Instant::now() + delay;
                continue;
            }
            Err(e) => return Err(e),
        };
        backoff = fresh();
        out.pages += 1;
        feed(page.sets);
        if cursor.advance(page.next)? {
            return Ok(out);
        }
    }
}

/// Where a whole-zone listing stands: the next page's start, and how often in a row it failed to move.
#[derive(Debug, Default)]
pub struct Cursor {
    start: Option<ListStart>,
    stuck: u32,
}

impl Cursor {
    /// Where the next page starts (`None`: the zone's beginning).
    pub fn start(&self) -> Option<&ListStart> {
        self.start.as_ref()
    }

    /// Moves past a page whose continuation is `next`: true when the listing has ended. A cursor that does not
    /// advance [`STUCK_LIMIT`] times in a row ends the read with a permanent error.
    pub fn advance(&mut self, next: Option<ListStart>) -> Result<bool, DnsError> {
        match next {
            None => Ok(true),
            Some(next) if Some(&next) == self.start.as_ref() => {
                self.stuck += 1;
                if self.stuck >= STUCK_LIMIT {
                    return Err(DnsError::Permanent {
                        code: "ListingStuck".into(),
                        message: format!("the listing did not advance past {}", next.name),
                    });
                }
                Ok(false)
            }
            Some(next) => {
                (self.start, self.stuck) = (Some(next), 0);
                Ok(false)
            }
        }
    }
}
