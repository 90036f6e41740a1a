//! Real Spark Streaming and real Flink beside Caudal's modes (`caudal compare --peers spark,flink`).
//!
//! A peer is the real system, installed by `scripts/setup-peers.sh` (Spark from the `pyspark`
//! package, Flink from `apache-flink`, both on the system's Java), running the lab's workload as a
//! small job kept in the repository (`peers/spark/CaudalSparkPeer.java`, a DStream program in Java,
//! and its PySpark twin `peers/spark/caudal_spark_peer.py`; `peers/flink/CaudalFlinkPeer.java`, a
//! DataStream job with event-time windows). The lab measures it as it measures Caudal:
//!
//! * the open-loop generator writes the same records, `seq,event_ms,key,user,viu` lines, each at its
//!   intended send time, to a loopback socket the peer reads (Spark's socket receiver, Flink's socket
//!   source); a peer that falls behind holds the socket back, and its lateness shows in the
//!   latencies, which run from the intended send time (no coordinated omission);
//! * the peer writes each result to a second loopback socket as `seq,key,start,end,value`: per-record
//!   results carry their record's `seq`; window results carry `-1`, and are measured from the record
//!   that closed the window, found by the same rule as for Caudal (event time: the first record at
//!   or after the window's end; Spark's processing-time windows: the first record due at or after
//!   the batch time);
//! * results that are the same computation as Caudal's (every Flink workload; Spark's `filter` and
//!   `keyed-count`, in both languages) must equal Caudal's, count and checksum; Spark's windows are of processing time,
//!   so their results are reported but not checked;
//! * the peer's CPU time (from the clock's start, so without its start-up) and peak resident memory
//!   are read from `/proc` for its whole process group, and its version from its first line.
//!
//! The two loopback hops are in the peers' latencies and not in Caudal's in-process ones (tens of
//! microseconds; `--via kafka://` puts a broker in Caudal's path instead).

use super::config::{CompareConfig, LabWorkload, PeerSystem, Shape};
use super::pipelines::{closing_seq, closing_seq_disordered, event_ms, Measured};
use super::report::{CompareError, ModeResult, Throughput};
use super::sink::LatencySink;
use crate::sink::{SinkContext, SinkFactory};
use crate::source::generator::Schedule;
use crate::source::WorkerInfo;
use crate::workload::{Posts, Tag, Workload};
use caudal_operators::Event;
use std::cell::Cell;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

impl PeerSystem {
    /// Whether it is Spark (JVM or PySpark): micro-batches at a batch interval, windows of
    /// processing time.
    pub fn micro_batches(&self) -> bool {
        matches!(self, PeerSystem::Spark | PeerSystem::Pyspark)
    }
}

/// Where `scripts/setup-peers.sh` installs the peers: `$CAUDAL_PEERS`, or `~/.cache/caudal-peers`.
pub fn peers_dir() -> PathBuf {
    match std::env::var_os("CAUDAL_PEERS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
            .join(".cache/caudal-peers"),
    }
}

/// The workloads the peers' jobs have.
pub const PEER_WORKLOADS: [LabWorkload; 4] = [
    LabWorkload::Filter,
    LabWorkload::KeyedCount,
    LabWorkload::Tumbling,
    LabWorkload::Sliding,
];

/// How long a peer may take to start and connect to the lab's input.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The longest a peer may take, after the last record, to give its last results.
const END_TIMEOUT: Duration = Duration::from_secs(120);

/// Checks, before anything runs, that every peer of `config` is installed and has the workload and
/// windows asked for; the error says what to do.
pub fn check_peers(config: &CompareConfig) -> Result<(), CompareError> {
    check_peers_in(config, &peers_dir())
}

fn check_peers_in(config: &CompareConfig, dir: &Path) -> Result<(), CompareError> {
    for peer in &config.peers {
        if !PEER_WORKLOADS.contains(&config.workload) {
            return Err(CompareError::Peer(format!(
                "the {peer} peer has no {} workload: with --peers, use --workload filter, keyed-count, tumbling or sliding",
                config.workload
            )));
        }
    }
    if config.peers.iter().any(|p| p.micro_batches()) && config.workload.spark_windows() {
        for contender in config.contenders() {
            if let super::config::Contender::Peer(_, Some(batch)) = contender {
                let batch_ms = batch.as_millis() as i64;
                let slide = match config.workload {
                    LabWorkload::Tumbling => config.shape.window_ms(),
                    _ => config.shape.slide_ms(),
                };
                if config.shape.window_ms() % batch_ms != 0 || slide % batch_ms != 0 {
                    return Err(CompareError::Peer(format!(
                        "Spark's windows must be multiples of its batch interval ({}), and --window {} --slide {} are not: give --window and --slide as multiples of every micro-batch interval in --modes (Spark runs at each)",
                        humantime::format_duration(batch),
                        humantime::format_duration(config.shape.window),
                        humantime::format_duration(config.shape.slide),
                    )));
                }
            }
        }
    }
    for peer in &config.peers {
        launcher_in(dir, *peer)?;
    }
    Ok(())
}

/// The peer's launcher in `dir`, written by the set-up script; an error that says how to install it.
fn launcher_in(dir: &Path, peer: PeerSystem) -> Result<PathBuf, CompareError> {
    let path = dir.join(peer.to_string()).join("run");
    if path.is_file() {
        Ok(path)
    } else {
        Err(CompareError::Peer(format!(
            "the {peer} peer is not installed ({} is missing): run scripts/setup-peers.sh (it installs Spark and Flink from PyPI and a Java runtime), or set CAUDAL_PEERS to where it installed them",
            path.display()
        )))
    }
}

/// Numbers the log files of a process's peer runs.
static RUN: AtomicU64 = AtomicU64::new(0);

/// Runs `config`'s workload once on the real `peer` (Spark at batch interval `batch`) and measures
/// it. `None` if `interrupted` was raised.
pub fn measure_peer(
    config: &CompareConfig,
    peer: PeerSystem,
    batch: Option<Duration>,
    interrupted: &AtomicBool,
) -> Result<Option<ModeResult>, CompareError> {
    let fail = |what: String| CompareError::Peer(format!("the {peer} peer: {what}"));
    let launcher = launcher_in(&peers_dir(), peer)?;
    let input = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(e.to_string()))?;
    let output = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(e.to_string()))?;
    let address = |l: &TcpListener| l.local_addr().map(|a| a.to_string());
    let (input_at, output_at) = (
        address(&input).map_err(|e| fail(e.to_string()))?,
        address(&output).map_err(|e| fail(e.to_string()))?,
    );
    let shape = config.shape;
    let mut args: Vec<String> = vec![
        "--workload".into(),
        config.workload.to_string(),
        "--input".into(),
        input_at,
        "--output".into(),
        output_at,
        "--window-ms".into(),
        shape.window_ms().to_string(),
        "--slide-ms".into(),
        match config.workload {
            LabWorkload::Tumbling => shape.window_ms(),
            _ => shape.slide_ms(),
        }
        .to_string(),
    ];
    match peer {
        PeerSystem::Spark | PeerSystem::Pyspark => args.extend([
            "--batch-ms".into(),
            batch
                .unwrap_or(Duration::from_secs(1))
                .as_millis()
                .to_string(),
            // The receiver takes one core: local[workers + 1], local[2] for one worker.
            "--cores".into(),
            (config.workers + 1).to_string(),
        ]),
        PeerSystem::Flink => args.extend([
            "--parallelism".into(),
            config.workers.to_string(),
            "--watermark-interval-ms".into(),
            "1".into(),
            // Flink's bounded out-of-orderness, as Caudal's watermark.
            "--out-of-orderness-ms".into(),
            shape.watermark_delay(config.workload).to_string(),
        ]),
    }
    let log = std::env::temp_dir().join(format!(
        "caudal-peer-{peer}-{}-{}.log",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let log_file = std::fs::File::create(&log).map_err(|e| fail(e.to_string()))?;
    let child = Command::new(&launcher)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| fail(e.to_string()))?)
        .stderr(log_file)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", launcher.display())))?;
    let mut process = PeerProcess {
        child,
        log,
        log_named: Cell::new(false),
    };

    // The clock starts once the peer reads the input.
    let Some(stream) = process.accept(&input, interrupted).map_err(fail)? else {
        return Ok(None);
    };
    drop(input);
    let total = ((config.warmup + config.duration).as_secs_f64() * config.rate) as u64;
    let start = Instant::now() + Duration::from_millis(500);
    let start_epoch_ms = super::run::unix_ms_at(start);
    let schedule = Schedule {
        start,
        rate: Some(config.rate),
    };
    let sink = LatencySink::for_run(config, schedule, total);
    let reading = Reading {
        rate: config.rate,
        delay: shape.watermark_delay(config.workload),
        disorder: shape.disorder_ms(),
        processing_time_from: peer.micro_batches().then_some(start_epoch_ms),
    };
    let cpu_at_start = process.usage().cpu_s;
    let shared = Shared::default();
    let done = AtomicBool::new(false);
    let sent = std::thread::scope(|scope| {
        let (shared, done, sink, output) = (&shared, &done, &sink, &output);
        scope.spawn(move || accept_results(output, sink, reading, shared, done, scope));
        // The peer's CPU and memory, read while it runs (a peer that ends by itself takes its
        // figures with it).
        let group = process.child.id();
        scope.spawn(move || {
            while !done.load(Ordering::Acquire) {
                shared.note(group_usage(group));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let sent = feed(stream, schedule, total, shape, interrupted);
        let sent_at = Instant::now();
        // Then wait for the last results: Flink ends with its input; Spark runs on, and is stopped
        // once its batches have taken in every record sent and their results have come, or once
        // nothing has come (no result, no batch with records) for a while. A Spark that fell behind
        // (a loaded machine, PySpark's slow first batches) works its backlog off first.
        let quiet = batch.map_or(Duration::from_secs(5), |b| {
            (b * 4).max(Duration::from_secs(3))
        });
        let settle = batch.map_or(Duration::ZERO, |b| b + Duration::from_millis(500));
        let expected = sent.as_ref().map_or(u64::MAX, |sent| *sent);
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let exited = process.exited();
            let last = shared.last_result().unwrap_or(sent_at).max(sent_at);
            let all_in = batch.is_some() && shared.processed.load(Ordering::Acquire) >= expected;
            if interrupted.load(Ordering::Acquire)
                || (exited && shared.open.load(Ordering::Acquire) == 0)
                || (all_in && last.elapsed() >= settle)
                || last.elapsed() >= quiet
                || sent_at.elapsed() >= END_TIMEOUT
            {
                break;
            }
        }
        process.stop();
        done.store(true, Ordering::Release);
        sent
    });
    if interrupted.load(Ordering::Acquire) {
        return Ok(None);
    }
    let sent = sent.map_err(|e| {
        fail(format!(
            "the input connection failed: {e}{}",
            process.tail()
        ))
    })?;
    if sent < total {
        return Err(fail(format!(
            "it took {sent} of {total} records before it stopped reading{}",
            process.tail()
        )));
    }
    let bad = shared.bad.load(Ordering::Acquire);
    if bad > 0 {
        return Err(fail(format!(
            "{bad} result lines were not `seq,key,start,end,value`{}",
            process.tail()
        )));
    }
    let version = shared
        .version
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let Some(version) = version else {
        return Err(fail(format!(
            "it never connected to the lab's result socket{}",
            process.tail()
        )));
    };
    let usage = *shared.usage.lock().unwrap_or_else(|e| e.into_inner());
    let mut batches =
        std::mem::take(&mut *shared.batches.lock().unwrap_or_else(|e| e.into_inner()));
    batches.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let measured = sink.take(config);
    Ok(Some(ModeResult {
        mode: peer.to_string(),
        guarantee: "none".into(),
        batch_interval_ms: batch.map(|b| b.as_millis() as u64),
        latency_us: measured.latency_us,
        event_time_latency_us: measured.event_time_latency_us,
        burst_window_latency_us: measured.burst_window_latency_us,
        throughput: Throughput {
            offered: config.rate,
            achieved: sent as f64 / measured.span_s,
        },
        cpu_s: (usage.cpu_s - cpu_at_start).max(0.0),
        peak_rss_bytes: usage.peak_rss_bytes,
        capped_batches: 0,
        results: measured.results,
        drained_results: measured.drained,
        histogram: measured.histogram,
        trend: measured.trend,
        samples: measured.samples,
        version: Some(version),
        spark_seed: None,
        spark_batches: batches,
        comparable: reading.processing_time_from.is_none() || !config.workload.spark_windows(),
    }))
}

/// Writes records `0..total` to the peer, each at its intended send time; how many it wrote.
fn feed(
    stream: TcpStream,
    schedule: Schedule,
    total: u64,
    shape: Shape,
    interrupted: &AtomicBool,
) -> std::io::Result<u64> {
    let keys = shape.key_draw();
    let _ = stream.set_nodelay(true);
    let mut out = BufWriter::with_capacity(1 << 16, &stream);
    let posts = Posts::default();
    let rate = schedule.rate.unwrap_or(1.0);
    let mut sent = 0;
    for seq in 0..total {
        if interrupted.load(Ordering::Acquire) {
            break;
        }
        let due = schedule.start + schedule.intended_offset(seq);
        let now = Instant::now();
        if now < due {
            // Sleep rather than spin: the peer needs the cores more than the schedule needs
            // better than the scheduler's tens of microseconds (a late send shows in the latency).
            out.flush()?;
            std::thread::sleep(due - now);
        }
        let post = posts.record(seq);
        let key = keys.key(seq, post.tags().first().map_or(0, |t| t.0 as u64));
        writeln!(
            out,
            "{seq},{},{key},{},{}",
            event_ms(seq, rate, shape.disorder_ms()),
            post.user,
            u8::from(post.has_tag(Tag::VIU))
        )?;
        sent += 1;
    }
    out.flush()?;
    drop(out);
    stream.shutdown(Shutdown::Write)?;
    Ok(sent)
}

/// How result lines become measured results.
#[derive(Clone, Copy)]
struct Reading {
    rate: f64,
    /// How far the watermark trails the largest event time, in ms.
    delay: i64,
    /// How far event times are moved back, at most, in ms.
    disorder: u64,
    /// For a peer whose windows are of processing time (Spark): the clock's start in ms since the
    /// epoch, to which its batch times are relative.
    processing_time_from: Option<i64>,
}

impl Reading {
    /// `seq,key,start,end,value` as a measured result.
    fn parse(&self, line: &str) -> Option<Measured<(u64, i64, u64)>> {
        let mut fields = line.split(',');
        let mut next = || fields.next()?.trim().parse::<i64>().ok();
        let (seq, key, start, end, value) = (next()?, next()?, next()?, next()?, next()?);
        if seq >= 0 {
            let seq = seq as u64;
            return Some(Measured {
                seq,
                event_ms: event_ms(seq, self.rate, self.disorder),
                value: (key as u64, start, value as u64),
                burst: false,
            });
        }
        let (start, end, seq) = match self.processing_time_from {
            // The first record due at or after the batch time could not be in its window.
            Some(from) => (start - from, end - from, closing_seq(end - from, self.rate)),
            None => (
                start,
                end,
                closing_seq_disordered(end + self.delay, self.rate, self.disorder),
            ),
        };
        Some(Measured {
            seq,
            event_ms: end,
            value: (key as u64, start, value as u64),
            burst: false,
        })
    }
}

/// What the result readers share with the run.
#[derive(Default)]
struct Shared {
    /// The peer's first line: its system's and Java's versions.
    version: Mutex<Option<String>>,
    /// Result lines that could not be read.
    bad: AtomicU64,
    /// Result connections still open.
    open: AtomicU64,
    /// When the last result (or batch with records) came, as ns after `epoch`.
    last_ns: AtomicU64,
    /// The records of the batches Spark reported done.
    processed: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
    /// The peer's largest CPU time and memory seen.
    usage: Mutex<Usage>,
    /// Spark's own figures for each batch.
    batches: Mutex<Vec<SparkBatch>>,
}

impl Shared {
    fn touch(&self) {
        let epoch = *self.epoch.get_or_init(Instant::now);
        self.last_ns
            .store(epoch.elapsed().as_nanos() as u64 + 1, Ordering::Release);
    }

    fn last_result(&self) -> Option<Instant> {
        let ns = self.last_ns.load(Ordering::Acquire);
        let epoch = self.epoch.get()?;
        (ns > 0).then(|| *epoch + Duration::from_nanos(ns))
    }

    fn note(&self, now: Usage) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        usage.cpu_s = usage.cpu_s.max(now.cpu_s);
        usage.peak_rss_bytes = usage.peak_rss_bytes.max(now.peak_rss_bytes);
    }
}

/// Accepts the peer's result connections (one per sink instance) until `done`, reading each on its
/// own thread into its own latency recorder.
fn accept_results<'scope>(
    listener: &'scope TcpListener,
    sink: &'scope LatencySink,
    reading: Reading,
    shared: &'scope Shared,
    done: &'scope AtomicBool,
    scope: &'scope std::thread::Scope<'scope, '_>,
) {
    let _ = listener.set_nonblocking(true);
    while !done.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                shared.open.fetch_add(1, Ordering::AcqRel);
                scope.spawn(move || {
                    read_results(stream, sink, reading, shared);
                    shared.open.fetch_sub(1, Ordering::AcqRel);
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Reads one result connection to its end.
fn read_results(stream: TcpStream, sink: &LatencySink, reading: Reading, shared: &Shared) {
    let Ok(mut recorder) =
        SinkFactory::<Measured<(u64, i64, u64)>>::make(sink, WorkerInfo::single())
    else {
        return;
    };
    let _ = recorder.start(&SinkContext::default());
    let mut one = Vec::with_capacity(1);
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        if let Some(batch) = line.strip_prefix("# batch ") {
            match SparkBatch::parse(batch, reading.processing_time_from.unwrap_or(0)) {
                Some(b) => {
                    if b.records > 0 {
                        shared.processed.fetch_add(b.records, Ordering::AcqRel);
                        shared.touch();
                    }
                    shared
                        .batches
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(b)
                }
                None => {
                    shared.bad.fetch_add(1, Ordering::AcqRel);
                }
            }
            continue;
        }
        if let Some(header) = line.strip_prefix("# ") {
            *shared.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(header.to_string());
            continue;
        }
        match reading.parse(&line) {
            Some(result) => {
                one.push(Event::new(0, result));
                let _ = recorder.write(&mut one);
                one.clear();
                shared.touch();
            }
            None => {
                shared.bad.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
    let _ = recorder.progress(None);
}

/// What Spark's listener measured of one batch (`# batch TIME_MS RECORDS SCHEDULING_MS PROCESSING_MS`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparkBatch {
    /// The batch time, in s from the start of the lab's clock.
    pub at_s: f64,
    /// The records in the batch.
    pub records: u64,
    /// From the batch time to the start of its job (Spark's scheduling delay), in ms.
    pub scheduling_ms: u64,
    /// How long its job ran (Spark's processing delay), in ms.
    pub processing_ms: u64,
}

impl SparkBatch {
    /// Reads `TIME_MS RECORDS SCHEDULING_MS PROCESSING_MS`, the time relative to `from_ms`.
    fn parse(line: &str, from_ms: i64) -> Option<SparkBatch> {
        let mut fields = line.split_whitespace();
        let time: i64 = fields.next()?.parse().ok()?;
        let mut next = || fields.next()?.parse::<u64>().ok();
        Some(SparkBatch {
            at_s: (time - from_ms) as f64 / 1e3,
            records: next()?,
            scheduling_ms: next()?,
            processing_ms: next()?,
        })
    }
}

/// A peer's CPU time and memory.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    cpu_s: f64,
    peak_rss_bytes: u64,
}

/// The running peer: its process group, stopped (SIGTERM, then SIGKILL) when dropped, and its log,
/// removed then unless an error named it ([`PeerProcess::tail`]).
struct PeerProcess {
    child: Child,
    log: PathBuf,
    /// An error shows the log's end and path: the log outlives the run.
    log_named: Cell<bool>,
}

impl PeerProcess {
    /// Waits for the peer to connect to `input`: the connection, `None` if interrupted, or why not.
    fn accept(
        &mut self,
        input: &TcpListener,
        interrupted: &AtomicBool,
    ) -> Result<Option<TcpStream>, String> {
        input.set_nonblocking(true).map_err(|e| e.to_string())?;
        let began = Instant::now();
        loop {
            match input.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                    return Ok(Some(stream));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.to_string()),
            }
            if interrupted.load(Ordering::Acquire) {
                return Ok(None);
            }
            if self.exited() {
                return Err(format!("it ended before it read the input{}", self.tail()));
            }
            if began.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "it did not connect within {} s{}",
                    START_TIMEOUT.as_secs(),
                    self.tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The CPU time and summed peak memory of the peer's process group now.
    fn usage(&self) -> Usage {
        group_usage(self.child.id())
    }

    /// Stops the whole process group: SIGTERM, and SIGKILL what is left after 5 s.
    fn stop(&mut self) {
        let group = -(self.child.id() as i32);
        // SAFETY: kill only sends a signal, to the peer's own process group.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let began = Instant::now();
        while !self.exited() && began.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above; the group's processes that outlived SIGTERM.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// The end of the peer's log, to show with an error, which names the log: it is kept.
    fn tail(&self) -> String {
        self.log_named.set(true);
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("at "))
            .collect();
        let tail = lines[lines.len().saturating_sub(12)..].join("\n  ");
        format!(" (its log, {}, ends:\n  {tail})", self.log.display())
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if !self.exited() {
            self.stop();
        }
        if !self.log_named.get() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// CPU seconds and the sum of each process's peak resident memory over process group `group`.
fn group_usage(group: u32) -> Usage {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut usage = Usage::default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return usage;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let Some(stat) = read_stat(&dir) else {
            continue;
        };
        // After the command's closing parenthesis: state, ppid, pgrp, ..., utime (12th), stime,
        // cutime, cstime.
        let fields: Vec<&str> = stat.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(group) {
            continue;
        }
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        usage.cpu_s += (tick(11) + tick(12) + tick(13) + tick(14)) / ticks;
        usage.peak_rss_bytes += std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024);
    }
    usage
}

/// `/proc/PID/stat` after the command's name.
fn read_stat(dir: &Path) -> Option<String> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    Some(stat[stat.rfind(')')? + 1..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_measured_from_the_record_that_completed_them() {
        let flink = Reading {
            rate: 1000.0,
            delay: 0,
            disorder: 0,
            processing_time_from: None,
        };
        // A per-record result: its own record.
        let r = flink.parse("42,3,0,0,7").unwrap();
        assert_eq!((r.seq, r.event_ms, r.value), (42, 42, (3, 0, 7)));
        // An event-time window [1000, 2000): the first record at 2000 closed it.
        let w = flink.parse("-1,5,1000,2000,999").unwrap();
        assert_eq!((w.seq, w.event_ms, w.value), (2000, 2000, (5, 1000, 999)));
        // Spark's batch at 1_700_000_002_500 ms, 2.5 s after the clock started: the record due at
        // 2.5 s could not be in it.
        let spark = Reading {
            processing_time_from: Some(1_700_000_000_000),
            ..flink
        };
        let s = spark.parse("-1,5,1700000000500,1700000002500,10").unwrap();
        assert_eq!((s.seq, s.event_ms, s.value), (2500, 2500, (5, 500, 10)));
        for bad in ["", "1,2,3", "a,b,c,d,e", "# not a result"] {
            assert!(flink.parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_peer_that_is_not_installed_says_how_to_install_it() {
        let dir = std::env::temp_dir().join(format!("caudal-no-peers-{}", std::process::id()));
        let config = CompareConfig {
            peers: vec![PeerSystem::Flink],
            ..CompareConfig::default()
        };
        let e = check_peers_in(&config, &dir).unwrap_err().to_string();
        assert!(e.contains("scripts/setup-peers.sh"), "{e}");
        assert!(e.contains(&dir.display().to_string()), "{e}");
    }
}
