//! [`EventStream`]: a timely stream of [`Event`]s, the type every Caudal operator takes and returns.
//!
//! It is a thin wrapper around timely's `StreamVec<EventTime, Event<D>>`, in the way differential's
//! `Collection` wraps a stream: methods on it are inherent, so they never clash with timely's own operator
//! traits when those are imported too, and `inner` gives the timely stream back for custom operators.

use timely::dataflow::{Scope, StreamVec};

use crate::time::{Event, EventTime};

/// A timely input handle that feeds events by hand (tests, benchmarks, replays).
pub type EventInput<D> = timely::dataflow::InputHandle<
    EventTime,
    timely::container::CapacityContainerBuilder<Vec<Event<D>>>,
>;

/// A stream of records with event times; its timely frontier is the watermark plus one.
pub struct EventStream<'scope, D: 'static> {
    /// The underlying timely stream.
    pub inner: StreamVec<'scope, EventTime, Event<D>>,
}

impl<'scope, D: 'static> EventStream<'scope, D> {
    /// Wraps a timely stream of events.
    pub fn new(inner: StreamVec<'scope, EventTime, Event<D>>) -> Self {
        EventStream { inner }
    }

    /// The scope the stream lives in.
    pub fn scope(&self) -> Scope<'scope, EventTime> {
        self.inner.scope()
    }
}

impl<D: Clone + 'static> Clone for EventStream<'_, D> {
    fn clone(&self) -> Self {
        EventStream {
            inner: self.inner.clone(),
        }
    }
}

impl<'scope, D: 'static> From<StreamVec<'scope, EventTime, Event<D>>> for EventStream<'scope, D> {
    fn from(inner: StreamVec<'scope, EventTime, Event<D>>) -> Self {
        EventStream { inner }
    }
}
