//! A TCP text socket client: one record per line, like Spark's `socketTextStream(host, port)`.
//!
//! A reader thread connects to `host:port` (retrying with exponential backoff, and saying where and why
//! it cannot connect), reads lines, and hands them to the source operator over a bounded channel, waking
//! it once per read buffer rather than once per line. When the worker falls behind, the channel fills,
//! the reader stops reading, and TCP's window pushes back on the peer. A line that is not UTF-8 goes to
//! the dead letters. When the server closes the connection the input ends, unless the source reconnects.
//! Only worker 0 reads a socket; the other workers' sources are empty.
//!
//! A socket cannot send its input again, so under a delivery guarantee the source keeps a
//! [write-ahead log](super::wal): the reader appends each read buffer's lines to it and syncs it before
//! it hands them over, and a resumed run first replays the lines after its checkpoint's offset, then
//! reads the socket again. Lines the peer had sent but the crashed process had not yet read (in the
//! kernel's buffers) are lost: a socket has no acknowledgements, which is why Spark calls its socket
//! receiver unreliable.

use std::io::BufReader;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use caudal_operators::Event;

use super::lines::{read_line, sample, Line};
use super::wal::WriteAheadLog;
use super::{Failure, Poll, Source, SourceContext};
use crate::config::defaults;

/// How a socket source connects.
#[derive(Clone, Debug)]
pub struct SocketOptions {
    /// The first wait after a failed connection; it doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Give up (ending the input) after this many failed attempts in a row; `None` retries forever.
    pub max_attempts: Option<u32>,
    /// Connect again when the server closes the connection, instead of ending the input.
    pub reconnect: bool,
    /// The longest line kept: a longer one goes to the dead letters and reading goes on at the next.
    pub max_line_bytes: usize,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            initial_backoff: defaults::SOCKET_INITIAL_BACKOFF,
            max_backoff: defaults::SOCKET_MAX_BACKOFF,
            max_attempts: None,
            max_line_bytes: defaults::MAX_LINE_BYTES,
            reconnect: false,
        }
    }
}

enum Message {
    Line(String),
    End,
    /// The write-ahead log failed: nothing more can be read safely.
    Failed(String),
}

/// The write-ahead log and where the reader starts replaying it.
struct Logged {
    wal: WriteAheadLog,
    replay_from: u64,
    /// The offset of the last complete checkpoint: the log drops what is before it.
    checkpointed: Arc<AtomicU64>,
}

/// Reads text lines from a TCP server.
pub struct SocketSource {
    address: String,
    options: SocketOptions,
    rx: Option<Receiver<Message>>,
    lines: u64,
    /// Under a delivery guarantee: the write-ahead log, until the reader thread takes it.
    logged: Option<Logged>,
    logging: bool,
    checkpointed: Arc<AtomicU64>,
    /// Ends the run if the write-ahead log fails.
    failure: Option<Failure>,
}

impl SocketSource {
    /// A source that will read lines from `address` (`host:port`).
    pub fn new(address: impl Into<String>, options: SocketOptions) -> Self {
        SocketSource {
            address: address.into(),
            options,
            rx: None,
            lines: 0,
            logged: None,
            logging: false,
            checkpointed: Arc::new(AtomicU64::new(0)),
            failure: None,
        }
    }
}

impl Source for SocketSource {
    type Item = String;

    fn start(&mut self, ctx: &SourceContext) {
        let (tx, rx) = std::sync::mpsc::sync_channel(defaults::SOCKET_QUEUE_LINES);
        self.rx = Some(rx);
        self.failure = Some(ctx.failure.clone());
        let address = self.address.clone();
        let options = self.options.clone();
        let thread_ctx = ctx.clone();
        let logged = self.logged.take();
        let spawned = thread::Builder::new()
            .name(format!("caudal-socket-{address}"))
            .spawn(move || {
                let end = match logged {
                    Some(logged) => read_logged(&address, &options, &thread_ctx, &tx, logged),
                    None => {
                        read_socket(&address, &options, &thread_ctx, &mut Plain(&tx));
                        Message::End
                    }
                };
                let _ = tx.send(end);
                thread_ctx.waker.wake();
            });
        if let Err(e) = spawned {
            ctx.dead_letters.report(
                &format!("socket://{}", self.address),
                "",
                format!("cannot start the reader thread: {e}"),
            );
            self.rx = None;
        }
    }

    fn poll(&mut self, out: &mut Vec<Event<String>>, budget: usize) -> Poll {
        let Some(rx) = self.rx.as_ref() else {
            return Poll::Done;
        };
        for _ in 0..budget {
            match rx.try_recv() {
                Ok(Message::Line(line)) => {
                    out.push(Event::new(0, line));
                    self.lines += 1;
                }
                Ok(Message::Failed(e)) => {
                    // Ending the input would pass for a complete one (and a final checkpoint would
                    // say so): the run fails instead.
                    if let Some(failure) = self.failure.take() {
                        failure.fail(format!("socket://{}: {e}", self.address));
                    }
                    return Poll::Pending { wake_at: None };
                }
                Ok(Message::End) | Err(TryRecvError::Disconnected) => return Poll::Done,
                Err(TryRecvError::Empty) => return Poll::Pending { wake_at: None },
            }
        }
        Poll::Ready
    }

    fn offset(&self) -> u64 {
        self.lines
    }

    fn replayable(&self) -> bool {
        self.logging
    }

    fn write_ahead(&mut self, dir: PathBuf) -> Result<(), String> {
        let wal =
            WriteAheadLog::open(dir, defaults::WAL_SEGMENT_BYTES).map_err(|e| e.to_string())?;
        self.logged = Some(Logged {
            wal,
            replay_from: 0,
            checkpointed: self.checkpointed.clone(),
        });
        self.logging = true;
        Ok(())
    }

    fn resume(&mut self, offset: u64) -> Result<(), String> {
        let Some(logged) = self.logged.as_mut() else {
            return Err("a socket cannot be read again: it needs a write-ahead log".into());
        };
        // Checks that the log still holds everything from `offset` on.
        logged.wal.replay(offset).map_err(|e| e.to_string())?;
        logged.replay_from = offset;
        self.lines = offset;
        self.checkpointed.store(offset, Ordering::Release);
        Ok(())
    }

    fn checkpointed(&mut self, offset: u64) {
        self.checkpointed.fetch_max(offset, Ordering::AcqRel);
    }
}

/// The reader thread under a guarantee: replays the log from where the checkpoint left the source, then
/// reads the socket, logging and syncing each read buffer before handing it over. Returns the message
/// that ends the input.
fn read_logged(
    address: &str,
    options: &SocketOptions,
    ctx: &SourceContext,
    tx: &SyncSender<Message>,
    logged: Logged,
) -> Message {
    let replayed = (|| -> Result<bool, String> {
        let mut replay = logged
            .wal
            .replay(logged.replay_from)
            .map_err(|e| e.to_string())?;
        let mut count = 0u64;
        while let Some(record) = replay.next_record() {
            let record = record.map_err(|e| e.to_string())?;
            let line = String::from_utf8(record.to_vec()).map_err(|e| {
                format!(
                    "write-ahead log {}: a record is not UTF-8 ({e})",
                    logged.wal.dir().display()
                )
            })?;
            if tx.send(Message::Line(line)).is_err() {
                return Ok(false);
            }
            count += 1;
        }
        if count > 0 {
            tracing::info!("socket://{address}: replayed {count} lines from the write-ahead log");
        }
        Ok(true)
    })();
    match replayed {
        Ok(true) => {}
        Ok(false) => return Message::End,
        Err(e) => return Message::Failed(e),
    }
    ctx.waker.wake();
    let mut handler = Logging {
        tx,
        logged,
        pending: Vec::new(),
        failure: None,
    };
    read_socket(address, options, ctx, &mut handler);
    match handler.failure {
        Some(e) => Message::Failed(e),
        None => Message::End,
    }
}

/// What the reader does with the lines it reads.
trait Lines {
    /// Takes one line; `false` stops reading.
    fn line(&mut self, line: String) -> bool;
    /// The read buffer is empty (the lines so far are all there is for now); `false` stops reading.
    fn flush(&mut self) -> bool;
    /// How much one read may take from the socket.
    fn buffer_bytes(&self) -> usize {
        256 << 10
    }
}

/// Without a guarantee: lines go straight to the worker.
struct Plain<'a>(&'a SyncSender<Message>);

impl Lines for Plain<'_> {
    fn line(&mut self, line: String) -> bool {
        self.0.send(Message::Line(line)).is_ok()
    }
    fn flush(&mut self) -> bool {
        true
    }
}

/// Under a guarantee: lines are logged, and handed over once the log is synced.
struct Logging<'a> {
    tx: &'a SyncSender<Message>,
    logged: Logged,
    pending: Vec<String>,
    failure: Option<String>,
}

impl Lines for Logging<'_> {
    fn line(&mut self, line: String) -> bool {
        if let Err(e) = self.logged.wal.append(line.as_bytes()) {
            self.failure = Some(e.to_string());
            return false;
        }
        self.pending.push(line);
        true
    }

    fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let wal = &mut self.logged.wal;
        let synced = wal
            .sync()
            .and_then(|()| wal.truncate_before(self.logged.checkpointed.load(Ordering::Acquire)));
        if let Err(e) = synced {
            self.failure = Some(e.to_string());
            return false;
        }
        self.pending
            .drain(..)
            .all(|line| self.tx.send(Message::Line(line)).is_ok())
    }

    /// Larger reads under load mean fewer syncs: one per read.
    fn buffer_bytes(&self) -> usize {
        4 << 20
    }
}

/// Connects, reads lines and hands them to `lines`, reconnecting as asked. Returns when the input
/// ends, the pipeline has gone, or `lines` says stop.
fn read_socket(
    address: &str,
    options: &SocketOptions,
    ctx: &SourceContext,
    lines: &mut impl Lines,
) {
    let origin = format!("socket://{address}");
    let mut failures = 0u32;
    let mut backoff = options.initial_backoff;
    loop {
        let stream = match TcpStream::connect(address) {
            Ok(stream) => stream,
            Err(e) => {
                failures += 1;
                if options.max_attempts.is_some_and(|max| failures >= max) {
                    tracing::error!(
                        "cannot connect to {address}: {e}; gave up after {failures} attempts"
                    );
                    ctx.dead_letters.report(
                        &origin,
                        "",
                        format!(
                            "cannot connect to {address}: {e} (gave up after {failures} attempts)"
                        ),
                    );
                    return;
                }
                tracing::warn!("cannot connect to {address}: {e}; retrying in {backoff:?} (is the server running? for example `nc -lk {}`)", address.rsplit(':').next().unwrap_or("PORT"));
                thread::sleep(backoff);
                backoff = (backoff * 2).min(options.max_backoff);
                continue;
            }
        };
        tracing::info!("connected to {address}");
        failures = 0;
        backoff = options.initial_backoff;
        let _ = stream.set_nodelay(true);
        let mut reader = BufReader::with_capacity(lines.buffer_bytes(), stream);
        let mut buf = Vec::new();
        loop {
            match read_line(&mut reader, &mut buf, options.max_line_bytes) {
                Ok(Line::End) => break,
                Ok(Line::TooLong { consumed }) => ctx.dead_letters.report(
                    &origin,
                    &sample(&buf),
                    format!(
                        "a line of {consumed} bytes is longer than the {} bytes a line may have; \
                         skipped to the next line",
                        options.max_line_bytes
                    ),
                ),
                Ok(Line::Text { .. }) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    match std::str::from_utf8(&buf) {
                        Ok(line) => {
                            if !lines.line(line.to_string()) {
                                return;
                            }
                        }
                        Err(e) => ctx.dead_letters.report(
                            &origin,
                            &String::from_utf8_lossy(&buf),
                            format!("not UTF-8 text: {e}"),
                        ),
                    }
                }
                Err(e) => {
                    tracing::warn!("connection to {address} failed: {e}");
                    break;
                }
            }
            // Hand the lines over, and wake the operator, once the read buffer is empty.
            if reader.buffer().is_empty() && (!lines.flush() || !ctx.waker.wake()) {
                return;
            }
        }
        if !lines.flush() {
            return;
        }
        ctx.waker.wake();
        if !options.reconnect {
            tracing::info!("{address} closed the connection: end of input");
            return;
        }
    }
}
