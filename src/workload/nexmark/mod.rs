//! NEXMark's event stream (people, auctions, bids), a compact port of the reference generator.
//!
//! The reference is the `nexmark` crate 0.2 (the Rust port of the Beam/Flink generator). Event `seq` of
//! its stream is a pure function of the configuration and `seq`: a random generator seeded by the
//! event's id draws the event's fields. This port draws the same numbers in the same order but keeps
//! only what the queries read ([`event`]): small `Copy` structs, no `String`, no allocation, so any
//! worker can make any part of the stream (the tests check it field by field against the crate).
//!
//! Event times are the generator's own (`event_timestamp`): `base_time` plus the event's number over
//! the configured rate of event time (10,000 events/s by default). The [`Workload`] gives them to
//! Caudal's generator source ([`crate::source::generator`]), which splits the stream between workers
//! and paces it as it does every workload.
//!
//! ```
//! use caudal::workload::nexmark::{Nexmark, NexmarkConfig, NexmarkEvent};
//! use caudal::workload::Workload;
//! let stream = Nexmark::new(NexmarkConfig::default());
//! // One person, then 3 auctions, then 46 bids, in every 50 events.
//! assert!(matches!(stream.record(0), NexmarkEvent::Person(p) if p.id == 1000));
//! assert!(matches!(stream.record(1), NexmarkEvent::Auction(a) if a.id == 1000));
//! assert!(matches!(stream.record(4), NexmarkEvent::Bid(_)));
//! assert_eq!(stream.event_time(10_000), Some(1000)); // 10,000 events per second
//! ```

pub mod config;
pub mod event;
pub mod generator;
pub mod rng;

pub use config::{Derived, EventKind, NexmarkConfig, RateShape};
pub use event::{Auction, Bid, Channel, Name, NexmarkEvent, Person};

use super::Workload;

/// The NEXMark stream of a configuration.
#[derive(Clone, Debug)]
pub struct Nexmark {
    config: Derived,
}

impl Nexmark {
    /// The stream `config` describes.
    pub fn new(config: NexmarkConfig) -> Self {
        Nexmark {
            config: config.into(),
        }
    }

    /// The configuration, with what is derived from it.
    pub fn config(&self) -> &Derived {
        &self.config
    }
}

impl Default for Nexmark {
    fn default() -> Self {
        Nexmark::new(NexmarkConfig::default())
    }
}

impl Workload for Nexmark {
    type Record = NexmarkEvent;

    #[inline]
    fn record(&self, seq: u64) -> NexmarkEvent {
        generator::event(&self.config, self.config.event_number(seq))
    }

    #[inline]
    fn event_time(&self, seq: u64) -> Option<u64> {
        Some(self.config.event_timestamp(self.config.event_number(seq)))
    }
}
