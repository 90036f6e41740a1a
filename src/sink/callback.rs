//! Hands results to application code: a callback per record, a callback per message, or a channel.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use caudal_operators::Event;

use super::{Sink, SinkError, SinkFactory};
use crate::source::WorkerInfo;

/// A function called on every record.
type RecordFn<D> = Arc<dyn Fn(&Event<D>) + Send + Sync>;

/// A function called on the records of every message, with the worker's index.
type MessageFn<D> = Arc<dyn Fn(usize, &[Event<D>]) + Send + Sync>;

/// Calls a function on every record, on the worker thread that produced it.
pub struct RecordCallback<D>(RecordFn<D>);

impl<D> RecordCallback<D> {
    /// Calls `f` on every record.
    pub fn new(f: impl Fn(&Event<D>) + Send + Sync + 'static) -> Self {
        RecordCallback(Arc::new(f))
    }
}

struct RecordSink<D>(RecordFn<D>);

impl<D: 'static> Sink<D> for RecordSink<D> {
    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        records.iter().for_each(|e| (self.0)(e));
        Ok(())
    }
}

impl<D: 'static> SinkFactory<D> for RecordCallback<D> {
    fn make(&self, _worker: WorkerInfo) -> Result<Box<dyn Sink<D>>, SinkError> {
        Ok(Box::new(RecordSink(self.0.clone())))
    }
}

/// Calls a function on the records of every message, with the worker's index.
pub struct MessageCallback<D>(MessageFn<D>);

impl<D> MessageCallback<D> {
    /// Calls `f(worker, records)` for every message.
    pub fn new(f: impl Fn(usize, &[Event<D>]) + Send + Sync + 'static) -> Self {
        MessageCallback(Arc::new(f))
    }
}

struct MessageSink<D>(MessageFn<D>, usize);

impl<D: 'static> Sink<D> for MessageSink<D> {
    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        (self.0)(self.1, records);
        Ok(())
    }
}

impl<D: 'static> SinkFactory<D> for MessageCallback<D> {
    fn make(&self, worker: WorkerInfo) -> Result<Box<dyn Sink<D>>, SinkError> {
        Ok(Box::new(MessageSink(self.0.clone(), worker.index)))
    }
}

/// Sends every record into a channel, for an application thread to receive.
pub struct ChannelSink<D>(Sender<Event<D>>);

impl<D> ChannelSink<D> {
    /// Sends into `tx`.
    pub fn new(tx: Sender<Event<D>>) -> Self {
        ChannelSink(tx)
    }
}

struct ChannelSinkWorker<D>(Sender<Event<D>>);

impl<D: Send + 'static> Sink<D> for ChannelSinkWorker<D> {
    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        for event in records.drain(..) {
            self.0.send(event).map_err(|_| SinkError::Disconnected)?;
        }
        Ok(())
    }
}

impl<D: Send + 'static> SinkFactory<D> for ChannelSink<D> {
    fn make(&self, _worker: WorkerInfo) -> Result<Box<dyn Sink<D>>, SinkError> {
        Ok(Box::new(ChannelSinkWorker(self.0.clone())))
    }
}
