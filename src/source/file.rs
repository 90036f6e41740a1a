//! Text files: one file read line by line, or a directory whose files are read as they appear.
//!
//! As with Spark's `textFileStream`, files must appear in a watched directory complete (written elsewhere
//! and moved in): names starting with `.` or `_`, or ending in `.tmp`, are skipped, since writers use them
//! for files in progress. Each file is read by one worker, chosen by a hash of its name; lines that are
//! not UTF-8 go to the dead letters. A file, or an unwatched directory, ends the input when read; a
//! watched directory never does (stop the run to end it).

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use caudal_operators::hash::route;
use caudal_operators::time::EventTime;
use caudal_operators::Event;

use super::lines::{read_line, sample, Line};
use super::splits::{split_count, split_of};
use super::{Poll, Source, SourceContext, WorkerInfo};
use crate::config::defaults::{FILE_SCAN_INTERVAL, MAX_LINE_BYTES};
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
    /// Lines read so far, for the dead letters' origin.
    lines: u64,
    /// Bytes read so far, line terminators included: the replay position.
    bytes: u64,
    /// Bytes still to skip when files are opened (a resumed source).
    skip: u64,
    dead_letters: DeadLetters,
    /// The longest line kept (see [`FileSource::max_line_bytes`]).
    max_line_bytes: usize,
    /// Under [`FileSource::tag_splits`]: how lines are tagged with their split.
    splits: Option<SplitTags>,
}

/// What [`FileSource::tag_splits`] keeps: the split size, the splits numbered so far, and the current
/// file's first split, split count, and the byte its next line starts at.
struct SplitTags {
    size: u64,
    made: Arc<AtomicU64>,
    first: u64,
    count: u64,
    at: u64,
}

impl SplitTags {
    /// The number of the split that holds a line of `consumed` bytes starting where the last ended.
    fn tag(&mut self, consumed: usize) -> u64 {
        let start = self.at;
        self.at += consumed as u64;
        self.first + split_of(start, self.size, self.count)
    }
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
            bytes: 0,
            skip: 0,
            dead_letters: DeadLetters::default(),
            max_line_bytes: MAX_LINE_BYTES,
            splits: None,
        }
    }

    /// Gives each line, as its time, the number of the input split that holds it, as Spark's
    /// `textFileStream` cuts a file into RDD partitions (Hadoop's splits of `size` bytes; see
    /// [`super::splits`]). Splits are numbered from 0 over the files in the order they are opened, and
    /// `made` counts the splits of every file opened so far (a split may hold no line).
    pub fn tag_splits(mut self, size: u64, made: Arc<AtomicU64>) -> Self {
        self.splits = Some(SplitTags {
            size,
            made,
            first: 0,
            count: 0,
            at: 0,
        });
        self
    }

    /// Keeps lines of at most `bytes` bytes (default [`MAX_LINE_BYTES`]): a longer one goes to the dead
    /// letters, with a sample, and reading goes on at the next line.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
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
                Ok(mut file) => {
                    let len = file.metadata().map_or(0, |m| m.len());
                    let mut skipped = 0;
                    if self.skip > 0 {
                        // A resumed source: whole files read before, then the rest of the last one.
                        let skip = self.skip.min(len);
                        self.skip -= skip;
                        self.bytes += skip;
                        if skip == len || file.seek(SeekFrom::Start(skip)).is_err() {
                            continue;
                        }
                        skipped = skip;
                    }
                    if let Some(tags) = &mut self.splits {
                        tags.count = split_count(len, tags.size);
                        tags.first = tags.made.fetch_add(tags.count, Ordering::Relaxed);
                        tags.at = skipped;
                    }
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
            match read_line(reader, &mut self.line, self.max_line_bytes) {
                Ok(Line::End) => self.current = None,
                Ok(Line::TooLong { consumed }) => {
                    if let Some(tags) = &mut self.splits {
                        tags.tag(consumed);
                    }
                    self.bytes += consumed as u64;
                    self.lines += 1;
                    let origin = format!("file://{}:{}", path.display(), self.lines);
                    self.dead_letters.report(
                        &origin,
                        &sample(&self.line),
                        format!(
                            "a line of {consumed} bytes is longer than the {} bytes a line may \
                             have; skipped to the next line",
                            self.max_line_bytes
                        ),
                    );
                }
                Ok(Line::Text { consumed: read }) => {
                    let split = self.splits.as_mut().map_or(0, |tags| tags.tag(read));
                    self.bytes += read as u64;
                    while self.line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        self.line.pop();
                    }
                    self.lines += 1;
                    match std::str::from_utf8(&self.line) {
                        Ok(text) => {
                            out.push(Event::new(split as EventTime, text.to_string()));
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

    /// The bytes read so far, line terminators included (over all files, in the order they were
    /// read): for a file, the position a restart seeks to before reading on.
    fn offset(&self) -> u64 {
        self.bytes
    }

    fn replayable(&self) -> bool {
        true
    }

    /// Skips `offset` bytes over this worker's files in the order they are read (name order): whole
    /// files first, then a seek into the last one.
    fn resume(&mut self, offset: u64) -> Result<(), String> {
        self.skip = offset;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_longer_than_the_bound_is_a_dead_letter_and_the_offset_counts_it() {
        let dir = std::env::temp_dir().join(format!("caudal-file-long-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("input.txt");
        let mut content = b"short\n".to_vec();
        content.extend(std::iter::repeat_n(b'y', 5000));
        content.extend_from_slice(b"\nafter\n");
        std::fs::write(&path, &content).unwrap();
        let letters = DeadLetters::default();
        let mut source = FileSource::new(&path, false, WorkerInfo::single()).max_line_bytes(100);
        source.dead_letters = letters.clone();
        let mut out = Vec::new();
        while source.poll(&mut out, 10) != Poll::Done {}
        let read: Vec<String> = out.into_iter().map(|e| e.data).collect();
        assert_eq!(read, ["short", "after"]);
        assert_eq!(source.offset(), content.len() as u64);
        assert_eq!(letters.count(), 1);
        let letter = &letters.samples()[0];
        assert!(letter.origin.ends_with("input.txt:2"), "{}", letter.origin);
        assert!(letter.reason.contains("5001 bytes"), "{}", letter.reason);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_offset_is_the_byte_position_a_restart_seeks_to() {
        use std::io::{BufRead, Seek, SeekFrom};

        let dir = std::env::temp_dir().join(format!("caudal-file-offset-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("input.txt");
        // Lines of different lengths, a CRLF ending, a line that is not UTF-8 (a dead letter, but
        // read all the same) and a last line without a terminator.
        let content: &[u8] = b"first\nsecond line\r\n\xff\xfe\nfourth\nlast";
        std::fs::write(&path, content).unwrap();

        let mut source = FileSource::new(&path, false, WorkerInfo::single());
        assert_eq!(source.offset(), 0);
        let mut out = Vec::new();
        assert_eq!(source.poll(&mut out, 2), Poll::Ready);
        assert_eq!(source.offset(), b"first\nsecond line\r\n".len() as u64);
        assert_eq!(source.poll(&mut out, 1), Poll::Ready);
        let offset = source.offset();
        assert_eq!(
            offset,
            b"first\nsecond line\r\n\xff\xfe\nfourth\n".len() as u64
        );

        // A restart seeks the file to the offset and reads exactly the rest.
        let mut file = File::open(&path).unwrap();
        file.seek(SeekFrom::Start(offset)).unwrap();
        let rest: Vec<String> = BufReader::new(file).lines().map(Result::unwrap).collect();
        while source.poll(&mut out, 10) != Poll::Done {}
        let read: Vec<String> = out.into_iter().map(|e| e.data).collect();
        assert_eq!(read, ["first", "second line", "fourth", "last"]);
        assert_eq!(rest, ["last"]);
        assert_eq!(source.offset(), content.len() as u64);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn skips_files_in_progress() {
        assert!(is_in_progress(".part-1"));
        assert!(is_in_progress("_COPYING_"));
        assert!(is_in_progress("x.tmp"));
        assert!(!is_in_progress("part-00000"));
    }
}
