//! A source fed from other threads: how an embedding application pushes records into a pipeline.
//!
//! [`channel`] returns a [`Pusher`] for the application and a factory of [`ChannelSource`]s for the
//! pipeline. The pusher deals records to the workers in turn over lock-free channels and wakes a worker
//! only when its source has drained what it had, so a steady stream costs no wake-up per record and an idle
//! pipeline sleeps. Dropping every pusher ends the input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};

use caudal_operators::{Event, EventTime};

use super::{Poll, Source, SourceContext, SourceFactory, Waker, WorkerInfo};

/// The wake-up state shared by a pusher and one worker's source.
#[derive(Default)]
struct Doorbell {
    waker: Mutex<Option<Waker>>,
    /// Set when the source has drained its channel and will wait for the waker.
    asleep: AtomicBool,
}

impl Doorbell {
    fn ring(&self) {
        if self.asleep.swap(false, Ordering::AcqRel) {
            if let Some(waker) = self
                .waker
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                waker.wake();
            }
        }
    }
}

/// The application's end: sends records into the pipeline from any thread (clone it for more threads).
pub struct Pusher<D> {
    lanes: Vec<(Sender<Event<D>>, Arc<Doorbell>)>,
    next: usize,
}

impl<D> Clone for Pusher<D> {
    fn clone(&self) -> Self {
        Pusher {
            lanes: self.lanes.clone(),
            next: self.next,
        }
    }
}

impl<D> Pusher<D> {
    /// Pushes one record with event time `time`. Returns it back if the pipeline has stopped.
    pub fn push_at(&mut self, time: EventTime, data: D) -> Result<(), D> {
        let (tx, bell) = &self.lanes[self.next];
        self.next = (self.next + 1) % self.lanes.len();
        tx.send(Event::new(time, data)).map_err(|e| e.0.data)?;
        bell.ring();
        Ok(())
    }

    /// Pushes one record at event time 0 (use a processing-time watermark to stamp it on arrival).
    pub fn push(&mut self, data: D) -> Result<(), D> {
        self.push_at(0, data)
    }
}

/// The pipeline's end: one worker's share of what the pushers send.
pub struct ChannelSource<D> {
    rx: Receiver<Event<D>>,
    bell: Arc<Doorbell>,
    read: u64,
}

impl<D: 'static> Source for ChannelSource<D> {
    type Item = D;

    fn start(&mut self, ctx: &SourceContext) {
        *self.bell.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.waker.clone());
    }

    fn poll(&mut self, out: &mut Vec<Event<D>>, budget: usize) -> Poll {
        for _ in 0..budget {
            match self.rx.try_recv() {
                Ok(event) => {
                    out.push(event);
                    self.read += 1;
                }
                Err(TryRecvError::Empty) => {
                    self.bell.asleep.store(true, Ordering::Release);
                    // A record may have come between the miss and the flag: look once more.
                    return match self.rx.try_recv() {
                        Ok(event) => {
                            out.push(event);
                            self.read += 1;
                            Poll::Ready
                        }
                        Err(TryRecvError::Empty) => Poll::Pending { wake_at: None },
                        Err(TryRecvError::Disconnected) => Poll::Done,
                    };
                }
                Err(TryRecvError::Disconnected) => return Poll::Done,
            }
        }
        Poll::Ready
    }

    fn offset(&self) -> u64 {
        self.read
    }
}

/// One worker's end of the channel and its doorbell.
type Lane<D> = (Receiver<Event<D>>, Arc<Doorbell>);

/// Hands each worker its [`ChannelSource`] (once).
pub struct ChannelSources<D> {
    lanes: Mutex<Vec<Option<Lane<D>>>>,
}

impl<D: Send + 'static> SourceFactory<D> for ChannelSources<D> {
    fn make(&self, worker: WorkerInfo) -> Box<dyn Source<Item = D>> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        match lanes.get_mut(worker.index).and_then(Option::take) {
            Some((rx, bell)) => Box::new(ChannelSource { rx, bell, read: 0 }),
            // A worker of another process, or a second build: it owns no lane.
            None => Box::new(super::Empty::default()),
        }
    }
}

/// A pusher and the sources it feeds, one lane per local worker.
pub fn channel<D: Send + 'static>(workers: usize) -> (Pusher<D>, ChannelSources<D>) {
    let mut lanes = Vec::new();
    let mut ends = Vec::new();
    for _ in 0..workers.max(1) {
        let (tx, rx) = std::sync::mpsc::channel();
        let bell = Arc::new(Doorbell::default());
        lanes.push((tx, bell.clone()));
        ends.push(Some((rx, bell)));
    }
    (
        Pusher { lanes, next: 0 },
        ChannelSources {
            lanes: Mutex::new(ends),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_dealt_to_workers_and_the_input_ends_with_the_pusher() {
        let (mut pusher, sources) = channel::<u32>(2);
        let mut s0 = sources.make(WorkerInfo { index: 0, peers: 2 });
        let mut s1 = sources.make(WorkerInfo { index: 1, peers: 2 });
        for i in 0..5 {
            pusher.push_at(i as u64, i).unwrap();
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert_eq!(s0.poll(&mut a, 100), Poll::Pending { wake_at: None });
        s1.poll(&mut b, 100);
        assert_eq!(a.iter().map(|e| e.data).collect::<Vec<_>>(), vec![0, 2, 4]);
        assert_eq!(b.iter().map(|e| e.data).collect::<Vec<_>>(), vec![1, 3]);
        drop(pusher);
        assert_eq!(s0.poll(&mut a, 100), Poll::Done);
    }
}
