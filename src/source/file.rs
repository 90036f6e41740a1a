//! Text files: one file read line by line, or a directory whose files are read as they appear.
//!
//! As with Spark's `textFileStream`, files must appear in a watched directory complete (written elsewhere
//! and moved in): names starting with `.` or `_`, or ending in `.tmp`, are skipped, since writers use them
//! for files in progress. Each file is read by one worker, chosen by a hash of its name; lines that are
//! not UTF-8 go to the dead letters. A file, or an unwatched directory, ends the input when read; a
//! watched directory never does (stop the run to end it).

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use caudal_operators::hash::route;
use caudal_operators::Event;

use super::{Poll, Source, SourceContext, WorkerInfo};
use crate::config::defaults::FILE_SCAN_INTERVAL;
use crate::dead_letter::DeadLetters;

/// Whether a directory entry is a file still being written, by the usual naming conventions.
pub fn is_in_progress(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_') || name.ends_with(".tmp")
}

/// Reads lines from a file or a directory of files.
pub struct FileSource {
    root: PathBuf,
    directory: bool,
    watch: bool,
    worker: WorkerInfo,
    seen: HashSet<PathBuf>,
    queue: VecDeque<PathBuf>,
    current: Option<(PathBuf, BufReader<File>)>,
    next_scan: Instant,
    line: Vec<u8>,
    lines: u64,
    dead_letters: DeadLetters,
}

impl FileSource {
    /// A source that reads `path`: a file, or every file in a directory (and, if `watch`, every file that
    /// appears in it later).
    pub fn new(path: impl Into<PathBuf>, watch: bool, worker: WorkerInfo) -> Self {
        let root = path.into();
        FileSource {
            directory: root.is_dir(),
            root,
            watch,
            worker,
            seen: HashSet::new(),
            queue: VecDeque::new(),
            current: None,
            next_scan: Instant::now(),
            line: Vec::new(),
            lines: 0,
            dead_letters: DeadLetters::default(),
        }
    }

    fn origin(&self) -> String {
        format!("file://{}", self.root.display())
    }

    /// Queues the files this worker has not read yet, in name order.
    fn scan(&mut self) {
        self.next_scan = Instant::now() + FILE_SCAN_INTERVAL;
        if !self.directory {
            if self.seen.insert(self.root.clone()) && self.worker.index == 0 {
                self.queue.push_back(self.root.clone());
            }
            return;
        }
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) => {
                self.dead_letters.report(
                    &self.origin(),
                    "",
                    format!("cannot list {}: {e}", self.root.display()),
                );
                return;
            }
        };
        let mut fresh: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .filter(|p| !is_in_progress(&file_name(p)))
            .filter(|p| !self.seen.contains(p))
            .collect();
        fresh.sort();
        for path in fresh {
            self.seen.insert(path.clone());
            if route(&file_name(&path)) % self.worker.peers as u64 == self.worker.index as u64 {
                self.queue.push_back(path);
            }
        }
    }

    /// Opens the next queued file; `false` if there is none.
    fn open_next(&mut self) -> bool {
        while let Some(path) = self.queue.pop_front() {
            match File::open(&path) {
                Ok(file) => {
                    self.current = Some((path, BufReader::new(file)));
                    return true;
                }
                Err(e) => self.dead_letters.report(
                    &self.origin(),
                    "",
                    format!("cannot open {}: {e}", path.display()),
                ),
            }
        }
        false
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Source for FileSource {
    type Item = String;

    fn start(&mut self, ctx: &SourceContext) {
        self.dead_letters = ctx.dead_letters.clone();
        if !self.root.exists() {
            self.dead_letters
                .report(&self.origin(), "", "no such file or directory");
        }
    }

    fn poll(&mut self, out: &mut Vec<Event<String>>, budget: usize) -> Poll {
        if self.seen.is_empty() || (self.watch && Instant::now() >= self.next_scan) {
            self.scan();
        }
        let mut taken = 0;
        while taken < budget {
            if self.current.is_none() && !self.open_next() {
                break;
            }
            let (path, reader) = self.current.as_mut().expect("a file is open");
            self.line.clear();
            match reader.read_until(b'\n', &mut self.line) {
                Ok(0) => self.current = None,
                Ok(_) => {
                    while self.line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        self.line.pop();
                    }
                    self.lines += 1;
                    match std::str::from_utf8(&self.line) {
                        Ok(text) => {
                            out.push(Event::new(0, text.to_string()));
                            taken += 1;
                        }
                        Err(e) => {
                            let origin = format!("file://{}:{}", path.display(), self.lines);
                            self.dead_letters.report(
                                &origin,
                                &String::from_utf8_lossy(&self.line),
                                format!("not UTF-8 text: {e}"),
                            );
                        }
                    }
                }
                Err(e) => {
                    let msg = format!("cannot read {}: {e}", path.display());
                    self.dead_letters.report(&self.origin(), "", msg);
                    self.current = None;
                }
            }
        }
        if taken == budget {
            Poll::Ready
        } else if self.watch && self.directory {
            Poll::Pending {
                wake_at: Some(self.next_scan),
            }
        } else {
            Poll::Done
        }
    }

    fn offset(&self) -> u64 {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_files_in_progress() {
        assert!(is_in_progress(".part-1"));
        assert!(is_in_progress("_COPYING_"));
        assert!(is_in_progress("x.tmp"));
        assert!(!is_in_progress("part-00000"));
    }
}
