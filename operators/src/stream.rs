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

/// Runs `func` as a one-worker dataflow whose timestamps are [`EventTime`]s, on this thread, until it
/// is complete, and returns what `func` returned: timely's `example`, whose timestamps are `u64`, for
/// examples and tests of Caudal's operators.
///
/// ```
/// use caudal_operators::{Event, EventStream};
/// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
/// let out = caudal_operators::example(|scope| {
///     EventStream::new(vec![Event::new(-5, 'a')].to_stream(scope)).inner.capture()
/// });
/// assert_eq!(out.extract()[0].1, vec![Event::new(-5, 'a')]);
/// ```
pub fn example<T, F>(func: F) -> T
where
    T: Send + 'static,
    F: FnOnce(Scope<'_, EventTime>) -> T + Send + Sync + 'static,
{
    timely::execute_directly(|worker| worker.dataflow::<EventTime, _, _>(func))
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
