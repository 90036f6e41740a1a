//! [`Value`]: a dynamically typed record, for DStream pipelines described in JSON (`caudal dstream`).
//!
//! It has Python's printing (`pprint`), PySpark's hash (partitions), and the sort order of the spec's
//! output: null < booleans < numbers < strings < arrays, arrays element by element.

use std::cmp::Ordering;
use std::fmt::Write;

use super::hash::{int_hash, str_hash, tuple_hash, PartitionKey};
use super::pyfmt::{repr_str, write_seq, PyFormat};

/// A record of a DStream spec.

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// Python's `None` (JSON `null`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A tuple (a JSON array in the input; `[k, v]` is a key–value pair).
    Tuple(Vec<Value>),
    /// A list (what `glom` makes of a partition).
    List(Vec<Value>),
    /// The values grouped under a key (`groupByKey`, `cogroup`): a list whose order does not matter.
    Group(Vec<Value>),
}

impl Value {
    /// The pair's key and value, if this is a 2-tuple.
    pub fn into_pair(self) -> Result<(Value, Value), Value> {
        match self {
            Value::Tuple(mut items) if items.len() == 2 => {
                let v = items.pop().expect("two items");
                let k = items.pop().expect("two items");
                Ok((k, v))
            }
            other => Err(other),
        }
    }

    /// A 2-tuple.
    pub fn pair(k: Value, v: Value) -> Value {
        Value::Tuple(vec![k, v])
    }

    /// A value from JSON: integers, strings, booleans, null and arrays (as tuples).
    pub fn from_json(json: &serde_json::Value) -> Result<Value, String> {
        Ok(match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Int(n.as_i64().ok_or_else(|| {
                format!("{n} is not a 64-bit integer; records hold integers, strings and arrays")
            })?),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => Value::Tuple(
                items
                    .iter()
                    .map(Value::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(_) => {
                return Err(format!(
                    "{json} is an object; records hold integers, strings and arrays"
                ))
            }
        })
    }

    /// The value with every group's values sorted, at any depth (a batch's records as a multiset).
    pub fn canonical(self) -> Value {
        match self {
            Value::Group(items) => {
                let mut items: Vec<Value> = items.into_iter().map(Value::canonical).collect();
                items.sort();
                Value::Group(items)
            }
            Value::Tuple(items) => Value::Tuple(items.into_iter().map(Value::canonical).collect()),
            Value::List(items) => Value::List(items.into_iter().map(Value::canonical).collect()),
            other => other,
        }
    }

    /// Writes the value as Python's `json.dumps` does (`", "` and `": "` separators, ASCII only).
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Str(s) => json_string(s, out),
            Value::Tuple(items) | Value::List(items) | Value::Group(items) => {
                json_array(items, out, Value::write_json)
            }
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Str(_) => 3,
            Value::Tuple(_) => 4,
            Value::List(_) => 5,
            Value::Group(_) => 6,
        }
    }

    fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(items) | Value::List(items) | Value::Group(items) => Some(items),
            _ => None,
        }
    }
}

/// `items` as a JSON array, each written by `write`.
pub fn json_array<T>(items: &[T], out: &mut String, write: impl Fn(&T, &mut String)) {
    write_seq(out, "[", items, "]", write);
}

/// A JSON string as Python's `json.dumps` writes it (non-ASCII escaped).
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            _ => match (self.items(), other.items()) {
                // Arrays compare element by element, whatever kind of array they are.
                (Some(a), Some(b)) => a.cmp(b).then(self.rank().cmp(&other.rank())),
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => self.rank().cmp(&other.rank()),
            },
        }
    }
}

impl PartitionKey for Value {
    fn portable_hash(&self) -> i64 {
        match self {
            Value::Null => 0,
            Value::Bool(b) => *b as i64,
            Value::Int(i) => int_hash(*i as i128),
            Value::Str(s) => str_hash(s),
            // Lists cannot be keys in Python; Caudal hashes them as tuples.
            Value::Tuple(items) | Value::List(items) | Value::Group(items) => {
                tuple_hash(items.iter().map(PartitionKey::portable_hash))
            }
        }
    }
}

impl PyFormat for Value {
    fn py_repr(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("None"),
            Value::Bool(b) => b.py_repr(out),
            Value::Int(i) => i.py_repr(out),
            Value::Str(s) => repr_str(s, out),
            Value::Tuple(items) => {
                let close = if items.len() == 1 { ",)" } else { ")" };
                write_seq(out, "(", items, close, |x, out| x.py_repr(out));
            }
            Value::List(items) | Value::Group(items) => {
                write_seq(out, "[", items, "]", |x, out| x.py_repr(out));
            }
        }
    }

    fn py_str(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(s),
            other => other.py_repr(out),
        }
    }
}

/// JSON (a human-readable format) gets Python's `json.dumps` shapes: tuples, lists and groups are all
/// arrays, as in Spark's text output. Binary formats (checkpoints) keep every variant, losslessly.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return Tagged::from(self).serialize(serializer);
        }
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Str(s) => serializer.serialize_str(s),
            Value::Tuple(items) | Value::List(items) | Value::Group(items) => {
                serializer.collect_seq(items)
            }
        }
    }
}

/// From JSON as [`Value::from_json`] reads it (arrays are tuples); from binary formats, losslessly.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let json = serde_json::Value::deserialize(deserializer)?;
            return Value::from_json(&json).map_err(serde::de::Error::custom);
        }
        Ok(match TaggedOwned::deserialize(deserializer)? {
            TaggedOwned::Null => Value::Null,
            TaggedOwned::Bool(b) => Value::Bool(b),
            TaggedOwned::Int(i) => Value::Int(i),
            TaggedOwned::Str(s) => Value::Str(s),
            TaggedOwned::Tuple(v) => Value::Tuple(v),
            TaggedOwned::List(v) => Value::List(v),
            TaggedOwned::Group(v) => Value::Group(v),
        })
    }
}

/// A [`Value`] with its variant, for binary formats.
#[derive(serde::Serialize)]
enum Tagged<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Str(&'a str),
    Tuple(&'a [Value]),
    List(&'a [Value]),
    Group(&'a [Value]),
}

impl<'a> From<&'a Value> for Tagged<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Null => Tagged::Null,
            Value::Bool(b) => Tagged::Bool(*b),
            Value::Int(i) => Tagged::Int(*i),
            Value::Str(s) => Tagged::Str(s),
            Value::Tuple(v) => Tagged::Tuple(v),
            Value::List(v) => Tagged::List(v),
            Value::Group(v) => Tagged::Group(v),
        }
    }
}

/// [`Tagged`], owned, to read back.
#[derive(serde::Deserialize)]
enum TaggedOwned {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Group(Vec<Value>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> Value {
        Value::from_json(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn sorts_null_bool_number_string_array() {
        let mut values = vec![
            v("[1, 2]"),
            v("\"b\""),
            v("3"),
            v("true"),
            v("null"),
            v("[1]"),
            v("\"a\""),
        ];
        values.sort();
        let mut json = String::new();
        json_array(&values, &mut json, Value::write_json);
        assert_eq!(json, r#"[null, true, 3, "a", "b", [1], [1, 2]]"#);
    }

    #[test]
    fn prints_and_hashes_as_python() {
        let pair = v(r#"["word", 2]"#);
        let mut text = String::new();
        pair.py_str(&mut text);
        assert_eq!(text, "('word', 2)");
        assert_eq!(pair.portable_hash(), ("word", 2).portable_hash());
        assert_eq!(v("1999").partition(2), 1);
    }

    #[test]
    fn json_is_pythons() {
        let mut out = String::new();
        v(r#"["é\n\"", 1]"#).write_json(&mut out);
        assert_eq!(out, r#"["\u00e9\n\"", 1]"#);
    }

    #[test]
    fn rejects_what_is_not_a_record() {
        assert!(Value::from_json(&serde_json::json!(1.5)).is_err());
        assert!(Value::from_json(&serde_json::json!({"a": 1})).is_err());
    }
}
