//! [`OutputFence`]: how at-most-once output never repeats a record after a crash.
//!
//! At-most-once resumes state and source offsets from the last complete checkpoint, like at-least-once,
//! so the state stays right; the input after the checkpoint is read again, and the results it makes
//! again would be duplicates. Each sink instance therefore keeps a *fence*: a durable bound on the
//! times of the output it has handed to its sink. Before it writes anything at time `t` the fence must
//! be at `t` or beyond on disk; a resumed run drops every result at a time up to the fence it finds.
//! Results the crashed run made but had not written are lost with it (at most a fence span of event time
//! beyond what it had written): at-most-once.
//!
//! The fence is kept ahead of the output by a thread of its own, which moves it to the highest time
//! asked for plus [`defaults::FENCE_SPAN_MS`](crate::config::defaults::FENCE_SPAN_MS) and syncs it; the
//! sink waits only when its output outruns the thread (one `fdatasync` per span, off the worker).
//! The file holds the bound (a signed event time, little-endian: a file written when event times were
//! unsigned reads the same for every bound below `i64::MAX`) and its CRC-32.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use caudal_operators::EventTime;

use super::CheckpointError;

/// What the sink and the fence's thread share.
struct Shared {
    /// The bound that is on disk (`EventTime::MIN`: none yet, so output before 1970 waits for it too).
    durable: AtomicI64,
    /// The highest bound asked for, and whether the fence is closing.
    wanted: Mutex<(EventTime, bool)>,
    changed: Condvar,
    /// A write that failed: the sink must stop writing.
    failed: Mutex<Option<String>>,
}

/// One sink instance's fence (see the [module documentation](self)).
pub struct OutputFence {
    shared: Arc<Shared>,
    /// Results at times up to this were written (or may have been) by an earlier attempt.
    suppress_through: Option<EventTime>,
    span: u64,
    thread: Option<JoinHandle<()>>,
}

impl OutputFence {
    /// Opens the fence in `path`, reading the bound an earlier attempt left, and starts its thread.
    pub fn open(path: PathBuf, span: u64) -> Result<Self, CheckpointError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| CheckpointError::Io {
                what: "cannot create",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let earlier = read(&path)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| CheckpointError::Io {
                what: "cannot open",
                path: path.clone(),
                source,
            })?;
        let start = earlier.unwrap_or(EventTime::MIN);
        let shared = Arc::new(Shared {
            durable: AtomicI64::new(start),
            wanted: Mutex::new((start, false)),
            changed: Condvar::new(),
            failed: Mutex::new(None),
        });
        let keeper = shared.clone();
        let thread = std::thread::Builder::new()
            .name("caudal-fence".into())
            .spawn(move || keep(&keeper, &mut file, &path))
            .map_err(|source| CheckpointError::Io {
                what: "cannot start the fence thread for",
                path: PathBuf::new(),
                source,
            })?;
        Ok(OutputFence {
            shared,
            suppress_through: earlier,
            span: span.max(1),
            thread: Some(thread),
        })
    }

    /// Whether output at `time` must be dropped: an earlier attempt may have written it.
    #[inline]
    pub fn suppressed(&self, time: EventTime) -> bool {
        self.suppress_through.is_some_and(|bound| time <= bound)
    }

    /// Makes sure the fence on disk covers output at `time` before it is written: asks the thread to
    /// move it ahead once `time` comes within half a span of it, and waits only if `time` is beyond it.
    #[inline]
    pub fn cover(&self, time: EventTime) -> Result<(), String> {
        let durable = self.shared.durable.load(Ordering::Acquire);
        if time.saturating_add_unsigned(self.span / 2) <= durable {
            return Ok(());
        }
        self.advance(time)
    }

    #[cold]
    fn advance(&self, time: EventTime) -> Result<(), String> {
        let target = time.saturating_add_unsigned(self.span);
        let mut wanted = self.shared.wanted.lock().unwrap_or_else(|e| e.into_inner());
        if target > wanted.0 {
            wanted.0 = target;
            self.shared.changed.notify_all();
        }
        while self.shared.durable.load(Ordering::Acquire) < time {
            if let Some(e) = self
                .shared
                .failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                return Err(e);
            }
            wanted = self
                .shared
                .changed
                .wait(wanted)
                .unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }
}

impl Drop for OutputFence {
    fn drop(&mut self) {
        self.shared
            .wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1 = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The fence's thread: writes and syncs the bound asked for, until the fence closes.
fn keep(shared: &Shared, file: &mut File, path: &Path) {
    let mut wanted = shared.wanted.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let target = wanted.0;
        if target > shared.durable.load(Ordering::Acquire) {
            drop(wanted);
            let written = write(file, target);
            wanted = shared.wanted.lock().unwrap_or_else(|e| e.into_inner());
            match written {
                Ok(()) => shared.durable.store(target, Ordering::Release),
                Err(e) => {
                    *shared.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                        "cannot write the at-most-once fence {}: {e}",
                        path.display()
                    ));
                    shared.changed.notify_all();
                    return;
                }
            }
            shared.changed.notify_all();
            continue;
        }
        if wanted.1 {
            return;
        }
        wanted = shared
            .changed
            .wait(wanted)
            .unwrap_or_else(|e| e.into_inner());
    }
}

fn write(file: &mut File, bound: EventTime) -> io::Result<()> {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&bound.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..8]);
    bytes[8..].copy_from_slice(&crc.to_le_bytes());
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&bytes)?;
    file.sync_data()
}

/// The bound in `path`, if there is one.
fn read(path: &Path) -> Result<Option<EventTime>, CheckpointError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut file) => file
            .read_to_end(&mut bytes)
            .map_err(|source| CheckpointError::Io {
                what: "cannot read",
                path: path.to_path_buf(),
                source,
            })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckpointError::Io {
                what: "cannot read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if bytes.is_empty() {
        // Created, then killed before its first write: nothing was written behind it.
        return Ok(None);
    }
    let bound = bytes
        .get(..8)
        .map(|b| EventTime::from_le_bytes(b.try_into().expect("8 bytes")));
    let crc = bytes
        .get(8..12)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    match (bound, crc) {
        (Some(bound), Some(crc)) if bytes.len() == 12 && crc32fast::hash(&bytes[..8]) == crc => {
            Ok(Some(bound))
        }
        _ => Err(CheckpointError::Damaged {
            path: path.to_path_buf(),
            what: "the at-most-once fence is damaged (12 bytes with a checksum expected); without it the output after the last checkpoint could repeat".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_stays_ahead_of_the_output_and_a_reopen_suppresses_what_it_covered() {
        let path = std::env::temp_dir()
            .join(format!("caudal-fence-{}", std::process::id()))
            .join("out-w0.fence");
        let _ = fs::remove_file(&path);
        let fence = OutputFence::open(path.clone(), 100).unwrap();
        assert!(!fence.suppressed(0));
        for t in [-500, 5, 80, 250, 251] {
            fence.cover(t).unwrap();
            assert!(fence.shared.durable.load(Ordering::Acquire) >= t);
        }
        drop(fence);
        let again = OutputFence::open(path.clone(), 100).unwrap();
        let bound = again.suppress_through.unwrap();
        assert!((251..=351).contains(&bound), "{bound}");
        assert!(again.suppressed(251) && again.suppressed(bound) && !again.suppressed(bound + 1));
        drop(again);
        let mut bytes = fs::read(&path).unwrap();
        bytes[3] ^= 1;
        fs::write(&path, bytes).unwrap();
        let err = OutputFence::open(path.clone(), 100)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("out-w0.fence") && err.contains("damaged"),
            "{err}"
        );
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn output_before_1970_is_fenced_too() {
        let path = std::env::temp_dir()
            .join(format!("caudal-fence-neg-{}", std::process::id()))
            .join("out-w0.fence");
        let _ = fs::remove_file(&path);
        let fence = OutputFence::open(path.clone(), 100).unwrap();
        // Nothing is on disk yet: output at -5000 waits for a fence that covers it.
        fence.cover(-5000).unwrap();
        assert!(fence.shared.durable.load(Ordering::Acquire) >= -5000);
        drop(fence);
        let again = OutputFence::open(path.clone(), 100).unwrap();
        let bound = again.suppress_through.unwrap();
        assert!((-5000..=-4900).contains(&bound), "{bound}");
        assert!(again.suppressed(-6000) && again.suppressed(-5000) && !again.suppressed(0));
        drop(again);
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }
}
