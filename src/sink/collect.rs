//! Collects results into memory, for tests and for applications that read them after the run.

use std::sync::{Arc, Mutex};

use caudal_operators::Event;

use super::{Sink, SinkError, SinkFactory};
use crate::source::WorkerInfo;

/// A shared vector that every worker's sink appends to (one lock per message, not per record).
pub struct Collect<D> {
    records: Arc<Mutex<Vec<Event<D>>>>,
}

impl<D> Clone for Collect<D> {
    fn clone(&self) -> Self {
        Collect {
            records: self.records.clone(),
        }
    }
}

impl<D> Default for Collect<D> {
    fn default() -> Self {
        Collect {
            records: Arc::default(),
        }
    }
}

impl<D> Collect<D> {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes what has been collected so far.
    pub fn take(&self) -> Vec<Event<D>> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The data of what has been collected so far, sorted (for comparing multisets).
    pub fn sorted_data(&self) -> Vec<D>
    where
        D: Ord + Clone,
    {
        let mut data: Vec<D> = self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|e| e.data.clone())
            .collect();
        data.sort();
        data
    }
}

impl<D: Send + 'static> Sink<D> for Collect<D> {
    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(records);
        Ok(())
    }
}

impl<D: Send + 'static> SinkFactory<D> for Collect<D> {
    fn make(&self, _worker: WorkerInfo) -> Result<Box<dyn Sink<D>>, SinkError> {
        Ok(Box::new(self.clone()))
    }
}
