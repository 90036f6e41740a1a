//! Prints results to standard output, one line per record, flushed after every message.

use std::io::Write;

use caudal_operators::Event;

use super::{Format, Sink, SinkError, SinkFactory};
use crate::source::WorkerInfo;

/// Prints each record on its own line.
pub struct Print<D> {
    format: Format<D>,
}

impl<D: 'static> Print<D> {
    /// Prints in `format`.
    pub fn new(format: Format<D>) -> Self {
        Print { format }
    }
}

struct PrintSink<D> {
    format: Format<D>,
    buf: Vec<u8>,
}

impl<D: 'static> Sink<D> for PrintSink<D> {
    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        self.buf.clear();
        for event in records.iter() {
            self.format.line(event, &mut self.buf);
        }
        let mut out = std::io::stdout().lock();
        out.write_all(&self.buf)
            .and_then(|_| out.flush())
            .map_err(|source| SinkError::Io {
                what: "writing to standard output".into(),
                source,
            })
    }
}

impl<D: 'static> SinkFactory<D> for Print<D> {
    fn make(&self, _worker: WorkerInfo) -> Result<Box<dyn super::Sink<D>>, SinkError> {
        Ok(Box::new(PrintSink {
            format: self.format.clone(),
            buf: Vec::new(),
        }))
    }
}
