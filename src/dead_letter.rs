//! Dead letters: input that could not be read, counted and reported instead of dropped or panicked on.
//!
//! Every source and parser of a run shares one [`DeadLetters`]. Each bad input is counted, the first few
//! are kept as samples for the run's report and logged, and all of them can be written to a JSON-lines
//! file. Bad input is off the hot path, so a lock here costs nothing that matters.

use std::fmt::Display;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// How many bad inputs are kept as samples for the report.
pub const SAMPLES_KEPT: usize = 5;

/// How often a dead-letter file is flushed at least.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// One input that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Where it came from (a source description such as `socket://127.0.0.1:9999`, or a parser).
    pub origin: String,
    /// The input itself, as text (invalid UTF-8 is shown with replacement characters).
    pub input: String,
    /// Why it could not be read.
    pub reason: String,
}

#[derive(Default)]
struct Inner {
    count: AtomicU64,
    samples: Mutex<Vec<DeadLetter>>,
    file: Mutex<Option<BufWriter<File>>>,
}

/// The dead-letter output of a run: a counter, samples, and optionally a JSON-lines file.
#[derive(Clone, Default)]
pub struct DeadLetters(Arc<Inner>);

impl DeadLetters {
    /// Dead letters that are counted, sampled and logged.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dead letters that are also written, one JSON object per line, to the file at `path`, as they
    /// come: buffered, and flushed at least every [`FLUSH_EVERY`] by a thread of their own (so that a
    /// killed run leaves what it had met) and at [`DeadLetters::flush`].
    pub fn with_file(path: &Path) -> std::io::Result<Self> {
        let file = File::create(path)?;
        let letters = Self::default();
        *letters.0.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(BufWriter::new(file));
        let weak = Arc::downgrade(&letters.0);
        std::thread::Builder::new()
            .name("caudal-dead-letters".into())
            .spawn(move || {
                let mut flushed = 0;
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    // The letters are gone once every handle is dropped: so is the thread.
                    let Some(inner) = weak.upgrade() else { return };
                    let count = inner.count.load(Ordering::Relaxed);
                    if count != flushed {
                        flushed = count;
                        let _ = DeadLetters(inner).flush();
                    }
                }
            })?;
        Ok(letters)
    }

    /// Records one input from `origin` that could not be read, and why.
    pub fn report(&self, origin: &str, input: &str, reason: impl Display) {
        let n = self.0.count.fetch_add(1, Ordering::Relaxed) + 1;
        let letter = DeadLetter {
            origin: origin.to_string(),
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if n <= SAMPLES_KEPT as u64 {
            tracing::warn!(origin = %letter.origin, input = %letter.input, "skipped bad input: {}", letter.reason);
        }
        if let Some(file) = self
            .0
            .file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            // A failing dead-letter file must not take the pipeline down: the count still holds.
            let written = serde_json::to_writer(&mut *file, &letter)
                .map_err(std::io::Error::from)
                .and_then(|_| writeln!(file));
            if written.is_err() {
                tracing::error!("could not write a dead letter to its file");
            }
        }
        let mut samples = self.0.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < SAMPLES_KEPT {
            samples.push(letter);
        }
    }

    /// How many inputs could not be read.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    /// The first few inputs that could not be read.
    pub fn samples(&self) -> Vec<DeadLetter> {
        self.0
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Flushes the dead-letter file, if any.
    pub fn flush(&self) -> std::io::Result<()> {
        match self
            .0
            .file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_reach_the_file_without_an_explicit_flush() {
        let dir = std::env::temp_dir().join(format!("caudal-dl-flush-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dead.jsonl");
        let dl = DeadLetters::with_file(&path).unwrap();
        dl.report("test", "oops", "not a number");
        // The flusher writes it within a second or so; wait for it (a bound, not a timing).
        let deadline = std::time::Instant::now() + FLUSH_EVERY * 10;
        while std::fs::read_to_string(&path).unwrap().is_empty()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(std::fs::read_to_string(&path).unwrap().contains("oops"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn counts_all_and_keeps_the_first_samples_and_writes_every_letter() {
        let dir = std::env::temp_dir().join(format!("caudal-dl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dead.jsonl");
        let dl = DeadLetters::with_file(&path).unwrap();
        for i in 0..8 {
            dl.report("test", &format!("line {i}"), "not a number");
        }
        dl.flush().unwrap();
        assert_eq!(dl.count(), 8);
        assert_eq!(dl.samples().len(), SAMPLES_KEPT);
        assert_eq!(dl.samples()[0].input, "line 0");
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.lines().count(), 8);
        assert!(written
            .lines()
            .last()
            .unwrap()
            .contains("\"input\":\"line 7\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
