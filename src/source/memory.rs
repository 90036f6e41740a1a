//! Bounded in-memory sources: a vector of records per worker.

use caudal_operators::{Event, EventTime};

use super::{Poll, Source, SourceFactory, WorkerInfo};

/// Reads a vector of events in order, then ends.
pub struct VecSource<D> {
    events: std::vec::IntoIter<Event<D>>,
    read: u64,
}

impl<D> VecSource<D> {
    /// A source of `events`, in this order.
    pub fn new(events: Vec<Event<D>>) -> Self {
        VecSource {
            events: events.into_iter(),
            read: 0,
        }
    }
}

impl<D: 'static> Source for VecSource<D> {
    type Item = D;

    fn poll(&mut self, out: &mut Vec<Event<D>>, budget: usize) -> Poll {
        let before = out.len();
        out.extend(self.events.by_ref().take(budget));
        self.read += (out.len() - before) as u64;
        if self.events.len() == 0 {
            Poll::Done
        } else {
            Poll::Ready
        }
    }

    fn offset(&self) -> u64 {
        self.read
    }

    fn replayable(&self) -> bool {
        true
    }

    fn resume(&mut self, offset: u64) -> Result<(), String> {
        let left = self.events.len() as u64;
        if offset > left {
            return Err(format!("offset {offset} is past the end ({left} records)"));
        }
        if offset > 0 {
            self.events.nth(offset as usize - 1);
        }
        self.read = offset;
        Ok(())
    }
}

/// Each worker reads the events `make(worker)` returns.
pub struct FromFn<F>(F);

impl<D, F> SourceFactory<D> for FromFn<F>
where
    D: 'static,
    F: Fn(WorkerInfo) -> Vec<Event<D>> + Send + Sync + 'static,
{
    fn make(&self, worker: WorkerInfo) -> Box<dyn Source<Item = D>> {
        Box::new(VecSource::new((self.0)(worker)))
    }
}

/// A source whose worker `w` reads `make(w)`, each record at event time = its position, in ms.
pub fn from_fn<D: 'static>(
    make: impl Fn(WorkerInfo) -> Vec<D> + Send + Sync + 'static,
) -> impl SourceFactory<D> {
    FromFn(move |w| {
        make(w)
            .into_iter()
            .enumerate()
            .map(|(i, d)| Event::new(i as EventTime, d))
            .collect()
    })
}

/// A source of `events` read by worker 0 alone (other workers read nothing).
pub fn from_events<D: Clone + Send + Sync + 'static>(
    events: Vec<Event<D>>,
) -> impl SourceFactory<D> {
    FromFn(move |w: WorkerInfo| {
        if w.index == 0 {
            events.clone()
        } else {
            Vec::new()
        }
    })
}
