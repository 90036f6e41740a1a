//! The pipelines the `caudal run` command knows, and how it wires them to sources and sinks.
//!
//! * `uppercase`: every line, upper-cased (the lecture's socket example);
//! * `viu-count`: how many posts tagged `#VIU` have been seen, updated with every such post;
//! * `max-temp`: every sensor's highest temperature so far, updated with every reading;
//! * the latency lab's workloads over posts (`filter`, `keyed-count`, `tumbling`, `sliding`, `session`,
//!   `join`, `burst`: see `caudal compare --help`), one registry with the lab's, so that what the lab
//!   measures is also what runs (and is crash-tested) here. Each result is `(key, window start, value)`.
//!
//! * NEXMark's queries (`nexmark:q0` to `nexmark:q12`), over `generator:nexmark`, each result as JSON.
//!
//! Each reads text lines from sockets and files (bad lines go to the dead letters), or the matching
//! built-in workload from a generator (NEXMark's queries read only their generator).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use caudal_operators::EventStream;
use serde::Serialize;

use crate::compare::{lab_pipeline, LabTime, LabWorkload};
use crate::config::RunConfig;
use crate::dead_letter::DeadLetters;
use crate::mode::ExecutionMode;
use crate::nexmark::Query;
use crate::parse::{FromLine, ParseLines};
use crate::pipeline::{launch_with, Dataflow, RunError, Running};
use crate::sink::{FileSink, Format, Print, SinkFactory};
use crate::source::file::FileSource;
use crate::source::generator::{GeneratorConfig, GeneratorFactory};
use crate::source::socket::{SocketOptions, SocketSource};
use crate::source::spec::SourceSpec;
use crate::source::{Empty, Source, SourceFactory, WorkerInfo};
use crate::workload::nexmark::{Nexmark, NexmarkEvent};
use crate::workload::{Post, Posts, Purchases, Reading, Tag, Temperature, Wifi, Workload};

/// A built-in pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// Upper-cases every line.
    Uppercase,
    /// Counts posts tagged `#VIU`.
    ViuCount,
    /// Keeps each sensor's maximum temperature.
    MaxTemp,
    /// One of the latency lab's workloads over posts.
    Lab(LabWorkload),
    /// A NEXMark query, over NEXMark's generated events.
    Nexmark(Query),
}

/// The built-in pipelines' names (besides the lab's workloads).
pub const BUILTINS: [&str; 3] = ["uppercase", "viu-count", "max-temp"];

impl FromStr for Builtin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uppercase" => Ok(Builtin::Uppercase),
            "viu-count" => Ok(Builtin::ViuCount),
            "max-temp" => Ok(Builtin::MaxTemp),
            _ => match <LabWorkload as clap::ValueEnum>::from_str(s, false) {
                Ok(w) => Ok(w.nexmark().map_or(Builtin::Lab(w), Builtin::Nexmark)),
                Err(_) => {
                    let lab = <LabWorkload as clap::ValueEnum>::value_variants()
                        .iter()
                        .map(|w| w.to_string());
                    let names: Vec<String> =
                        BUILTINS.iter().map(|n| n.to_string()).chain(lab).collect();
                    Err(format!(
                        "unknown pipeline `{s}`: choose one of {}",
                        names.join(", ")
                    ))
                }
            },
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Builtin::Uppercase => f.write_str("uppercase"),
            Builtin::ViuCount => f.write_str("viu-count"),
            Builtin::MaxTemp => f.write_str("max-temp"),
            Builtin::Lab(workload) => write!(f, "{workload}"),
            Builtin::Nexmark(query) => write!(f, "nexmark:{query}"),
        }
    }
}

/// A lab workload's result as `caudal run` writes it: `(key, window start, value)` (window start 0 for
/// per-record results).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The key.
    pub key: u64,
    /// The window's start, in ms of event time (0 outside windows).
    pub start: i64,
    /// The value.
    pub value: u64,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}, {})", self.key, self.start, self.value)
    }
}

/// A key and a value, printed as Spark prints a pair: `(key, value)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pair<K, V>(pub K, pub V);

impl<K: fmt::Display, V: fmt::Display> fmt::Display for Pair<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.0, self.1)
    }
}

/// The source of a command-line run, typed by what it produces.
#[derive(Clone)]
pub enum Feed {
    /// Text lines (sockets, files).
    Lines(Arc<dyn SourceFactory<String>>),
    /// Generated posts.
    Posts(Arc<dyn SourceFactory<Post>>),
    /// Generated temperature readings.
    Readings(Arc<dyn SourceFactory<Reading>>),
    /// Generated records of another workload, as text lines.
    Text(Arc<dyn SourceFactory<String>>),
    /// Generated NEXMark events (NEXMark's default configuration: 10,000 events per second of event
    /// time).
    Nexmark(Arc<dyn SourceFactory<NexmarkEvent>>),
}

fn per_worker<D: 'static>(
    make: impl Fn(WorkerInfo) -> Box<dyn Source<Item = D>> + Send + Sync + 'static,
) -> Arc<dyn SourceFactory<D>> {
    Arc::new(make)
}

fn generator<W: Workload>(
    workload: W,
    config: GeneratorConfig,
) -> Arc<dyn SourceFactory<W::Record>> {
    Arc::new(GeneratorFactory::new(workload, config))
}

fn generator_text<W: Workload>(
    workload: W,
    config: GeneratorConfig,
) -> Arc<dyn SourceFactory<String>>
where
    W::Record: fmt::Display,
{
    let typed = generator(workload, config);
    per_worker(move |w| Box::new(DisplayLines(typed.make(w), Vec::new())))
}

/// A source whose records are shown as text lines (with a reused buffer for the typed records).
struct DisplayLines<D>(Box<dyn Source<Item = D>>, Vec<caudal_operators::Event<D>>);

impl<D: fmt::Display + 'static> Source for DisplayLines<D> {
    type Item = String;
    fn start(&mut self, ctx: &crate::source::SourceContext) {
        self.0.start(ctx)
    }
    fn poll(
        &mut self,
        out: &mut Vec<caudal_operators::Event<String>>,
        budget: usize,
    ) -> crate::source::Poll {
        let status = self.0.poll(&mut self.1, budget);
        out.extend(self.1.drain(..).map(|e| e.with(e.data.to_string())));
        status
    }
    fn offset(&self) -> u64 {
        self.0.offset()
    }
    fn replayable(&self) -> bool {
        self.0.replayable()
    }
    fn resume(&mut self, offset: u64) -> Result<(), String> {
        self.0.resume(offset)
    }
    fn checkpointed(&mut self, offset: u64) {
        self.0.checkpointed(offset)
    }
    fn position(&self) -> Vec<u8> {
        self.0.position()
    }
    fn resume_at(&mut self, offset: u64, position: &[u8]) -> Result<(), String> {
        self.0.resume_at(offset, position)
    }
    fn merge_positions(&self, positions: &[&[u8]]) -> Result<Vec<u8>, String> {
        self.0.merge_positions(positions)
    }
    fn caught_up(&self) -> bool {
        self.0.caught_up()
    }
    fn split_low_mark(&self, now: std::time::Instant) -> Option<caudal_operators::EventTime> {
        self.0.split_low_mark(now)
    }
}

impl Feed {
    /// The source `spec` describes, for a run in `mode`.
    pub fn from_spec(spec: &SourceSpec, mode: ExecutionMode) -> Result<Feed, String> {
        Ok(match spec.clone() {
            SourceSpec::Socket { address } => {
                Feed::Lines(per_worker(move |w| -> Box<dyn Source<Item = String>> {
                    if w.index == 0 {
                        Box::new(SocketSource::new(address.clone(), SocketOptions::default()))
                    } else {
                        Box::new(Empty::default())
                    }
                }))
            }
            #[cfg(feature = "kafka")]
            SourceSpec::Kafka(spec) => {
                let origin = spec.to_string();
                let factory = crate::source::kafka::source(spec);
                Feed::Lines(per_worker(move |w| -> Box<dyn Source<Item = String>> {
                    Box::new(crate::source::kafka::Lines::new(
                        factory.make(w),
                        origin.clone(),
                    ))
                }))
            }
            #[cfg(feature = "zeromq")]
            SourceSpec::Zmq(spec) => {
                // A subscriber gets every message: one instance reads, on worker 0.
                Feed::Lines(per_worker(move |w| -> Box<dyn Source<Item = String>> {
                    if w.index == 0 {
                        Box::new(crate::source::zeromq::ZmqSource::new(spec.clone()))
                    } else {
                        Box::new(Empty::default())
                    }
                }))
            }
            SourceSpec::File { path } => {
                if !path.exists() {
                    return Err(format!(
                        "file://{}: no such file or directory",
                        path.display()
                    ));
                }
                // A batch reads what is there; a stream keeps watching a directory for new files.
                let watch = mode != ExecutionMode::Batch;
                Feed::Lines(per_worker(move |w| {
                    Box::new(FileSource::new(path.clone(), watch, w))
                }))
            }
            SourceSpec::Generator {
                workload,
                rate,
                limit,
            } => {
                let config = GeneratorConfig {
                    rate,
                    limit,
                    ..Default::default()
                };
                if mode == ExecutionMode::Batch && limit.is_none() {
                    return Err(format!("batch mode needs a bounded input: add a limit, for example `generator:{workload}?limit=100000`"));
                }
                match workload.as_str() {
                    "posts" => Feed::Posts(generator(Posts::default(), config)),
                    "temperature" => Feed::Readings(generator(Temperature::default(), config)),
                    "purchases" => Feed::Text(generator_text(Purchases::default(), config)),
                    "wifi" => Feed::Text(generator_text(Wifi::default(), config)),
                    "nexmark" => Feed::Nexmark(generator(Nexmark::default(), config)),
                    other => return Err(format!("unknown workload `{other}`")),
                }
            }
        })
    }

    /// The feed's records as text lines (generated records in their `Display` form).
    fn lines<'s>(&self, df: &mut Dataflow<'s>) -> EventStream<'s, String> {
        match self {
            Feed::Lines(f) | Feed::Text(f) => df.source("input", &**f),
            Feed::Posts(f) => df.source("input", &**f).map(|p| p.to_string()),
            Feed::Readings(f) => df.source("input", &**f).map(|r| r.to_string()),
            Feed::Nexmark(f) => df
                .source("input", &**f)
                .map(|e| serde_json::to_string(&e).expect("NEXMark events serialize to JSON")),
        }
    }

    /// Whether this feed can give `T` records: text lines to parse, or `T`'s own generator.
    fn check<T: Typed>(&self, pipeline: Builtin) -> Result<(), RunError> {
        match self {
            Feed::Lines(_) => Ok(()),
            feed if T::generated(feed).is_some() => Ok(()),
            _ => Err(RunError::Start(format!(
                "pipeline `{pipeline}` reads {}: give it a text source (socket:// or file://) or `generator:{}`",
                T::WHAT,
                T::WORKLOAD
            ))),
        }
    }

    /// The `T` records of this feed: generated, or parsed from text lines (bad lines become dead
    /// letters tagged with the pipeline's name). Call [`Feed::check`] first.
    fn records<'s, T: Typed>(
        &self,
        df: &mut Dataflow<'s>,
        pipeline: Builtin,
    ) -> EventStream<'s, T> {
        match (self, T::generated(self)) {
            (_, Some(generated)) => df.source("input", &**generated),
            (Feed::Lines(lines), None) => {
                let dead = df.dead_letters();
                df.source("input", &**lines)
                    .parse_lines::<T>(&pipeline.to_string(), dead)
            }
            _ => unreachable!("Feed::check accepts only lines or T's own generator"),
        }
    }
}

/// A record type a built-in pipeline reads: parsed from text, or made by its own generator.
trait Typed: FromLine + 'static {
    /// What the records are, for error messages.
    const WHAT: &'static str;
    /// The generator workload that makes them.
    const WORKLOAD: &'static str;
    /// The feed's generator of these records, if it is one.
    fn generated(feed: &Feed) -> Option<&Arc<dyn SourceFactory<Self>>>;
}

impl Typed for Post {
    const WHAT: &'static str = "posts";
    const WORKLOAD: &'static str = "posts";
    fn generated(feed: &Feed) -> Option<&Arc<dyn SourceFactory<Self>>> {
        match feed {
            Feed::Posts(f) => Some(f),
            _ => None,
        }
    }
}

impl Typed for Reading {
    const WHAT: &'static str = "temperature readings";
    const WORKLOAD: &'static str = "temperature";
    fn generated(feed: &Feed) -> Option<&Arc<dyn SourceFactory<Self>>> {
        match feed {
            Feed::Readings(f) => Some(f),
            _ => None,
        }
    }
}

/// Where a command-line run writes its results.
#[derive(Clone, Debug)]
pub enum Output {
    /// Standard output, as text or JSON lines.
    Stdout {
        /// JSON lines instead of text.
        json: bool,
        /// Each line with a deterministic id ([`Format::with_ids`]).
        ids: bool,
    },
    /// A Kafka topic (`kafka://HOST:PORT/TOPIC`), one record per result (feature `kafka`).
    #[cfg(feature = "kafka")]
    Kafka {
        /// The `kafka://` address.
        address: String,
        /// JSON instead of text.
        json: bool,
        /// Each result with a deterministic id ([`Format::with_ids`]).
        ids: bool,
        /// Where exactly-once output is staged between checkpoints ([`crate::sink::kafka::KafkaSink::staged_in`]).
        staging: Option<std::path::PathBuf>,
    },
    /// Atomically written part files in a directory.
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// JSON lines instead of text.
        json: bool,
        /// Each line with a deterministic id ([`Format::with_ids`]).
        ids: bool,
    },
}

impl Output {
    fn factory<O: fmt::Display + Serialize + 'static>(&self) -> Arc<dyn SinkFactory<O>> {
        let (json, ids) = match self {
            Output::Stdout { json, ids } | Output::Dir { json, ids, .. } => (*json, *ids),
            #[cfg(feature = "kafka")]
            Output::Kafka { json, ids, .. } => (*json, *ids),
        };
        let format = if json { Format::json() } else { Format::text() };
        let format = if ids { format.with_ids() } else { format };
        match self {
            Output::Stdout { .. } => Arc::new(Print::new(format)),
            Output::Dir { path, .. } => Arc::new(FileSink::new(path.clone(), format)),
            #[cfg(feature = "kafka")]
            Output::Kafka {
                address, staging, ..
            } => {
                let sink = crate::sink::kafka::KafkaSink::from_address(address, format)
                    .expect("checked when the command line was read");
                Arc::new(match staging {
                    Some(dir) => sink.staged_in(dir.clone()),
                    None => sink,
                })
            }
        }
    }
}

/// Starts `pipeline` reading `feed` and writing to `output`. `event_rate` is the generated stream's
/// records per second of event time (lab workloads size their keys by it).
pub fn launch_builtin(
    pipeline: Builtin,
    feed: Feed,
    config: RunConfig,
    output: Output,
    dead_letters: DeadLetters,
    event_rate: f64,
) -> Result<Running, RunError> {
    match pipeline {
        Builtin::Lab(workload) => {
            feed.check::<Post>(pipeline)?;
            let sink = output.factory::<Row>();
            launch_with(config, dead_letters, move |df| {
                let posts = feed.records::<Post>(df, pipeline);
                let rows = lab_pipeline(
                    workload,
                    posts,
                    event_rate,
                    Default::default(),
                    LabTime::Event,
                )
                .map(|m| {
                    let (key, start, value) = m.value;
                    Row { key, start, value }
                });
                df.sink("output", rows, &*sink);
            })
        }
        Builtin::Nexmark(query) => {
            let Feed::Nexmark(events) = feed else {
                return Err(RunError::Start(format!(
                    "pipeline `{pipeline}` reads NEXMark's events: give it `generator:nexmark` (such as generator:nexmark?limit=1000000)"
                )));
            };
            let sink = output.factory::<crate::nexmark::Output>();
            launch_with(config, dead_letters, move |df| {
                let results = query.build(df.source("input", &*events));
                df.sink("output", results, &*sink);
            })
        }
        Builtin::Uppercase => {
            let sink = output.factory::<String>();
            launch_with(config, dead_letters, move |df| {
                let lines = feed.lines(df);
                let upper = uppercase(lines);
                df.sink("output", upper, &*sink);
            })
        }
        Builtin::ViuCount => {
            feed.check::<Post>(pipeline)?;
            let sink = output.factory::<Pair<String, u64>>();
            launch_with(config, dead_letters, move |df| {
                let posts = feed.records::<Post>(df, pipeline);
                let counts = viu_count(posts).map(|(tag, n)| Pair(tag.to_string(), n));
                df.sink("output", counts, &*sink);
            })
        }
        Builtin::MaxTemp => {
            feed.check::<Reading>(pipeline)?;
            let sink = output.factory::<Pair<String, f64>>();
            launch_with(config, dead_letters, move |df| {
                let readings = feed.records::<Reading>(df, pipeline);
                let maxima = max_temperature(readings)
                    .map(|(sensor, max)| Pair(format!("sensor-{sensor}"), max));
                df.sink("output", maxima, &*sink);
            })
        }
    }
}

/// Upper-cases every line.
pub fn uppercase(lines: EventStream<'_, String>) -> EventStream<'_, String> {
    lines.map(|line| line.to_uppercase())
}

/// For every post tagged `#VIU`: `(#VIU, how many such posts so far)`.
pub fn viu_count(posts: EventStream<'_, Post>) -> EventStream<'_, (Tag, u64)> {
    posts
        .filter(|p| p.has_tag(Tag::VIU))
        .map(|_| (Tag::VIU, ()))
        .running_count()
}

/// For every reading: `(sensor, its highest temperature so far)`.
pub fn max_temperature(readings: EventStream<'_, Reading>) -> EventStream<'_, (u32, f64)> {
    readings
        .map(|r| (r.sensor, r.celsius))
        .running_reduce(|a, b| a.max(*b))
}
