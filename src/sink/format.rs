//! How sinks turn records into text: `Display`, or JSON with the event time.

use std::fmt::Display;
use std::io::Write;
use std::sync::Arc;

use caudal_operators::Event;
use serde::Serialize;

/// Appends one record's text to a buffer.
type WriteLine<D> = Arc<dyn Fn(&Event<D>, &mut Vec<u8>) + Send + Sync>;

/// Writes one record as one line (without the line ending).
pub struct Format<D> {
    write: WriteLine<D>,
    /// The usual file extension for this format.
    pub extension: &'static str,
}

impl<D> Clone for Format<D> {
    fn clone(&self) -> Self {
        Format {
            write: self.write.clone(),
            extension: self.extension,
        }
    }
}

impl<D: 'static> Format<D> {
    /// The record's `Display` text.
    pub fn text() -> Self
    where
        D: Display,
    {
        Format {
            write: Arc::new(|e, out| drop(write!(out, "{}", e.data))),
            extension: "txt",
        }
    }

    /// A JSON object `{"time": T, "data": ...}` (JSON lines).
    pub fn json() -> Self
    where
        D: Serialize,
    {
        Format {
            write: Arc::new(|e, out| {
                // Serializing into memory fails only for maps with non-string keys: say so in the output.
                if serde_json::to_writer(&mut *out, e).is_err() {
                    out.extend_from_slice(br#"{"error":"record could not be written as JSON"}"#);
                }
            }),
            extension: "jsonl",
        }
    }

    /// Appends `event`'s line (with `\n`) to `out`.
    #[inline]
    pub fn line(&self, event: &Event<D>, out: &mut Vec<u8>) {
        (self.write)(event, out);
        out.push(b'\n');
    }
}
