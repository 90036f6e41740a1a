//! A write-ahead log: how a source that cannot read its input again (a TCP socket) keeps what it has
//! received, so that a run resumed from a checkpoint replays it (Spark's receiver write-ahead log).
//!
//! The log is a directory of segments, `NNNNNNNNNNNNNNNNNNNN.wal` named by the index of their first record
//! (a record's index is the source's [`offset`](super::Source::offset) before it). A segment starts with a
//! header (magic `CAUDALWL`, format version, first index) followed by frames: the payload's length, its
//! CRC-32, the payload. The source appends what it receives, [`WriteAheadLog::sync`]s it (one `fdatasync`
//! per read buffer, not per record), and only then hands it to the dataflow, so every record that can have
//! reached an operator or an output is on disk.
//!
//! Opening the log checks every segment: a frame torn at the end of the last segment (a write the crash
//! cut short, which was never synced and so never handed over) is cut off; any other damage, or a gap
//! between segments, is an error that names the file. Segments that only hold records before the offset
//! of a complete checkpoint are deleted ([`WriteAheadLog::truncate_before`]).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CAUDALWL";
const VERSION: u32 = 1;
const HEADER: u64 = 8 + 4 + 8;
const FRAME_HEADER: u64 = 8;
/// The largest frame the log accepts: anything longer in a file is damage, not a record.
const MAX_FRAME: u32 = 1 << 30;

/// What can go wrong with a write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A file could not be read, written or synced.
    #[error("write-ahead log {}: {what}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A segment is damaged.
    #[error("write-ahead log {}: {what}; the log cannot be replayed (move the directory away to start afresh, losing what it held)", path.display())]
    Damaged {
        /// The segment.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The log no longer holds records a replay asks for.
    #[error("write-ahead log {}: replay from record {from} asked for, but the log holds records {first}..{end} only", dir.display())]
    Missing {
        /// The log's directory.
        dir: PathBuf,
        /// The first record asked for.
        from: u64,
        /// The first record it holds.
        first: u64,
        /// One past the last record it holds.
        end: u64,
    },
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> WalError + 'a {
    move |source| WalError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A segment: where it is, and which records it holds.
#[derive(Clone, Debug)]
struct Segment {
    path: PathBuf,
    first: u64,
    /// One past its last record.
    end: u64,
}

/// The segment being appended to.
struct Open {
    segment: Segment,
    file: BufWriter<File>,
    bytes: u64,
}

/// A write-ahead log in a directory of its own (see the [module documentation](self)).
pub struct WriteAheadLog {
    dir: PathBuf,
    /// Segments no longer appended to, oldest first.
    closed: VecDeque<Segment>,
    open: Option<Open>,
    /// The index the next record gets.
    next: u64,
    /// A segment is closed once it holds this many bytes.
    segment_bytes: u64,
}

impl WriteAheadLog {
    /// Opens the log in `dir` (created if missing), checking what it holds; new records go to a new
    /// segment once the current one has `segment_bytes`.
    pub fn open(dir: impl Into<PathBuf>, segment_bytes: u64) -> Result<Self, WalError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error("cannot create the directory", &dir))?;
        let mut named = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_error("cannot list the directory", &dir))? {
            let entry = entry.map_err(io_error("cannot list the directory", &dir))?;
            let path = entry.path();
            let Some(first) = segment_index(&path) else {
                continue;
            };
            named.push((first, path));
        }
        named.sort();
        let mut closed = VecDeque::new();
        let count = named.len();
        for (i, (first, path)) in named.into_iter().enumerate() {
            let last = i + 1 == count;
            let end = scan(&path, first, last)?;
            if let Some(previous) = closed.back().map(|s: &Segment| s.end) {
                if previous != first {
                    return Err(WalError::Damaged {
                        path,
                        what: format!(
                            "starts at record {first}, but the segment before it ends at {previous}"
                        ),
                    });
                }
            }
            if end == first {
                // Nothing in it (created just before a crash): the next segment takes its name.
                fs::remove_file(&path)
                    .map_err(io_error("cannot remove an empty segment", &path))?;
                continue;
            }
            closed.push_back(Segment { path, first, end });
        }
        let next = closed.back().map_or(0, |s| s.end);
        Ok(WriteAheadLog {
            dir,
            closed,
            open: None,
            next,
            segment_bytes: segment_bytes.max(1),
        })
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index of the first record it holds.
    pub fn first(&self) -> u64 {
        self.closed
            .front()
            .or(self.open.as_ref().map(|o| &o.segment))
            .map_or(self.next, |s| s.first)
    }

    /// One past the index of the last record it holds: the index the next record gets.
    pub fn end(&self) -> u64 {
        self.next
    }

    /// Appends one record (buffered: [`WriteAheadLog::sync`] makes it durable).
    pub fn append(&mut self, payload: &[u8]) -> Result<(), WalError> {
        if self
            .open
            .as_ref()
            .is_none_or(|o| o.bytes >= self.segment_bytes)
        {
            self.roll()?;
        }
        let open = self.open.as_mut().expect("rolled above");
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|len| *len <= MAX_FRAME)
            .ok_or_else(|| WalError::Io {
                what: "cannot log a record this long",
                path: open.segment.path.clone(),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            })?;
        let write = |file: &mut BufWriter<File>| -> io::Result<()> {
            file.write_all(&len.to_le_bytes())?;
            file.write_all(&crc32fast::hash(payload).to_le_bytes())?;
            file.write_all(payload)
        };
        write(&mut open.file).map_err(io_error("cannot append", &open.segment.path))?;
        open.bytes += FRAME_HEADER + payload.len() as u64;
        self.next += 1;
        open.segment.end = self.next;
        Ok(())
    }

    /// Makes everything appended so far durable (`fdatasync`).
    pub fn sync(&mut self) -> Result<(), WalError> {
        if let Some(open) = self.open.as_mut() {
            let path = &open.segment.path;
            open.file.flush().map_err(io_error("cannot write", path))?;
            open.file
                .get_ref()
                .sync_data()
                .map_err(io_error("cannot sync", path))?;
        }
        Ok(())
    }

    /// Deletes the segments that hold only records before `index` (a complete checkpoint's offset:
    /// they will never be replayed). The segment being appended to stays.
    pub fn truncate_before(&mut self, index: u64) -> Result<(), WalError> {
        while self.closed.front().is_some_and(|s| s.end <= index) {
            let segment = self.closed.pop_front().expect("front checked");
            fs::remove_file(&segment.path)
                .map_err(io_error("cannot remove a replayed segment", &segment.path))?;
        }
        Ok(())
    }

    /// The records from index `from` to the current end, read lazily, oldest first.
    pub fn replay(&self, from: u64) -> Result<Replay, WalError> {
        let (first, end) = (self.first(), self.end());
        if from < first || from > end {
            return Err(WalError::Missing {
                dir: self.dir.clone(),
                from,
                first,
                end,
            });
        }
        let segments = self
            .closed
            .iter()
            .chain(self.open.as_ref().map(|o| &o.segment))
            .filter(|s| s.end > from)
            .cloned()
            .collect();
        Ok(Replay {
            segments,
            reader: None,
            next: from,
            end,
            payload: Vec::new(),
        })
    }

    /// Closes the open segment (synced) and opens a new one named after the next record.
    fn roll(&mut self) -> Result<(), WalError> {
        self.sync()?;
        if let Some(open) = self.open.take() {
            self.closed.push_back(open.segment);
        }
        let path = self.dir.join(format!("{:020}.wal", self.next));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error("cannot create a segment", &path))?;
        let mut file = BufWriter::with_capacity(256 << 10, file);
        let header = |file: &mut BufWriter<File>| -> io::Result<()> {
            file.write_all(MAGIC)?;
            file.write_all(&VERSION.to_le_bytes())?;
            file.write_all(&self.next.to_le_bytes())?;
            file.flush()?;
            file.get_ref().sync_all()
        };
        header(&mut file).map_err(io_error("cannot write a segment's header", &path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("cannot sync the directory", &self.dir))?;
        self.open = Some(Open {
            segment: Segment {
                path,
                first: self.next,
                end: self.next,
            },
            file,
            bytes: HEADER,
        });
        Ok(())
    }
}

/// The first index in a segment's file name, if `path` is a segment.
fn segment_index(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Checks segment `path`, whose name says it starts at record `first`; returns one past its last
/// record. In the last segment, a frame torn at the end is cut off.
fn scan(path: &Path, first: u64, last: bool) -> Result<u64, WalError> {
    let damaged = |what: String| WalError::Damaged {
        path: path.to_path_buf(),
        what,
    };
    let file = File::open(path).map_err(io_error("cannot open", path))?;
    let len = file
        .metadata()
        .map_err(io_error("cannot open", path))?
        .len();
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let mut header = [0u8; HEADER as usize];
    if len < HEADER || reader.read_exact(&mut header).is_err() {
        if last {
            // Created, then cut short by a crash before its header was synced: holds nothing.
            return Ok(first);
        }
        return Err(damaged(format!("shorter ({len} bytes) than its header")));
    }
    if &header[..8] != MAGIC {
        return Err(damaged(
            "not a write-ahead log segment (wrong magic)".into(),
        ));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(damaged(format!(
            "format version {version}, but this build reads version {VERSION}"
        )));
    }
    let named = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    if named != first {
        return Err(damaged(format!(
            "its header says it starts at record {named}, its name says {first}"
        )));
    }
    let mut at = HEADER;
    let mut index = first;
    let mut payload = Vec::new();
    while at < len {
        match read_frame(&mut reader, &mut payload) {
            Ok(true) => {
                at += FRAME_HEADER + payload.len() as u64;
                index += 1;
            }
            Ok(false) => break,
            Err(what) => {
                // A torn last write: the bad frame runs to the end of the last segment.
                if !last || !frame_reaches_end(path, at, len)? {
                    return Err(damaged(format!("record {index} at byte {at}: {what}")));
                }
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| {
                        f.set_len(at)?;
                        f.sync_all()
                    })
                    .map_err(io_error("cannot cut off a torn record", path))?;
                tracing::warn!(
                    "write-ahead log {}: cut off a record torn by a crash at byte {at} (it was never handed to the dataflow)",
                    path.display()
                );
                break;
            }
        }
    }
    Ok(index)
}

/// Whether the frame at byte `at` of `path` (of length `len`) claims to run to the end of the file or
/// past it: a torn write, rather than damage in the middle.
fn frame_reaches_end(path: &Path, at: u64, len: u64) -> Result<bool, WalError> {
    let mut file = File::open(path).map_err(io_error("cannot open", path))?;
    file.seek(SeekFrom::Start(at))
        .map_err(io_error("cannot read", path))?;
    let mut word = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match file.read(&mut word[got..]) {
            Ok(0) => return Ok(true),
            Ok(n) => got += n,
            Err(e) => return Err(io_error("cannot read", path)(e)),
        }
    }
    let frame_len = u32::from_le_bytes(word) as u64;
    Ok(at + FRAME_HEADER + frame_len >= len)
}

/// Reads one frame into `payload`: `Ok(false)` at a clean end of file, `Err` if the frame is cut short
/// or its checksum does not match.
fn read_frame(reader: &mut impl Read, payload: &mut Vec<u8>) -> Result<bool, String> {
    let mut head = [0u8; FRAME_HEADER as usize];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err("cut short in its frame header".into()),
            Ok(n) => got += n,
            Err(e) => return Err(format!("cannot read: {e}")),
        }
    }
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
    if len > MAX_FRAME {
        return Err(format!("frame length {len} is beyond any record"));
    }
    payload.clear();
    payload.resize(len as usize, 0);
    reader
        .read_exact(payload)
        .map_err(|_| "cut short in its payload".to_string())?;
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    Ok(true)
}

/// The records of a log from an index on (see [`WriteAheadLog::replay`]).
pub struct Replay {
    segments: VecDeque<Segment>,
    reader: Option<(BufReader<File>, PathBuf)>,
    next: u64,
    end: u64,
    payload: Vec<u8>,
}

impl Replay {
    /// The next record, or `None` once the records that were in the log when the replay was made have
    /// all been read.
    pub fn next_record(&mut self) -> Option<Result<&[u8], WalError>> {
        loop {
            if self.next >= self.end {
                return None;
            }
            if self.reader.is_none() {
                let segment = self.segments.pop_front()?;
                let opened = File::open(&segment.path)
                    .and_then(|f| {
                        let mut r = BufReader::with_capacity(256 << 10, f);
                        r.seek(SeekFrom::Start(HEADER))?;
                        Ok(r)
                    })
                    .map_err(io_error("cannot open", &segment.path));
                match opened {
                    Ok(r) => {
                        // Records before `next` in this segment are skipped below.
                        let skip = self.next.saturating_sub(segment.first);
                        let mut reader = (r, segment.path);
                        for _ in 0..skip {
                            if let Err(e) = self.read_one(&mut reader) {
                                return Some(Err(e));
                            }
                        }
                        self.reader = Some(reader);
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            let mut reader = self.reader.take().expect("opened above");
            match read_frame(&mut reader.0, &mut self.payload) {
                Ok(true) => {
                    self.reader = Some(reader);
                    self.next += 1;
                    return Some(Ok(&self.payload));
                }
                // The end of this segment: on to the next.
                Ok(false) => continue,
                Err(what) => {
                    return Some(Err(WalError::Damaged {
                        path: reader.1,
                        what: format!("record {}: {what}", self.next),
                    }))
                }
            }
        }
    }

    fn read_one(&mut self, reader: &mut (BufReader<File>, PathBuf)) -> Result<(), WalError> {
        match read_frame(&mut reader.0, &mut self.payload) {
            Ok(true) => Ok(()),
            Ok(false) => Err(WalError::Damaged {
                path: reader.1.clone(),
                what: "ends before the records its name promises".into(),
            }),
            Err(what) => Err(WalError::Damaged {
                path: reader.1.clone(),
                what,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(log: &WriteAheadLog, from: u64) -> Vec<String> {
        let mut replay = log.replay(from).unwrap();
        let mut out = Vec::new();
        while let Some(r) = replay.next_record() {
            out.push(String::from_utf8(r.unwrap().to_vec()).unwrap());
        }
        out
    }

    fn temp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "caudal-wal-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn records_survive_a_reopen_and_replay_from_any_index() {
        let dir = temp();
        let mut log = WriteAheadLog::open(&dir, 64).unwrap();
        for i in 0..20 {
            log.append(format!("line {i}").as_bytes()).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        let mut log = WriteAheadLog::open(&dir, 64).unwrap();
        assert_eq!((log.first(), log.end()), (0, 20));
        assert_eq!(records(&log, 17), vec!["line 17", "line 18", "line 19"]);
        log.append(b"line 20").unwrap();
        log.sync().unwrap();
        assert_eq!(records(&log, 0).len(), 21);
        assert_eq!(records(&log, 20), vec!["line 20"]);
        assert!(records(&log, 21).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncation_drops_whole_segments_only_and_a_replay_before_them_is_refused() {
        let dir = temp();
        let mut log = WriteAheadLog::open(&dir, 64).unwrap();
        for i in 0..30 {
            log.append(format!("record {i:03}").as_bytes()).unwrap();
        }
        log.sync().unwrap();
        log.truncate_before(12).unwrap();
        let first = log.first();
        assert!(first > 0 && first <= 12, "first {first}");
        assert_eq!(records(&log, 12)[0], "record 012");
        let err = log.replay(0).err().unwrap().to_string();
        assert!(err.contains("holds records"), "{err}");
        drop(log);
        let log = WriteAheadLog::open(&dir, 64).unwrap();
        assert_eq!((log.first(), log.end()), (first, 30));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_damage_elsewhere_is_an_error_naming_the_file() {
        let dir = temp();
        let mut log = WriteAheadLog::open(&dir, 1 << 20).unwrap();
        for i in 0..5 {
            log.append(format!("line {i}").as_bytes()).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        let segment = dir.join(format!("{:020}.wal", 0));
        let len = fs::metadata(&segment).unwrap().len();
        // A crash in the middle of the last write.
        OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let mut log = WriteAheadLog::open(&dir, 1 << 20).unwrap();
        assert_eq!(log.end(), 4);
        assert_eq!(records(&log, 3), vec!["line 3"]);
        log.append(b"after").unwrap();
        log.sync().unwrap();
        drop(log);
        // A flipped byte in the middle of the first segment.
        let mut bytes = fs::read(&segment).unwrap();
        bytes[HEADER as usize + FRAME_HEADER as usize] ^= 0xff;
        fs::write(&segment, bytes).unwrap();
        let err = WriteAheadLog::open(&dir, 1 << 20)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(&segment.display().to_string()), "{err}");
        assert!(err.contains("checksum"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
