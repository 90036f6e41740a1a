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

    /// The same lines, each with a deterministic id ([`record_id`]) for a reader that deduplicates:
    /// `{"id":"<16 hex digits>",...}` in JSON, `<16 hex digits>` and a tab before the text otherwise.
    ///
    /// This is idempotent output, the low-latency alternative to exactly-once: under at-least-once
    /// a result is written as soon as it is made, and a result made again after a crash (the input
    /// after the last checkpoint is read again) has the same id, so a reader that keeps one record
    /// per id (an upsert by id, a set) sees each result once. The id is a hash of the result's data
    /// as written (the text, or the JSON of `data`), not of its event time: which record of a key
    /// comes n-th, and so the time of a running count's n-th result, can differ between runs when
    /// the key's records come from several workers, while the result itself does not. So results
    /// must carry what identifies them, as keyed and windowed results do (their key, window and
    /// value); a stateless pipeline over repeated input should add something unique (an offset, a
    /// sequence number) if its repeats matter.
    pub fn with_ids(self) -> Self {
        let inner = self.write;
        let json = self.extension == "jsonl";
        Format {
            write: Arc::new(move |event, out| {
                let start = out.len();
                inner(event, out);
                let line = &out[start..];
                let data = match json {
                    true => find(line, br#""data":"#).map_or(line, |at| &line[at + 7..]),
                    false => line,
                };
                let id = record_id(data);
                // Inside the JSON object, or before the text.
                let in_object = json && out.get(start) == Some(&b'{');
                let mut prefix = [0u8; 24];
                let len = {
                    let mut cursor = std::io::Cursor::new(&mut prefix[..]);
                    let written = match in_object {
                        true => write!(cursor, "\"id\":\"{id:016x}\","),
                        false => write!(cursor, "{id:016x}\t"),
                    };
                    written.map_or(0, |()| cursor.position() as usize)
                };
                let at = start + usize::from(in_object);
                out.splice(at..at, prefix[..len].iter().copied());
            }),
            extension: self.extension,
        }
    }
}

/// A result's id for idempotent output ([`Format::with_ids`]): FNV-1a (64 bits) over its data as
/// written, so the same result gets the same id in every run and version.
pub fn record_id(data: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    data.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// Where `needle` first starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines<D: 'static>(format: &Format<D>, events: &[Event<D>]) -> String {
        let mut out = Vec::new();
        for event in events {
            format.line(event, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ids_are_the_same_for_the_same_result_and_differ_otherwise() {
        let events = [
            Event::new(5, "a".to_string()),
            // The same result at another event time (a running count's n-th result may come from
            // another record in another run): the same id.
            Event::new(6, "a".to_string()),
            Event::new(5, "b".to_string()),
        ];
        let text = lines(&Format::text().with_ids(), &events);
        let ids: Vec<&str> = text
            .lines()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
        assert_eq!(ids[0], format!("{:016x}", record_id(b"a")));
        assert!(text.lines().all(|l| l.len() == 16 + 1 + 1), "{text}");
        // In JSON the id covers the data's JSON, and each line stays one valid object, id first.
        let json = lines(&Format::json().with_ids(), &events);
        let values: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(values[0]["data"], "a");
        assert_eq!(values[0]["time"], 5);
        assert_eq!(values[0]["id"], format!("{:016x}", record_id(br#""a"}"#)));
        assert_eq!(values[0]["id"], values[1]["id"]);
        assert_ne!(values[0]["id"], values[2]["id"]);
        assert!(json.starts_with(r#"{"id":""#), "{json}");
    }

    #[test]
    fn the_id_function_is_fnv_1a() {
        // Published FNV-1a 64 values: the empty input is the offset basis.
        assert_eq!(record_id(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(record_id(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
