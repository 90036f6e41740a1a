//! A TCP text socket client: one record per line, like Spark's `socketTextStream(host, port)`.
//!
//! A reader thread connects to `host:port` (retrying with exponential backoff, and saying where and why
//! it cannot connect), reads lines, and hands them to the source operator over a channel, waking it once
//! per read buffer rather than once per line. A line that is not UTF-8 goes to the dead letters. When
//! the server closes the connection the input ends, unless the source reconnects.
//! Only worker 0 reads a socket; the other workers' sources are empty.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::thread;
use std::time::Duration;

use caudal_operators::Event;

use super::{Poll, Source, SourceContext};
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
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            initial_backoff: defaults::SOCKET_INITIAL_BACKOFF,
            max_backoff: defaults::SOCKET_MAX_BACKOFF,
            max_attempts: None,
            reconnect: false,
        }
    }
}

enum Message {
    Line(String),
    End,
}

/// Reads text lines from a TCP server.
pub struct SocketSource {
    address: String,
    options: SocketOptions,
    rx: Option<Receiver<Message>>,
    lines: u64,
}

impl SocketSource {
    /// A source that will read lines from `address` (`host:port`).
    pub fn new(address: impl Into<String>, options: SocketOptions) -> Self {
        SocketSource {
            address: address.into(),
            options,
            rx: None,
            lines: 0,
        }
    }
}

impl Source for SocketSource {
    type Item = String;

    fn start(&mut self, ctx: &SourceContext) {
        let (tx, rx) = std::sync::mpsc::channel();
        self.rx = Some(rx);
        let address = self.address.clone();
        let options = self.options.clone();
        let thread_ctx = ctx.clone();
        let spawned = thread::Builder::new()
            .name(format!("caudal-socket-{address}"))
            .spawn(move || {
                read_socket(&address, &options, &thread_ctx, &tx);
                let _ = tx.send(Message::End);
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
                Ok(Message::End) | Err(TryRecvError::Disconnected) => return Poll::Done,
                Err(TryRecvError::Empty) => return Poll::Pending { wake_at: None },
            }
        }
        Poll::Ready
    }

    fn offset(&self) -> u64 {
        self.lines
    }
}

/// The reader thread: connect, read lines, reconnect as asked. Returns when the input ends or the
/// pipeline has gone.
fn read_socket(
    address: &str,
    options: &SocketOptions,
    ctx: &SourceContext,
    tx: &std::sync::mpsc::Sender<Message>,
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
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    match std::str::from_utf8(&buf) {
                        Ok(line) => {
                            if tx.send(Message::Line(line.to_string())).is_err() {
                                return;
                            }
                        }
                        Err(e) => ctx.dead_letters.report(
                            &origin,
                            &String::from_utf8_lossy(&buf),
                            format!("not UTF-8 text: {e}"),
                        ),
                    }
                    // Wake the operator once the buffered lines have all been handed over.
                    if reader.buffer().is_empty() && !ctx.waker.wake() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!("connection to {address} failed: {e}");
                    break;
                }
            }
        }
        ctx.waker.wake();
        if !options.reconnect {
            tracing::info!("{address} closed the connection: end of input");
            return;
        }
    }
}
