//! [`SourceCheckpoint`]: one source instance's side of the checkpoint rounds: it sees a round, raises
//! its cut, pauses when its watermark reaches the cut, and goes on once the round is taken (see the
//! [module documentation](super)).

use std::collections::VecDeque;
use std::sync::Arc;

use caudal_operators::EventTime;

use super::store::SourcePart;
use super::Coordinator;

/// One source instance's side of the checkpoint rounds.
#[derive(Clone)]
pub(crate) struct SourceCheckpoint {
    coord: Arc<Coordinator>,
    slot: usize,
    /// The last round it has seen.
    seen: u64,
    /// The round it is paused for.
    paused: Option<u64>,
    /// The offsets it paused at, by round, until those rounds are complete.
    offsets: VecDeque<(u64, u64)>,
}

impl SourceCheckpoint {
    /// Registers source `name` of `worker`; returns its side of the rounds and where the checkpoint
    /// being resumed left it.
    pub(crate) fn register(
        coord: Arc<Coordinator>,
        worker: usize,
        name: &str,
    ) -> (Self, Option<SourcePart>) {
        let (slot, restored) = coord.register_source(worker, name);
        let seen = coord.requested();
        (
            SourceCheckpoint {
                coord,
                slot,
                seen,
                paused: None,
                offsets: VecDeque::new(),
            },
            restored,
        )
    }

    /// At the start of an activation, with the capability at `frontier`: whether the source must stay
    /// paused (read nothing, emit nothing).
    #[inline]
    pub(crate) fn hold(&mut self, frontier: EventTime) -> bool {
        if let Some(epoch) = self.paused {
            if self.coord.resumed() >= epoch {
                self.paused = None;
            } else if self.coord.cut() > frontier {
                // Another instance raised the cut above us: read on to it.
                self.coord.source_unpauses(self.slot);
                self.paused = None;
            } else {
                return true;
            }
        }
        let requested = self.coord.requested();
        if requested > self.seen {
            self.seen = requested;
            self.coord.source_sees(self.slot, requested, frontier);
        }
        false
    }

    /// Whether a round this instance has seen is open and it has not paused for it yet.
    #[inline]
    pub(crate) fn round_pending(&self) -> bool {
        self.paused.is_none() && self.seen > self.coord.resumed()
    }

    /// Whether it is paused at the cut of a round.
    #[inline]
    pub(crate) fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// The cut of the open round.
    #[inline]
    pub(crate) fn cut(&self) -> EventTime {
        self.coord.cut()
    }

    /// How long an instance behind the cut may read nothing before it moves up to the cut.
    #[inline]
    pub(crate) fn quiet_source(&self) -> std::time::Duration {
        self.coord.config().quiet_source
    }

    /// After the capability moved to `frontier`: pauses if it has reached the cut of an open round,
    /// with the part `part` makes. Returns whether it paused.
    #[inline]
    pub(crate) fn maybe_pause(
        &mut self,
        frontier: EventTime,
        part: impl FnOnce() -> SourcePart,
    ) -> bool {
        if !self.round_pending() || frontier < self.coord.cut() {
            return false;
        }
        let part = part();
        self.offsets.push_back((self.seen, part.offset));
        self.coord.source_pauses(self.slot, self.seen, part);
        self.paused = Some(self.seen);
        true
    }

    /// The offset of the newest checkpoint that has become complete since the last call, if any: the
    /// source will never be asked for the input before it again.
    #[inline]
    pub(crate) fn newly_complete(&mut self) -> Option<u64> {
        let &(epoch, _) = self.offsets.front()?;
        let complete = self.coord.complete();
        if epoch > complete {
            return None;
        }
        let mut offset = None;
        while self.offsets.front().is_some_and(|(e, _)| *e <= complete) {
            offset = self.offsets.pop_front().map(|(_, o)| o);
        }
        offset
    }

    /// The source's input has ended, at `part`.
    pub(crate) fn done(&mut self, part: SourcePart) {
        self.coord.source_done(self.slot, part);
    }
}
