//! How records print: as Python's `print` shows them, which is what PySpark's `pprint` and
//! `saveAsTextFiles` write. Strings print bare at the top level and quoted inside tuples and lists;
//! pairs print as `(2000, 3)`; `None`, `True` and `False` as in Python.

use std::fmt::Write;

/// A record that prints as Python prints it.
pub trait PyFormat {
    /// `repr(self)`: how it prints inside a tuple or a list.
    fn py_repr(&self, out: &mut String);

    /// `str(self)`: how it prints on its own (the same as `repr` except for strings).
    fn py_str(&self, out: &mut String) {
        self.py_repr(out)
    }
}

/// `str(record)` as a new string.
pub fn py_str<T: PyFormat + ?Sized>(record: &T) -> String {
    let mut out = String::new();
    record.py_str(&mut out);
    out
}

/// Writes `open`, the items separated by `", "` (each written by `write`), then `close`: how Python
/// prints lists and tuples, and how its `json.dumps` writes arrays.
pub fn write_seq<T>(
    out: &mut String,
    open: &str,
    items: &[T],
    close: &str,
    mut write: impl FnMut(&T, &mut String),
) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write(item, out);
    }
    out.push_str(close);
}

/// Python's `repr` of a string: single quotes unless the string holds a single quote and no double one.
pub fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

macro_rules! display_repr {
    ($($t:ty),*) => {$(
        impl PyFormat for $t {
            fn py_repr(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
display_repr!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

impl PyFormat for f64 {
    fn py_repr(&self, out: &mut String) {
        if self.is_nan() {
            out.push_str("nan");
        } else if self.is_infinite() {
            out.push_str(if *self > 0.0 { "inf" } else { "-inf" });
        } else if self.fract() == 0.0 && self.abs() < 1e16 {
            let _ = write!(out, "{self:.1}");
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

impl PyFormat for f32 {
    fn py_repr(&self, out: &mut String) {
        (*self as f64).py_repr(out)
    }
}

impl PyFormat for bool {
    fn py_repr(&self, out: &mut String) {
        out.push_str(if *self { "True" } else { "False" });
    }
}

impl PyFormat for str {
    fn py_repr(&self, out: &mut String) {
        repr_str(self, out)
    }
    fn py_str(&self, out: &mut String) {
        out.push_str(self)
    }
}

impl PyFormat for String {
    fn py_repr(&self, out: &mut String) {
        repr_str(self, out)
    }
    fn py_str(&self, out: &mut String) {
        out.push_str(self)
    }
}

impl PyFormat for char {
    fn py_repr(&self, out: &mut String) {
        let mut buf = [0u8; 4];
        repr_str(self.encode_utf8(&mut buf), out)
    }
    fn py_str(&self, out: &mut String) {
        out.push(*self)
    }
}

impl<T: PyFormat + ?Sized> PyFormat for &T {
    fn py_repr(&self, out: &mut String) {
        (**self).py_repr(out)
    }
    fn py_str(&self, out: &mut String) {
        (**self).py_str(out)
    }
}

impl<T: PyFormat> PyFormat for Option<T> {
    fn py_repr(&self, out: &mut String) {
        match self {
            Some(x) => x.py_repr(out),
            None => out.push_str("None"),
        }
    }
    fn py_str(&self, out: &mut String) {
        match self {
            Some(x) => x.py_str(out),
            None => out.push_str("None"),
        }
    }
}

impl<T: PyFormat> PyFormat for Vec<T> {
    fn py_repr(&self, out: &mut String) {
        write_seq(out, "[", self, "]", |x, out| x.py_repr(out));
    }
}

impl PyFormat for () {
    fn py_repr(&self, out: &mut String) {
        out.push_str("()");
    }
}

impl<A: PyFormat> PyFormat for (A,) {
    fn py_repr(&self, out: &mut String) {
        out.push('(');
        self.0.py_repr(out);
        out.push_str(",)");
    }
}

macro_rules! tuple_format {
    ($(($first:ident $(, $rest:ident)+))*) => {$(
        impl<$first: PyFormat $(, $rest: PyFormat)+> PyFormat for ($first, $($rest),+) {
            #[allow(non_snake_case)]
            fn py_repr(&self, out: &mut String) {
                let ($first, $($rest),+) = self;
                out.push('(');
                $first.py_repr(out);
                $(
                    out.push_str(", ");
                    $rest.py_repr(out);
                )+
                out.push(')');
            }
        }
    )*};
}
tuple_format!((A, B)(A, B, C)(A, B, C, D));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_python() {
        assert_eq!(py_str(&(2000, 3)), "(2000, 3)");
        assert_eq!(py_str("word"), "word");
        assert_eq!(py_str(&("word".to_string(), 2)), "('word', 2)");
        assert_eq!(py_str(&("it's", None::<i32>)), "(\"it's\", None)");
        assert_eq!(py_str(&vec![1, 2, 3]), "[1, 2, 3]");
        assert_eq!(py_str(&(1, (Some(2), true))), "(1, (2, True))");
        assert_eq!(py_str(&(7,)), "(7,)");
        assert_eq!(py_str(&2.0f64), "2.0");
        assert_eq!(py_str(&2.5f64), "2.5");
        assert_eq!(py_str(&("a\nb".to_string(),)), "('a\\nb',)");
    }
}
