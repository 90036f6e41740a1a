//! Stateless operators: map, flat_map, filter, union, key_by, repartition, inspect.
//!
//! Each keeps the event time of the record it came from and adds no latency: a record passes on the
//! worker step that receives it, whatever the frontier.

use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::{Filter, Map};
use timely::dataflow::operators::{Concatenate, Inspect};
use timely::ExchangeData;

use crate::exchange::{ExchangeGauge, Metered};
use crate::hash::route;
use crate::stream::EventStream;
use crate::time::{Event, EventTime};

/// How [`EventStream::repartition`] spreads records over the workers.
pub enum Partitioning<D> {
    /// Every record with the same hash goes to the same worker (`hash` is hashed again before routing).
    ByHash(Box<dyn Fn(&D) -> u64>),
    /// Records are dealt to the workers in turn, to even out a skewed stream.
    RoundRobin,
}

impl<D> Partitioning<D> {
    /// Partitioning by a key extracted from each record.
    pub fn by_key<K: std::hash::Hash>(key: impl Fn(&D) -> K + 'static) -> Self {
        Partitioning::ByHash(Box::new(move |d| route(&key(d))))
    }
}

impl<'scope, D: 'static> EventStream<'scope, D> {
    /// Applies `logic` to every record's data, keeping its event time.
    ///
    /// ```
    /// use caudal_operators::{Event, EventStream};
    /// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
    /// let out = caudal_operators::example(|scope| {
    ///     let s = EventStream::new(vec![Event::new(5, 2u64)].to_stream(scope));
    ///     s.map(|x| x * 10).inner.capture()
    /// });
    /// assert_eq!(out.extract()[0].1, vec![Event::new(5, 20u64)]);
    /// ```
    pub fn map<D2: 'static>(
        self,
        mut logic: impl FnMut(D) -> D2 + 'static,
    ) -> EventStream<'scope, D2> {
        EventStream::new(self.inner.map(move |e| Event {
            time: e.time,
            data: logic(e.data),
        }))
    }

    /// Applies `logic` to every record's data and emits each item it yields at the record's event time.
    pub fn flat_map<I: IntoIterator + 'static>(
        self,
        mut logic: impl FnMut(D) -> I + 'static,
    ) -> EventStream<'scope, I::Item>
    where
        I::Item: 'static,
    {
        EventStream::new(self.inner.flat_map(move |e| {
            let time = e.time;
            logic(e.data)
                .into_iter()
                .map(move |data| Event { time, data })
        }))
    }

    /// Keeps the records for which `predicate` holds.
    pub fn filter(self, mut predicate: impl FnMut(&D) -> bool + 'static) -> Self {
        EventStream::new(self.inner.filter(move |e| predicate(&e.data)))
    }

    /// Pairs every record with a key computed from it, for the keyed operators.
    pub fn key_by<K: 'static>(
        self,
        mut key: impl FnMut(&D) -> K + 'static,
    ) -> EventStream<'scope, (K, D)> {
        self.map(move |d| (key(&d), d))
    }

    /// Changes every record's event time to `time(&data)` (a timestamp extractor, Flink's
    /// `TimestampAssigner`): signed ms since the Unix epoch, negative before 1970.
    pub fn assign_event_time(self, mut time: impl FnMut(&D) -> EventTime + 'static) -> Self {
        EventStream::new(self.inner.map(move |e| Event {
            time: time(&e.data),
            data: e.data,
        }))
    }

    /// Calls `action` on every record as it passes.
    pub fn inspect(self, mut action: impl FnMut(&Event<D>) + 'static) -> Self {
        EventStream::new(self.inner.inspect(move |e| action(e)))
    }

    /// Merges this stream with `others` into one stream; the frontier is the least of theirs.
    pub fn union(self, others: impl IntoIterator<Item = Self>) -> Self {
        let scope = self.scope();
        let streams: Vec<_> = std::iter::once(self.inner)
            .chain(others.into_iter().map(|s| s.inner))
            .collect();
        EventStream::new(scope.concatenate(streams))
    }
}

impl<'scope, D: ExchangeData> EventStream<'scope, D> {
    /// Moves records between workers as `how` says (records must be serde-serializable to do so).
    pub fn repartition(self, how: Partitioning<D>) -> Self {
        match how {
            Partitioning::ByHash(hash) => {
                self.exchange_by(move |e: &Event<D>| route(&hash(&e.data)))
            }
            Partitioning::RoundRobin => {
                let mut next = 0u64;
                // Routing uses the low bits (or the remainder): a plain counter deals records in turn.
                self.exchange_by(move |_: &Event<D>| {
                    next = next.wrapping_add(1);
                    next
                })
            }
        }
    }

    /// Sends each record to the worker `route` picks, through the process's metered exchange (see
    /// [`crate::exchange`]), so that sources stop reading while a worker has too much waiting.
    fn exchange_by(self, route: impl FnMut(&Event<D>) -> u64 + 'static) -> Self {
        let gauge = ExchangeGauge::of(self.scope());
        EventStream::new(
            self.inner
                .unary(Metered::new(route, gauge), "Exchange", |_, _| {
                    move |input, output| {
                        input.for_each_stamp(|stamp, data| {
                            output.session(&stamp).give_containers(data);
                        });
                    }
                }),
        )
    }
}
