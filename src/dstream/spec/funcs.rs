//! The named functions of DStream specs (tests/conformance/dstream-spec.md), resolved and checked
//! before a run, applied to [`Value`]s with Python's meaning. A function applied to a record it does not
//! fit (say `add` to a string and an integer) is an error of the run, reported with the stage.

use serde_json::Value as Json;

use crate::dstream::pyfmt::py_str;
use crate::dstream::value::Value;

/// A result of applying a function: the value, or what went wrong.
pub type Applied = Result<Value, String>;

/// The argument of a function, as a record.
fn arg_value(name: &str, arg: Option<&Json>) -> Result<Value, String> {
    let arg = arg.ok_or_else(|| format!("function `{name}` needs an `arg`"))?;
    Value::from_json(arg).map_err(|e| format!("the `arg` of `{name}`: {e}"))
}

fn arg_int(name: &str, arg: Option<&Json>) -> Result<i64, String> {
    match arg_value(name, arg)? {
        Value::Int(i) => Ok(i),
        other => Err(format!(
            "function `{name}` needs an integer `arg`, got {other:?}"
        )),
    }
}

fn unknown(kind: &str, name: &str, known: &str) -> String {
    format!("unknown {kind} function `{name}`; known: {known}")
}

/// `a + b` as Python adds: integers, strings, tuples and lists.
pub fn add(a: Value, b: Value) -> Applied {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x
            .checked_add(y)
            .map(Value::Int)
            .ok_or_else(|| format!("{x} + {y} overflows 64 bits")),
        (Value::Str(x), Value::Str(y)) => Ok(Value::Str(x + &y)),
        (Value::Tuple(mut x), Value::Tuple(y)) => {
            x.extend(y);
            Ok(Value::Tuple(x))
        }
        (Value::List(mut x), Value::List(y)) => {
            x.extend(y);
            Ok(Value::List(x))
        }
        (a, b) => Err(format!("cannot add {} and {}", py_str(&a), py_str(&b))),
    }
}

/// `a - b` on integers.
pub fn subtract(a: Value, b: Value) -> Applied {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x
            .checked_sub(y)
            .map(Value::Int)
            .ok_or_else(|| format!("{x} - {y} overflows 64 bits")),
        (a, b) => Err(format!(
            "cannot subtract {} from {}",
            py_str(&b),
            py_str(&a)
        )),
    }
}

/// A reduce function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// `a + b`.
    Sum,
    /// The greater.
    Max,
    /// The lesser.
    Min,
    /// `str(a) + str(b)`.
    Concat,
    /// Values become 1, then `sum`.
    Count,
}

impl Reduce {
    /// The reduce function called `name`.
    pub fn named(name: &str) -> Result<Reduce, String> {
        Ok(match name {
            "sum" => Reduce::Sum,
            "max" => Reduce::Max,
            "min" => Reduce::Min,
            "concat" => Reduce::Concat,
            "count" => Reduce::Count,
            _ => return Err(unknown("reduce", name, "sum, max, min, concat, count")),
        })
    }

    /// What each value becomes before reducing (`count` counts ones).
    pub fn prepare(self, v: Value) -> Value {
        match self {
            Reduce::Count => Value::Int(1),
            _ => v,
        }
    }

    /// Whether values must be prepared first.
    pub fn needs_prepare(self) -> bool {
        self == Reduce::Count
    }

    /// `f(a, b)`.
    pub fn apply(self, a: Value, b: Value) -> Applied {
        match self {
            Reduce::Sum | Reduce::Count => add(a, b),
            Reduce::Max => Ok(a.max(b)),
            Reduce::Min => Ok(a.min(b)),
            Reduce::Concat => Ok(Value::Str(py_str(&a) + &py_str(&b))),
        }
    }

    /// Checks that the function has an inverse (subtraction, for `sum` and `count`).
    pub fn check_inverse(self) -> Result<(), String> {
        match self {
            Reduce::Sum | Reduce::Count => Ok(()),
            _ => Err(format!(
                "`inverse: true` needs a reduce function with an inverse (sum or count), not {self:?}"
            )),
        }
    }
}

/// A `map` / `mapValues` function.
#[derive(Clone, Debug, PartialEq)]
pub enum MapFn {
    /// `x`.
    Identity,
    /// `(x, 1)`.
    PairOne,
    /// `(k, v)` → `(k, 1)`.
    ValueOne,
    /// `(a, b)` → `(b, a)`.
    Swap,
    /// `(x mod arg, x)`.
    KeyMod(i64),
    /// `str(x)`.
    Str,
    /// `len(x)`.
    Len,
    /// `x + arg`.
    Add(Value),
    /// `x × arg`.
    Mul(i64),
    /// `1`.
    One,
}

impl MapFn {
    /// The map function called `name`.
    pub fn named(name: &str, arg: Option<&Json>) -> Result<MapFn, String> {
        Ok(match name {
            "identity" => MapFn::Identity,
            "pair_one" => MapFn::PairOne,
            "value_one" => MapFn::ValueOne,
            "swap" => MapFn::Swap,
            "key_mod" => match arg_int(name, arg)? {
                0 => return Err("`key_mod` by 0: the `arg` must not be 0".into()),
                m => MapFn::KeyMod(m),
            },
            "str" => MapFn::Str,
            "len" => MapFn::Len,
            "add" => MapFn::Add(arg_value(name, arg)?),
            "mul" => MapFn::Mul(arg_int(name, arg)?),
            "one" => MapFn::One,
            _ => {
                return Err(unknown(
                    "map",
                    name,
                    "identity, pair_one, value_one, swap, key_mod, str, len, add, mul, one",
                ))
            }
        })
    }

    /// `f(x)`.
    pub fn apply(&self, x: Value) -> Applied {
        match self {
            MapFn::Identity => Ok(x),
            MapFn::PairOne => Ok(Value::pair(x, Value::Int(1))),
            MapFn::ValueOne => pair(x).map(|(k, _)| Value::pair(k, Value::Int(1))),
            MapFn::Swap => pair(x).map(|(k, v)| Value::pair(v, k)),
            MapFn::KeyMod(m) => match x {
                Value::Int(i) => Ok(Value::pair(Value::Int(((i % m) + m) % m), Value::Int(i))),
                other => Err(format!("key_mod needs integers, got {}", py_str(&other))),
            },
            MapFn::Str => Ok(Value::Str(py_str(&x))),
            MapFn::Len => match x {
                Value::Str(s) => Ok(Value::Int(s.chars().count() as i64)),
                Value::Tuple(v) | Value::List(v) | Value::Group(v) => {
                    Ok(Value::Int(v.len() as i64))
                }
                other => Err(format!("{} has no len()", py_str(&other))),
            },
            MapFn::Add(arg) => add(x, arg.clone()),
            MapFn::Mul(n) => match x {
                Value::Int(i) => i
                    .checked_mul(*n)
                    .map(Value::Int)
                    .ok_or_else(|| format!("{i} × {n} overflows 64 bits")),
                Value::Str(s) => Ok(Value::Str(s.repeat((*n).max(0) as usize))),
                Value::Tuple(v) => Ok(Value::Tuple(
                    std::iter::repeat_n(v, (*n).max(0) as usize)
                        .flatten()
                        .collect(),
                )),
                other => Err(format!("cannot multiply {} by {n}", py_str(&other))),
            },
            MapFn::One => Ok(Value::Int(1)),
        }
    }
}

/// A record as a key–value pair, or an error saying it is not one.
pub fn pair(x: Value) -> Result<(Value, Value), String> {
    x.into_pair()
        .map_err(|other| format!("expected a (key, value) pair, got {}", py_str(&other)))
}

/// A `flatMap` function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlatMapFn {
    /// `s.split(arg)`, or `s.split()` (on whitespace).
    Split(Option<String>),
    /// The characters of a string.
    Chars,
    /// `0 .. n-1`.
    Range,
}

impl FlatMapFn {
    /// The flatMap function called `name`.
    pub fn named(name: &str, arg: Option<&Json>) -> Result<FlatMapFn, String> {
        Ok(match name {
            "split" => match arg {
                None | Some(Json::Null) => FlatMapFn::Split(None),
                Some(Json::String(s)) if !s.is_empty() => FlatMapFn::Split(Some(s.clone())),
                Some(other) => {
                    return Err(format!(
                    "`split` needs a non-empty string `arg` (or none, for whitespace), got {other}"
                ))
                }
            },
            "chars" => FlatMapFn::Chars,
            "range" => FlatMapFn::Range,
            _ => return Err(unknown("flatMap", name, "split, chars, range")),
        })
    }

    /// The records `f(x)` gives, appended to `out`.
    pub fn apply(&self, x: Value, out: &mut Vec<Value>) -> Result<(), String> {
        match (self, x) {
            (FlatMapFn::Split(None), Value::Str(s)) => {
                out.extend(s.split_whitespace().map(|w| Value::Str(w.to_string())))
            }
            (FlatMapFn::Split(Some(sep)), Value::Str(s)) => {
                out.extend(s.split(sep.as_str()).map(|w| Value::Str(w.to_string())))
            }
            (FlatMapFn::Chars, Value::Str(s)) => {
                out.extend(s.chars().map(|c| Value::Str(c.to_string())))
            }
            (FlatMapFn::Range, Value::Int(n)) => out.extend((0..n.max(0)).map(Value::Int)),
            (f, other) => return Err(format!("{f:?} cannot take {}", py_str(&other))),
        }
        Ok(())
    }
}

/// A `filter` function.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterFn {
    /// `x % 2 == 0`.
    Even,
    /// `x % 2 == 1`.
    Odd,
    /// `x > arg`.
    Gt(Value),
    /// `x < arg`.
    Lt(Value),
    /// `v != 0` of a pair `(k, v)`.
    ValueNonzero,
    /// `v > 0` of a pair `(k, v)`.
    ValuePositive,
    /// `v > arg` of a pair `(k, v)`.
    ValueGt(Value),
}

impl FilterFn {
    /// The filter called `name`.
    pub fn named(name: &str, arg: Option<&Json>) -> Result<FilterFn, String> {
        Ok(match name {
            "even" => FilterFn::Even,
            "odd" => FilterFn::Odd,
            "gt" => FilterFn::Gt(arg_value(name, arg)?),
            "lt" => FilterFn::Lt(arg_value(name, arg)?),
            "value_nonzero" => FilterFn::ValueNonzero,
            "value_positive" => FilterFn::ValuePositive,
            "value_gt" => FilterFn::ValueGt(arg_value(name, arg)?),
            _ => {
                return Err(unknown(
                    "filter",
                    name,
                    "even, odd, gt, lt, value_nonzero, value_positive, value_gt",
                ))
            }
        })
    }

    /// Whether `x` passes.
    pub fn keep(&self, x: &Value) -> Result<bool, String> {
        let value = |x: &Value| match x {
            Value::Tuple(items) if items.len() == 2 => Ok(items[1].clone()),
            other => Err(format!(
                "expected a (key, value) pair, got {}",
                py_str(other)
            )),
        };
        let int = |x: &Value| match x {
            Value::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, got {}", py_str(other))),
        };
        Ok(match self {
            FilterFn::Even => int(x)?.rem_euclid(2) == 0,
            FilterFn::Odd => int(x)?.rem_euclid(2) == 1,
            FilterFn::Gt(arg) => x > arg,
            FilterFn::Lt(arg) => x < arg,
            FilterFn::ValueNonzero => value(x)? != Value::Int(0),
            FilterFn::ValuePositive => value(x)? > Value::Int(0),
            FilterFn::ValueGt(arg) => &value(x)? > arg,
        })
    }
}

/// A `transform` function (on a whole batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransformFn {
    /// The distinct records.
    Distinct,
    /// The records sorted.
    Sort,
    /// The pairs sorted by key.
    SortByKey,
    /// `(x, index in the batch)`.
    ZipWithIndex,
    /// One partition.
    Coalesce1,
    /// The keys of pairs.
    Keys,
    /// The values of pairs.
    Values,
    /// One record: the batch's size.
    CountAsRdd,
}

impl TransformFn {
    /// The transform called `name`.
    pub fn named(name: &str) -> Result<TransformFn, String> {
        Ok(match name {
            "distinct" => TransformFn::Distinct,
            "sort" => TransformFn::Sort,
            "sortByKey" => TransformFn::SortByKey,
            "zipWithIndex" => TransformFn::ZipWithIndex,
            "coalesce1" => TransformFn::Coalesce1,
            "keys" => TransformFn::Keys,
            "values" => TransformFn::Values,
            "count_as_rdd" => TransformFn::CountAsRdd,
            _ => return Err(unknown(
                "transform",
                name,
                "distinct, sort, sortByKey, zipWithIndex, coalesce1, keys, values, count_as_rdd",
            )),
        })
    }
}

/// A `transformWith` function (on the two streams' batches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransformWithFn {
    /// The pairs whose key is not in the other batch.
    SubtractByKey,
    /// The records not in the other batch.
    Subtract,
    /// The distinct records in both.
    Intersection,
}

impl TransformWithFn {
    /// The transformWith function called `name`.
    pub fn named(name: &str) -> Result<TransformWithFn, String> {
        Ok(match name {
            "subtractByKey" => TransformWithFn::SubtractByKey,
            "subtract" => TransformWithFn::Subtract,
            "intersection" => TransformWithFn::Intersection,
            _ => {
                return Err(unknown(
                    "transformWith",
                    name,
                    "subtractByKey, subtract, intersection",
                ))
            }
        })
    }
}

/// An `updateStateByKey` function, with its removal rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateFn {
    kind: UpdateKind,
    drop_without_new_values: bool,
    drop_when_state_ge: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UpdateKind {
    Sum,
    Count,
    Max,
    Min,
    Concat,
    Last,
}

impl UpdateFn {
    /// The update function called `name`, removing keys as `drop_when` / `drop_when_state_ge` say.
    pub fn named(
        name: &str,
        drop_when: Option<&str>,
        drop_when_state_ge: Option<i64>,
    ) -> Result<UpdateFn, String> {
        let kind = match name {
            "sum" => UpdateKind::Sum,
            "count" => UpdateKind::Count,
            "max" => UpdateKind::Max,
            "min" => UpdateKind::Min,
            "concat" => UpdateKind::Concat,
            "last" => UpdateKind::Last,
            _ => {
                return Err(unknown(
                    "updateStateByKey",
                    name,
                    "sum, count, max, min, concat, last",
                ))
            }
        };
        let drop_without_new_values = match drop_when {
            None => false,
            Some("no_new_values") => true,
            Some(other) => {
                return Err(format!(
                    "unknown `drop_when` rule `{other}`; known: no_new_values"
                ))
            }
        };
        Ok(UpdateFn {
            kind,
            drop_without_new_values,
            drop_when_state_ge,
        })
    }

    /// The key's next state from its new values and its state; `None` removes the key.
    pub fn apply(&self, values: Vec<Value>, state: Option<Value>) -> Result<Option<Value>, String> {
        if self.drop_without_new_values && values.is_empty() {
            return Ok(None);
        }
        let next = match self.kind {
            UpdateKind::Sum => values
                .into_iter()
                .try_fold(state.unwrap_or(Value::Int(0)), add)?,
            UpdateKind::Count => add(
                state.unwrap_or(Value::Int(0)),
                Value::Int(values.len() as i64),
            )?,
            UpdateKind::Max => match values.into_iter().chain(state).max() {
                Some(v) => v,
                None => return Ok(None),
            },
            UpdateKind::Min => match values.into_iter().chain(state).min() {
                Some(v) => v,
                None => return Ok(None),
            },
            UpdateKind::Concat => {
                let mut s = state.map(|s| py_str(&s)).unwrap_or_default();
                for v in &values {
                    s.push_str(&py_str(v));
                }
                Value::Str(s)
            }
            UpdateKind::Last => match values.into_iter().last().or(state) {
                Some(v) => v,
                None => return Ok(None),
            },
        };
        if let Some(limit) = self.drop_when_state_ge {
            if next >= Value::Int(limit) {
                return Ok(None);
            }
        }
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_mean_what_python_means() {
        let f = MapFn::named("key_mod", Some(&Json::from(3))).unwrap();
        assert_eq!(
            f.apply(Value::Int(-4)).unwrap(),
            Value::pair(Value::Int(2), Value::Int(-4))
        );
        assert_eq!(
            Reduce::Concat
                .apply(Value::Int(1), Value::Str("a".into()))
                .unwrap(),
            Value::Str("1a".into())
        );
        let mut out = Vec::new();
        FlatMapFn::named("split", None)
            .unwrap()
            .apply(Value::Str(" a  b ".into()), &mut out)
            .unwrap();
        assert_eq!(out, vec![Value::Str("a".into()), Value::Str("b".into())]);
        let update = UpdateFn::named("sum", None, Some(10)).unwrap();
        assert_eq!(
            update
                .apply(vec![Value::Int(4)], Some(Value::Int(3)))
                .unwrap(),
            Some(Value::Int(7))
        );
        assert_eq!(
            update
                .apply(vec![Value::Int(4)], Some(Value::Int(6)))
                .unwrap(),
            None
        );
        let dropping = UpdateFn::named("last", Some("no_new_values"), None).unwrap();
        assert_eq!(dropping.apply(vec![], Some(Value::Int(3))).unwrap(), None);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(MapFn::named("double", None)
            .unwrap_err()
            .contains("known: identity"));
        assert!(MapFn::named("add", None)
            .unwrap_err()
            .contains("needs an `arg`"));
        assert!(add(Value::Int(1), Value::Str("a".into()))
            .unwrap_err()
            .contains("cannot add 1 and a"));
        assert!(Reduce::Max.check_inverse().is_err());
    }
}
