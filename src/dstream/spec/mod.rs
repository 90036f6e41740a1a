//! DStream pipelines described in JSON, run on the manual clock: `caudal dstream SPEC.json`.
//!
//! The format (tests/conformance/dstream-spec.md): a batch interval, the input as batches of
//! partitions of records, an optional second input, the stages of each pipeline with named functions,
//! how many batches to run after the input, and whether to capture `pprint`. [`run`] gives one
//! [`BatchOutput`] per batch, empty batches included, whose [`BatchOutput::to_json_line`] is the line
//! Spark's recorded outputs in `conformance/dstream-lecture/` have.
//!
//! Everything is checked before the run: unknown stages or functions, missing arguments, windows that
//! are not multiples of their stream's slide, binary stages without a second stream. A function that
//! does not fit a record at run time (say `add` on a string) fails the run with the stage's name.

mod funcs;
mod plan;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;

pub use funcs::{FilterFn, FlatMapFn, MapFn, Reduce, TransformFn, TransformWithFn, UpdateFn};

use super::output::pprint_text;
use super::rdd::Rdd;
use super::value::{json_array, json_string, Value};
use super::{RddQueue, StreamingContext};
use crate::config::Cluster;
use plan::{build, plan, Errors, Planned};

/// What can go wrong with a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The spec file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The spec is not valid JSON of the spec format, or names something that does not exist.
    #[error("{0}")]
    Invalid(String),
    /// The run failed (a function did not fit a record, or an output failed).
    #[error("the run failed: {0}")]
    Run(String),
    /// The output differs from the expected output.
    #[error("{0}")]
    Mismatch(String),
}

/// Batches, each a list of partitions, each a list of records (JSON).
pub type JsonBatches = Vec<Vec<Vec<Json>>>;

/// The most batches a spec may run, and the longest window it may ask for: a spec is a test case, and
/// a typo (`extra_batches: 1e12`) must be an error, not a run that fills the memory.
pub const MAX_BATCHES: u64 = 100_000;

/// A DStream pipeline and its input.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The batch interval in seconds.
    pub batch_interval_s: f64,
    /// The input: batches of partitions of records.
    pub input: JsonBatches,
    /// A second input, for binary stages.
    #[serde(default)]
    pub input2: Option<JsonBatches>,
    /// The stages applied to the input.
    pub pipeline: Vec<Stage>,
    /// The stages applied to the second input before a binary stage.
    #[serde(default)]
    pub pipeline2: Vec<Stage>,
    /// Batches to run after the input is exhausted (default: 1 + Σ over window stages of
    /// `length − 1 + slide`).
    #[serde(default)]
    pub extra_batches: Option<u64>,
    /// Capture what `pprint(n)` prints for each batch.
    #[serde(default)]
    pub pprint: Option<usize>,
}

/// One stage of a pipeline.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The operation (`map`, `reduceByKey`, `window`, `join`, ...).
    pub op: String,
    /// The named function.
    #[serde(default)]
    pub func: Option<String>,
    /// The function's argument.
    #[serde(default)]
    pub arg: Option<Json>,
    /// `repartition`'s number of partitions.
    #[serde(default)]
    pub n: Option<usize>,
    /// A window's length, in batches.
    #[serde(default)]
    pub length: Option<u64>,
    /// A window's slide, in batches (default 1).
    #[serde(default)]
    pub slide: Option<u64>,
    /// Reduce windows incrementally with the function's inverse.
    #[serde(default)]
    pub inverse: bool,
    /// `reduceByKeyAndWindow`'s filter (a filter function's name).
    #[serde(default)]
    pub filter: Option<String>,
    /// The filter's argument.
    #[serde(default)]
    pub filter_arg: Option<Json>,
    /// `updateStateByKey`: `"no_new_values"` removes keys without new values.
    #[serde(default)]
    pub drop_when: Option<String>,
    /// `updateStateByKey`: removes keys whose state reaches this.
    #[serde(default)]
    pub drop_when_state_ge: Option<i64>,
    /// `updateStateByKey`'s initial state, `[[k, v], ...]`.
    #[serde(default)]
    pub initial: Option<Vec<Json>>,
    /// Partitions of a keyed stage's result (default 2).
    #[serde(default, rename = "numPartitions")]
    pub num_partitions: Option<usize>,
}

/// What a stream produced at one batch time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOutput {
    /// The batch, from 0.
    pub batch: u64,
    /// `(batch + 1) × interval`.
    pub time_ms: u64,
    /// Whether the stream produced a batch at that time (a window off its slide does not).
    pub fired: bool,
    /// The batch's partitions, in order.
    pub partitions: Vec<Vec<Value>>,
    /// What `pprint` printed, if the spec asked for it.
    pub pprint: Option<String>,
}

impl BatchOutput {
    /// The records as a sorted multiset (values grouped by key sorted too).
    pub fn records(&self) -> Vec<Value> {
        let mut records: Vec<Value> = self
            .partitions
            .iter()
            .flatten()
            .cloned()
            .map(Value::canonical)
            .collect();
        records.sort();
        records
    }

    /// The output line: `{"batch": .., "time_ms": .., "fired": .., "records": [..], "partitions":
    /// [..], "pprint": ".."}` as Python's `json.dumps` writes it.
    pub fn to_json_line(&self) -> String {
        let mut out = format!(
            "{{\"batch\": {}, \"time_ms\": {}, \"fired\": {}, \"records\": ",
            self.batch, self.time_ms, self.fired
        );
        json_array(&self.records(), &mut out, Value::write_json);
        out.push_str(", \"partitions\": ");
        json_array(&self.partitions, &mut out, |p, out| {
            json_array(p, out, Value::write_json)
        });
        if let Some(text) = &self.pprint {
            out.push_str(", \"pprint\": ");
            json_string(text, &mut out);
        }
        out.push('}');
        out
    }
}

/// Reads and parses a spec file.
pub fn load(path: &Path) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a valid DStream spec: {e}", path.display()))
}

fn batches(json: &JsonBatches, name: &str) -> Result<Vec<Rdd<Value>>, String> {
    json.iter()
        .enumerate()
        .map(|(b, parts)| {
            parts
                .iter()
                .map(|p| {
                    p.iter()
                        .map(Value::from_json)
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Rdd::new)
                .map_err(|e| format!("`{name}` batch {b}: {e}"))
        })
        .collect()
}

/// A spec checked and ready to run.
struct Checked {
    interval_ms: u64,
    input: Vec<Rdd<Value>>,
    input2: Option<Vec<Rdd<Value>>>,
    pipeline: Vec<Planned>,
    pipeline2: Vec<Planned>,
    batches: u64,
    pprint: Option<usize>,
}

fn check(spec: &Spec) -> Result<Checked, String> {
    let interval_ms = spec.batch_interval_s * 1000.0;
    if !(interval_ms >= 1.0 && interval_ms.fract() == 0.0 && interval_ms < 1e12) {
        return Err(format!(
            "`batch_interval_s` must be a positive whole number of milliseconds, got {}",
            spec.batch_interval_s
        ));
    }
    let interval_ms = interval_ms as u64;
    let input = batches(&spec.input, "input")?;
    let input2 = spec
        .input2
        .as_ref()
        .map(|b| batches(b, "input2"))
        .transpose()?;
    if input2.is_none() && !spec.pipeline2.is_empty() {
        return Err("`pipeline2` needs an `input2`".into());
    }
    let mut slide2 = 1;
    let pipeline2 = plan(&spec.pipeline2, "pipeline2", &mut slide2, None)?;
    let mut slide = 1;
    let pipeline = plan(
        &spec.pipeline,
        "pipeline",
        &mut slide,
        input2.is_some().then_some(slide2),
    )?;
    let extra = spec.extra_batches.unwrap_or_else(|| {
        1 + pipeline
            .iter()
            .chain(&pipeline2)
            .map(Planned::drain)
            .sum::<u64>()
    });
    let inputs = input.len().max(input2.as_ref().map_or(0, Vec::len)) as u64;
    let batches = inputs.saturating_add(extra);
    if batches > MAX_BATCHES {
        return Err(format!(
            "the spec asks for {batches} batches ({inputs} of input and {extra} after it); a spec may \
             run at most {MAX_BATCHES} (lower `extra_batches`)"
        ));
    }
    Ok(Checked {
        interval_ms,
        input,
        input2,
        pipeline,
        pipeline2,
        batches,
        pprint: spec.pprint,
    })
}

/// Checks a spec as [`run`] does before it runs it (stages, functions, windows, bounds), without
/// running it.
pub fn validate(spec: &Spec) -> Result<(), String> {
    check(spec).map(|_| ())
}

/// Runs a spec on the manual clock: one output per batch, empty batches included.
pub fn run(spec: &Spec) -> Result<Vec<BatchOutput>, SpecError> {
    run_on(spec, 1)
}

/// [`run`] on `workers` timely workers, the batches' partitions spread over them (see
/// [`StreamingContext::workers`]); the outputs are those of one worker.
pub fn run_on(spec: &Spec, workers: usize) -> Result<Vec<BatchOutput>, SpecError> {
    run_with(
        spec,
        &Parallel {
            workers,
            cluster: None,
        },
    )
}

/// Where a spec runs: worker threads, and the processes of a cluster.
#[derive(Clone, Debug)]
pub struct Parallel {
    /// Worker threads in this process.
    pub workers: usize,
    /// The cluster this process is part of, if any.
    pub cluster: Option<Cluster>,
}

impl Parallel {
    /// Whether this process gets the outputs (the only process, or the first of a cluster).
    pub fn prints(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.process == 0)
    }
}

/// [`run`] on the workers and processes of `parallel`. In a cluster, the first process returns the
/// outputs and the others an empty list once the first has finished.
pub fn run_with(spec: &Spec, parallel: &Parallel) -> Result<Vec<BatchOutput>, SpecError> {
    let checked = check(spec).map_err(SpecError::Invalid)?;
    let interval_ms = checked.interval_ms;
    let mut ssc =
        StreamingContext::manual(Duration::from_millis(interval_ms)).workers(parallel.workers);
    if let Some(cluster) = &parallel.cluster {
        ssc = ssc.cluster(cluster.clone());
    }
    type Collected = BTreeMap<u64, (Vec<Vec<Value>>, Option<String>)>;
    let collected: Arc<Mutex<Collected>> = Arc::default();
    let errors = Errors::default();
    let (out, errs) = (collected.clone(), errors.clone());
    let Checked {
        input,
        input2,
        pipeline,
        pipeline2,
        batches,
        pprint,
        ..
    } = checked;
    // One queue per input, shared by the workers (the first takes the batches).
    let first: RddQueue<Value> = input.into_iter().collect();
    let second_queue: Option<RddQueue<Value>> = input2.map(|input2| input2.into_iter().collect());
    ssc.start_parallel(move |ssc| {
        let mut stream = ssc.queue_stream(&first);
        let second = second_queue.as_ref().map(|queue| {
            pipeline2.iter().fold(ssc.queue_stream(queue), |s, stage| {
                build(stage, s, None, &errs, interval_ms)
            })
        });
        for stage in &pipeline {
            stream = build(stage, stream, second.as_ref(), &errs, interval_ms);
        }
        let out = out.clone();
        stream.foreach_rdd(move |time, rdd| {
            let text = pprint.map(|n| pprint_text(time, true, n, rdd));
            let parts = rdd.partitions().map(|p| p.to_vec()).collect();
            out.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(time.batch, (parts, text));
        });
    })
    .map_err(|e| SpecError::Run(e.to_string()))?;
    let ran = ssc.advance(batches).and_then(|()| ssc.stop(true));
    // A function's error explains a failed run better than the failure itself.
    if let Some(e) = errors.take() {
        return Err(SpecError::Run(e));
    }
    ran.map_err(|e| SpecError::Run(e.to_string()))?;
    if !parallel.prints() {
        return Ok(Vec::new());
    }
    let mut collected = collected.lock().unwrap_or_else(|e| e.into_inner());
    Ok((0..batches)
        .map(|batch| {
            let time_ms = (batch + 1) * interval_ms;
            match collected.remove(&batch) {
                Some((partitions, pprint)) => BatchOutput {
                    batch,
                    time_ms,
                    fired: true,
                    partitions,
                    pprint,
                },
                None => BatchOutput {
                    batch,
                    time_ms,
                    fired: false,
                    partitions: Vec::new(),
                    pprint: pprint.map(|_| String::new()),
                },
            }
        })
        .collect())
}

/// Compares a run's lines with expected lines (JSON values compared, so spacing does not matter);
/// `Err` names the first difference.
pub fn compare(actual: &[BatchOutput], expected: &str) -> Result<(), SpecError> {
    let expected: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        let line = a.to_json_line();
        let parsed_a: Json =
            serde_json::from_str(&line).map_err(|e| SpecError::Invalid(e.to_string()))?;
        let parsed_e: Json = serde_json::from_str(e).map_err(|err| {
            SpecError::Invalid(format!("expected line {} is not JSON: {err}", i + 1))
        })?;
        if parsed_a != parsed_e {
            return Err(SpecError::Mismatch(format!(
                "batch {i} differs:\n  expected {e}\n  got      {line}"
            )));
        }
    }
    if actual.len() != expected.len() {
        return Err(SpecError::Mismatch(format!(
            "{} batches expected, {} produced",
            expected.len(),
            actual.len()
        )));
    }
    Ok(())
}
