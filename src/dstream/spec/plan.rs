//! A spec's stages, resolved and checked before anything runs, and built into DStreams.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::funcs::{
    pair, FilterFn, FlatMapFn, MapFn, Reduce, TransformFn, TransformWithFn, UpdateFn,
};
use super::Stage;
use crate::dstream::rdd::Rdd;
use crate::dstream::value::Value;
use crate::dstream::DStream;

/// The first error of a run, with the stage it came from.
#[derive(Clone, Default)]
pub(crate) struct Errors(Arc<Mutex<Option<String>>>);

impl Errors {
    /// The first error reported, if any.
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Reports errors of one stage.
#[derive(Clone)]
struct Reporter {
    errors: Errors,
    label: Arc<str>,
}

impl Reporter {
    fn report(&self, message: String) {
        let mut first = self.errors.0.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert_with(|| format!("{}: {message}", self.label));
    }

    /// `result`'s value, or `None` after reporting its error.
    fn ok<T>(&self, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.report(e)).ok()
    }
}

/// A binary stage.
#[derive(Clone, Debug)]
enum Binary {
    Union,
    Join,
    LeftOuterJoin,
    RightOuterJoin,
    FullOuterJoin,
    Cogroup,
    TransformWith(TransformWithFn),
}

/// A stage, resolved.
#[derive(Clone, Debug)]
enum Step {
    Map(MapFn),
    MapValues(MapFn),
    FlatMap(FlatMapFn),
    Filter(FilterFn),
    Glom,
    Repartition(usize),
    Transform(TransformFn),
    Count,
    CountByValue,
    Reduce(Reduce),
    ReduceByKey(Reduce),
    GroupByKey,
    UpdateStateByKey(UpdateFn, Vec<Value>),
    Window,
    CountByWindow,
    ReduceByWindow(Reduce, bool),
    ReduceByKeyAndWindow(Reduce, bool, Option<FilterFn>),
    CountByValueAndWindow,
    GroupByKeyAndWindow,
    Binary(Binary),
}

/// A stage ready to build: what it does, its partitions, its window, and its name for errors.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    step: Step,
    partitions: usize,
    /// Window length and slide, in batches.
    window: (u64, u64),
    label: Arc<str>,
}

impl Planned {
    /// Whether the stage is windowed, and then `length - 1 + slide` (the batches it needs to drain).
    pub(crate) fn drain(&self) -> u64 {
        match self.step {
            Step::Window
            | Step::CountByWindow
            | Step::ReduceByWindow(..)
            | Step::ReduceByKeyAndWindow(..)
            | Step::CountByValueAndWindow
            | Step::GroupByKeyAndWindow => self.window.0 - 1 + self.window.1,
            _ => 0,
        }
    }
}

fn func(stage: &Stage) -> Result<&str, String> {
    stage
        .func
        .as_deref()
        .ok_or_else(|| format!("`{}` needs a `func`", stage.op))
}

/// Resolves one pipeline's stages; `slide` is the stream's slide in batches (updated through windows),
/// `second_slide` the second pipeline's, for binary stages.
pub(crate) fn plan(
    pipeline: &[Stage],
    name: &str,
    slide: &mut u64,
    second_slide: Option<u64>,
) -> Result<Vec<Planned>, String> {
    pipeline
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let label = format!("{name} stage {} ({})", i + 1, stage.op);
            plan_stage(stage, slide, second_slide)
                .map_err(|e| format!("{label}: {e}"))
                .map(|step| Planned {
                    step,
                    partitions: stage.num_partitions.unwrap_or(2),
                    window: (stage.length.unwrap_or(0), stage.slide.unwrap_or(1)),
                    label: label.into(),
                })
        })
        .collect()
}

fn plan_stage(stage: &Stage, slide: &mut u64, second_slide: Option<u64>) -> Result<Step, String> {
    if stage.num_partitions == Some(0) {
        return Err("`numPartitions` must be at least 1".into());
    }
    let arg = stage.arg.as_ref();
    let windowed = matches!(
        stage.op.as_str(),
        "window"
            | "countByWindow"
            | "reduceByWindow"
            | "reduceByKeyAndWindow"
            | "countByValueAndWindow"
            | "groupByKeyAndWindow"
    );
    if windowed {
        let length = stage
            .length
            .ok_or("a window needs a `length` (in batches)")?;
        let step = stage.slide.unwrap_or(1);
        for (what, n) in [("length", length), ("slide", step)] {
            if n > super::MAX_BATCHES {
                return Err(format!(
                    "the window {what} ({n} batches) is more than a spec may ask for ({} batches)",
                    super::MAX_BATCHES
                ));
            }
            if n == 0 || n % *slide != 0 {
                return Err(format!(
                    "the window {what} ({n} batches) must be a positive multiple of the stream's slide ({} batches)",
                    *slide
                ));
            }
        }
        *slide = step;
    }
    let binary = |op: Binary| -> Result<Step, String> {
        match second_slide {
            None => Err(
                "a binary stage needs a second stream (`input2`, with optional `pipeline2`)".into(),
            ),
            Some(other) if other != *slide => Err(format!(
                "both streams must have the same slide ({} and {other} batches)",
                *slide
            )),
            Some(_) => Ok(Step::Binary(op)),
        }
    };
    let reduce = |stage: &Stage| -> Result<(Reduce, bool), String> {
        let f = Reduce::named(func(stage)?)?;
        if stage.inverse {
            f.check_inverse()?;
        }
        Ok((f, stage.inverse))
    };
    Ok(match stage.op.as_str() {
        "map" => Step::Map(MapFn::named(func(stage)?, arg)?),
        "mapValues" => Step::MapValues(MapFn::named(func(stage)?, arg)?),
        "flatMap" => Step::FlatMap(FlatMapFn::named(func(stage)?, arg)?),
        "filter" => Step::Filter(FilterFn::named(func(stage)?, arg)?),
        "glom" => Step::Glom,
        "repartition" => match stage.n {
            Some(n) if n > 0 => Step::Repartition(n),
            _ => return Err("`repartition` needs `n`, at least 1".into()),
        },
        "transform" => Step::Transform(TransformFn::named(func(stage)?)?),
        "count" => Step::Count,
        "countByValue" => Step::CountByValue,
        "reduce" => Step::Reduce(Reduce::named(func(stage)?)?),
        "reduceByKey" => Step::ReduceByKey(Reduce::named(func(stage)?)?),
        "groupByKey" => Step::GroupByKey,
        "updateStateByKey" => {
            let update = UpdateFn::named(
                func(stage)?,
                stage.drop_when.as_deref(),
                stage.drop_when_state_ge,
            )?;
            let initial = stage
                .initial
                .iter()
                .flatten()
                .map(|json| Value::from_json(json).and_then(|v| pair(v).map(|(k, v)| Value::pair(k, v))))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("`initial`: {e}"))?;
            Step::UpdateStateByKey(update, initial)
        }
        "window" => Step::Window,
        "countByWindow" => Step::CountByWindow,
        "reduceByWindow" => {
            let (f, inverse) = reduce(stage)?;
            Step::ReduceByWindow(f, inverse)
        }
        "reduceByKeyAndWindow" => {
            let (f, inverse) = reduce(stage)?;
            let filter = match &stage.filter {
                None => None,
                Some(name) => {
                    if !inverse {
                        return Err("a `filter` needs `inverse: true` (as in Spark)".into());
                    }
                    Some(FilterFn::named(name, stage.filter_arg.as_ref())?)
                }
            };
            Step::ReduceByKeyAndWindow(f, inverse, filter)
        }
        "countByValueAndWindow" => Step::CountByValueAndWindow,
        "groupByKeyAndWindow" => Step::GroupByKeyAndWindow,
        "union" => binary(Binary::Union)?,
        "join" => binary(Binary::Join)?,
        "leftOuterJoin" => binary(Binary::LeftOuterJoin)?,
        "rightOuterJoin" => binary(Binary::RightOuterJoin)?,
        "fullOuterJoin" => binary(Binary::FullOuterJoin)?,
        "cogroup" => binary(Binary::Cogroup)?,
        "transformWith" => binary(Binary::TransformWith(TransformWithFn::named(func(stage)?)?))?,
        other => {
            return Err(format!(
                "unknown op `{other}`; see dstream-spec.md for the stages (map, flatMap, filter, reduceByKey, window, join, ...)"
            ))
        }
    })
}

fn pairs<'s>(s: &DStream<'s, Value>, rep: &Reporter) -> DStream<'s, (Value, Value)> {
    let rep = rep.clone();
    s.flat_map(move |x| rep.ok(pair(x)))
}

/// A batch's records as key–value pairs (records that are not pairs are reported and dropped).
fn keyed(rdd: Rdd<Value>, rep: &Reporter) -> Rdd<(Value, Value)> {
    rdd.flat_map(|x| rep.ok(pair(x)))
}

fn unpair<'s>(s: &DStream<'s, (Value, Value)>) -> DStream<'s, Value> {
    s.map(|(k, v)| Value::pair(k, v))
}

fn reducer(f: Reduce, rep: &Reporter) -> impl Fn(Value, Value) -> Value + Clone + 'static {
    let rep = rep.clone();
    move |a, b| rep.ok(f.apply(a, b)).unwrap_or(Value::Null)
}

fn inverse(rep: &Reporter) -> impl Fn(Value, Value) -> Value + Clone + 'static {
    let rep = rep.clone();
    move |a, b| rep.ok(super::funcs::subtract(a, b)).unwrap_or(Value::Null)
}

/// Values prepared for reduce function `f` (`count` counts ones).
fn prepared<'s>(s: &DStream<'s, Value>, f: Reduce) -> DStream<'s, Value> {
    if f.needs_prepare() {
        s.map(move |v| f.prepare(v))
    } else {
        s.clone()
    }
}

fn prepared_values<'s>(s: &DStream<'s, (Value, Value)>, f: Reduce) -> DStream<'s, (Value, Value)> {
    if f.needs_prepare() {
        s.map_values(move |v| f.prepare(v))
    } else {
        s.clone()
    }
}

/// Builds a planned stage onto `s` (`other`: the second stream, for binary stages).
pub(crate) fn build<'s>(
    planned: &Planned,
    s: DStream<'s, Value>,
    other: Option<&DStream<'s, Value>>,
    errors: &Errors,
    interval_ms: u64,
) -> DStream<'s, Value> {
    let rep = Reporter {
        errors: errors.clone(),
        label: planned.label.clone(),
    };
    let s = s.partitions(planned.partitions);
    let length = Duration::from_millis(planned.window.0 * interval_ms);
    let slide = Duration::from_millis(planned.window.1 * interval_ms);
    let r = rep.clone();
    match planned.step.clone() {
        Step::Map(f) => s.flat_map(move |x| r.ok(f.apply(x))),
        Step::MapValues(f) => {
            unpair(&pairs(&s, &rep).flat_map(move |(k, v)| r.ok(f.apply(v)).map(|v| (k, v))))
        }
        Step::FlatMap(f) => s.flat_map(move |x| {
            let mut out = Vec::new();
            r.ok(f.apply(x, &mut out));
            out
        }),
        Step::Filter(f) => s.filter(move |x| r.ok(f.keep(x)).unwrap_or(false)),
        Step::Glom => s.glom().map(Value::List),
        Step::Repartition(n) => s.repartition(n),
        Step::Transform(f) => transform(&s, f, &rep),
        Step::Count => s.count().map(|n| Value::Int(n as i64)),
        Step::CountByValue => s
            .count_by_value()
            .map(|(x, n)| Value::pair(x, Value::Int(n as i64))),
        Step::Reduce(f) => prepared(&s, f).reduce(reducer(f, &rep)),
        Step::ReduceByKey(f) => {
            unpair(&prepared_values(&pairs(&s, &rep), f).reduce_by_key(reducer(f, &rep)))
        }
        Step::GroupByKey => pairs(&s, &rep)
            .group_by_key()
            .map(|(k, vs)| Value::pair(k, Value::Group(vs))),
        Step::UpdateStateByKey(f, initial) => {
            let initial = Rdd::new(vec![initial
                .into_iter()
                .filter_map(|v| v.into_pair().ok())
                .collect()]);
            unpair(&pairs(&s, &rep).update_state_by_key_with_initial(
                move |values, state| r.ok(f.apply(values, state)).flatten(),
                initial,
            ))
        }
        Step::Window => s.window(length, slide),
        Step::CountByWindow => s
            .count_by_window(length, slide)
            .map(|n| Value::Int(n as i64)),
        Step::ReduceByWindow(f, false) => {
            prepared(&s, f).reduce_by_window(reducer(f, &rep), length, slide)
        }
        Step::ReduceByWindow(f, true) => {
            prepared(&s, f).reduce_by_window_inverse(reducer(f, &rep), inverse(&rep), length, slide)
        }
        Step::ReduceByKeyAndWindow(f, false, _) => unpair(
            &prepared_values(&pairs(&s, &rep), f).reduce_by_key_and_window(
                reducer(f, &rep),
                length,
                slide,
            ),
        ),
        Step::ReduceByKeyAndWindow(f, true, filter) => {
            let filter = filter.map(|keep| {
                let r = r.clone();
                Box::new(move |(k, v): &(Value, Value)| {
                    r.ok(keep.keep(&Value::pair(k.clone(), v.clone())))
                        .unwrap_or(false)
                }) as crate::dstream::KeyFilter<Value, Value>
            });
            unpair(
                &prepared_values(&pairs(&s, &rep), f).reduce_by_key_and_window_inverse(
                    reducer(f, &rep),
                    inverse(&rep),
                    length,
                    slide,
                    filter,
                ),
            )
        }
        Step::CountByValueAndWindow => s
            .count_by_value_and_window(length, slide)
            .map(|(x, n)| Value::pair(x, Value::Int(n as i64))),
        Step::GroupByKeyAndWindow => pairs(&s, &rep)
            .group_by_key_and_window(length, slide)
            .map(|(k, vs)| Value::pair(k, Value::Group(vs))),
        Step::Binary(op) => {
            let other = other
                .expect("checked when planned")
                .clone()
                .partitions(planned.partitions);
            binary(&s, &other, op, &rep)
        }
    }
}

fn transform<'s>(s: &DStream<'s, Value>, f: TransformFn, rep: &Reporter) -> DStream<'s, Value> {
    let rep = rep.clone();
    s.transform(move |rdd| match f {
        TransformFn::Distinct => rdd.distinct(),
        TransformFn::Sort => rdd.sort(),
        TransformFn::SortByKey => keyed(rdd, &rep)
            .sort_by_key()
            .map(|(k, v)| Value::pair(k, v)),
        TransformFn::ZipWithIndex => rdd
            .zip_with_index()
            .map(|(x, i)| Value::pair(x, Value::Int(i as i64))),
        TransformFn::Coalesce1 => rdd.coalesce_one(),
        TransformFn::Keys => keyed(rdd, &rep).keys(),
        TransformFn::Values => keyed(rdd, &rep).values(),
        TransformFn::CountAsRdd => Rdd::new(vec![vec![Value::Int(rdd.len() as i64)]]),
    })
}

fn binary<'s>(
    a: &DStream<'s, Value>,
    b: &DStream<'s, Value>,
    op: Binary,
    rep: &Reporter,
) -> DStream<'s, Value> {
    let opt = |v: Option<Value>| v.unwrap_or(Value::Null);
    match op {
        Binary::Union => a.union(b),
        Binary::Join => pairs(a, rep)
            .join(&pairs(b, rep))
            .map(|(k, (v, w))| Value::pair(k, Value::pair(v, w))),
        Binary::LeftOuterJoin => pairs(a, rep)
            .left_outer_join(&pairs(b, rep))
            .map(move |(k, (v, w))| Value::pair(k, Value::pair(v, opt(w)))),
        Binary::RightOuterJoin => pairs(a, rep)
            .right_outer_join(&pairs(b, rep))
            .map(move |(k, (v, w))| Value::pair(k, Value::pair(opt(v), w))),
        Binary::FullOuterJoin => pairs(a, rep)
            .full_outer_join(&pairs(b, rep))
            .map(move |(k, (v, w))| Value::pair(k, Value::pair(opt(v), opt(w)))),
        Binary::Cogroup => pairs(a, rep)
            .cogroup(&pairs(b, rep))
            .map(|(k, (vs, ws))| Value::pair(k, Value::pair(Value::Group(vs), Value::Group(ws)))),
        Binary::TransformWith(f) => {
            let rep = rep.clone();
            a.transform_with(b, move |x, y| match f {
                TransformWithFn::SubtractByKey => keyed(x, &rep)
                    .subtract_by_key(keyed(y, &rep))
                    .map(|(k, v)| Value::pair(k, v)),
                TransformWithFn::Subtract => x.subtract(y),
                TransformWithFn::Intersection => x.intersection(y),
            })
        }
    }
}
