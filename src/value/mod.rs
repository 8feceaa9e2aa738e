//! Data units: the dynamic [`Value`] that flows along every stream.
//!
//! A data unit must cross thread, process and host boundaries and be wired at run time, so it
//! is one dynamic, serialisable type rather than a generic parameter: null, bool, 64-bit
//! integer, 64-bit float, string, bytes, list, map (string keys, ordered) and a dense `f64`
//! array for scientific payloads (seismic traces, spectra).
//!
//! * JSON in and out: [`Value::from_json`], [`Value::to_json`] (and `Display`).
//! * User types in and out through serde: [`Value::from_serde`], [`Value::to_serde`].
//! * Small conversions: `From<i64>`, `From<&str>`, tuples become lists, `TryFrom<Value>` back.
//! * Tuple-shaped units in one call: [`Value::into_tuple`] and [`Value::try_tuple`] (borrowed),
//!   with errors naming the arity and element types ([`tuple`](mod@tuple)).
//! * A stable hash for group-by lives in [`crate::hash`].
//!
//! ```
//! use dispel4rs::Value;
//! let v = Value::from(("word", 1));
//! assert_eq!(v.to_json(), r#"["word",1]"#);
//! assert_eq!(v.index(0).and_then(Value::as_str), Some("word"));
//! ```

mod codec;
mod convert;
mod serde_impl;
pub mod tuple;

pub use codec::{
    decode_values, decode_values_limited, encode_value, encode_values, measure, CodecError, MAX_DEPTH,
};
/// The string type of [`Value::Str`]: strings of up to 24 bytes are stored inline (no heap
/// allocation), longer ones on the heap. Derefs to `str`.
pub use compact_str::CompactString;
pub use convert::ConvertError;
pub use tuple::{FromValue, FromValueRef, Tuple, ValueShape};

use std::collections::BTreeMap;
use std::fmt;

/// One data unit on a stream.
///
/// Cloning is a deep copy; moving is free, so PEs take their input by value and may reuse
/// it (for example modify an [`Value::Array`] in place and write it on).
#[derive(Debug, PartialEq, Default)]
// A plain tag byte (no niche folded into the string's bytes): variant checks on the hot path
// stay one byte compare.
#[repr(u8)]
pub enum Value {
    /// No value (JSON `null`).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A UTF-8 string (inline up to 24 bytes, see [`CompactString`]).
    Str(CompactString),
    /// Raw bytes (in JSON: an array of numbers 0–255).
    Bytes(Vec<u8>),
    /// A list of values (a tuple in dispel4py terms).
    List(Vec<Value>),
    /// A map with string keys, kept in key order.
    Map(BTreeMap<String, Value>),
    /// A dense array of `f64` samples (in JSON: an array of numbers).
    Array(Vec<f64>),
}

impl Clone for Value {
    #[inline(always)]
    fn clone(&self) -> Self {
        match self {
            // SAFETY: these variants hold no heap data and nothing with a destructor, so a
            // bitwise copy is a valid clone. Copying the whole value with one wide move
            // (instead of a per-variant rebuild) avoids store-forwarding stalls on the hot
            // path, where every unit is copied for supervision.
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => unsafe { std::ptr::read(self) },
            Value::Str(s) => Value::Str(s.clone()),
            Value::Bytes(b) => Value::Bytes(b.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Map(m) => Value::Map(m.clone()),
            Value::Array(a) => Value::Array(a.clone()),
        }
    }
}

/// A field of a data unit selected by a group-by: a list index or a map key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Position in a [`Value::List`] (or [`Value::Array`]).
    Index(usize),
    /// Key in a [`Value::Map`].
    Key(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Index(i) => write!(f, "{i}"),
            Field::Key(k) => write!(f, "{k:?}"),
        }
    }
}

impl From<usize> for Field {
    fn from(i: usize) -> Self {
        Field::Index(i)
    }
}

impl From<&str> for Field {
    fn from(k: &str) -> Self {
        Field::Key(k.to_owned())
    }
}

impl From<String> for Field {
    fn from(k: String) -> Self {
        Field::Key(k)
    }
}

impl Value {
    /// The name of this value's type, as used in error messages: `null`, `bool`, `int`,
    /// `float`, `str`, `bytes`, `list`, `map`, `array`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Array(_) => "array",
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is a [`Value::Float`] or a [`Value::Int`].
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The string, if this is a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if this is a [`Value::Map`].
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The samples, if this is a [`Value::Array`].
    pub fn as_array(&self) -> Option<&[f64]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The integer, or an error naming the type found (for `?` in PE code).
    ///
    /// ```
    /// # fn f() -> Result<(), dispel4rs::value::ConvertError> {
    /// let x = dispel4rs::Value::Int(41).try_int()? + 1;
    /// # assert_eq!(x, 42); Ok(()) }
    /// # f().unwrap();
    /// ```
    pub fn try_int(&self) -> Result<i64, ConvertError> {
        self.as_int().ok_or(ConvertError::WrongType { expected: "int", found: self.type_name() })
    }

    /// The number as a float (ints widen), or an error naming the type found.
    pub fn try_float(&self) -> Result<f64, ConvertError> {
        self.as_float().ok_or(ConvertError::WrongType { expected: "float", found: self.type_name() })
    }

    /// The string, or an error naming the type found.
    pub fn try_str(&self) -> Result<&str, ConvertError> {
        self.as_str().ok_or(ConvertError::WrongType { expected: "str", found: self.type_name() })
    }

    /// The list elements, or an error naming the type found.
    pub fn try_list(&self) -> Result<&[Value], ConvertError> {
        self.as_list().ok_or(ConvertError::WrongType { expected: "list", found: self.type_name() })
    }

    /// Element `i` of a list (`None` for other types or out of range).
    pub fn index(&self, i: usize) -> Option<&Value> {
        match self {
            Value::List(l) => l.get(i),
            _ => None,
        }
    }

    /// Entry `key` of a map (`None` for other types or a missing key).
    ///
    /// ```
    /// let v = dispel4rs::Value::from_json(r#"{"n": 3}"#).unwrap();
    /// assert_eq!(v.get("n").and_then(|n| n.as_int()), Some(3));
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// The selected field: a list index or a map key. An [`Value::Array`] index yields
    /// `None` because its samples are not values; select arrays as a whole.
    pub fn field(&self, field: &Field) -> Option<&Value> {
        match field {
            Field::Index(i) => self.index(*i),
            Field::Key(k) => self.get(k),
        }
    }

    /// Builds a list from anything that converts into values.
    ///
    /// ```
    /// let v = dispel4rs::Value::list([1, 2, 3]);
    /// assert_eq!(v.to_json(), "[1,2,3]");
    /// ```
    pub fn list<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }

    /// Builds a map from `(key, value)` pairs.
    ///
    /// ```
    /// let v = dispel4rs::Value::map([("count", 2), ("sum", 10)]);
    /// assert_eq!(v.to_json(), r#"{"count":2,"sum":10}"#);
    /// ```
    pub fn map<K: Into<String>, T: Into<Value>>(entries: impl IntoIterator<Item = (K, T)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// Parses JSON text. Integers that fit in `i64` become [`Value::Int`], other numbers
    /// [`Value::Float`], arrays lists and objects maps.
    ///
    /// Lists and maps may nest at most [`MAX_DEPTH`] levels, as for every data unit.
    pub fn from_json(text: &str) -> Result<Value, serde_json::Error> {
        Value::from_json_nested(text, MAX_DEPTH)
    }

    /// Parses JSON text allowing `levels` levels of lists and maps (a document that wraps
    /// data units, such as `-d`, allows the units' [`MAX_DEPTH`] plus its own). The parser's
    /// recursion is bounded by the same count.
    pub fn from_json_nested(text: &str, levels: usize) -> Result<Value, serde_json::Error> {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_str(text);
        de.disable_recursion_limit();
        let v = serde_impl::DepthLimited { levels }.deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }

    /// Renders compact JSON. Non-finite floats become `null`, bytes and arrays become JSON
    /// arrays of numbers.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// Appends compact JSON to `out` (no intermediate allocation per value).
    pub fn write_json(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(x) => write_json_float(*x, out),
            Value::Str(s) => write_json_str(s, out),
            Value::Bytes(b) => write_seq(out, b.iter(), |b, out| {
                let _ = write!(out, "{b}");
            }),
            Value::List(l) => write_seq(out, l.iter(), |v, out| v.write_json(out)),
            Value::Map(m) => {
                out.push('{');
                for (n, (k, v)) in m.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_json_str(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
            Value::Array(a) => write_seq(out, a.iter(), |x, out| write_json_float(*x, out)),
        }
    }
}

fn write_seq<T>(out: &mut String, items: impl Iterator<Item = T>, mut each: impl FnMut(T, &mut String)) {
    out.push('[');
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(']');
}

fn write_json_float(x: f64, out: &mut String) {
    use std::fmt::Write as _;
    if x.is_finite() {
        // Shortest round-trip form, a float kept visible as a float: 5.0, 0.1, 1e300.
        let _ = write!(out, "{x:?}");
    } else {
        out.push_str("null");
    }
}

pub(crate) fn write_json_str(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(i: $t) -> Self {
                Value::Int(i64::from(i))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<usize> for Value {
    /// Sizes above `i64::MAX` (never seen in practice) saturate.
    fn from(i: usize) -> Self {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<f32> for Value {
    fn from(x: f32) -> Self {
        Value::Float(f64::from(x))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(CompactString::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(CompactString::from(s))
    }
}

impl From<CompactString> for Value {
    fn from(s: CompactString) -> Self {
        Value::Str(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Self {
        Value::List(l)
    }
}

impl From<Vec<f64>> for Value {
    /// A vector of floats becomes a dense [`Value::Array`].
    fn from(a: Vec<f64>) -> Self {
        Value::Array(a)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Self {
        Value::Map(m)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes [`Value::Null`].
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

macro_rules! try_from_value {
    ($t:ty, $name:literal, $pat:pat => $out:expr) => {
        impl TryFrom<Value> for $t {
            type Error = ConvertError;
            fn try_from(v: Value) -> Result<Self, ConvertError> {
                match v {
                    $pat => Ok($out),
                    other => Err(ConvertError::WrongType { expected: $name, found: other.type_name() }),
                }
            }
        }
    };
}
try_from_value!(i64, "int", Value::Int(i) => i);
try_from_value!(bool, "bool", Value::Bool(b) => b);
try_from_value!(String, "str", Value::Str(s) => s.into_string());
try_from_value!(CompactString, "str", Value::Str(s) => s);
try_from_value!(Vec<Value>, "list", Value::List(l) => l);
try_from_value!(Vec<f64>, "array", Value::Array(a) => a);
try_from_value!(BTreeMap<String, Value>, "map", Value::Map(m) => m);

impl TryFrom<Value> for f64 {
    type Error = ConvertError;
    /// Accepts floats and integers.
    fn try_from(v: Value) -> Result<Self, ConvertError> {
        v.as_float().ok_or(ConvertError::WrongType { expected: "float", found: v.type_name() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_four_words() {
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn json_round_trip_keeps_types() {
        let text = r#"{"a":[1,2.5,"x",null,true],"b":{"c":-7}}"#;
        let v = Value::from_json(text).unwrap();
        assert_eq!(v.get("a").and_then(|a| a.index(1)), Some(&Value::Float(2.5)));
        assert_eq!(v.get("b").and_then(|b| b.get("c")), Some(&Value::Int(-7)));
        assert_eq!(v.to_json(), text);
        assert_eq!(Value::from_json(&v.to_json()).unwrap(), v);
    }

    #[test]
    fn floats_print_as_floats_and_non_finite_as_null() {
        assert_eq!(Value::Float(5.0).to_json(), "5.0");
        assert_eq!(Value::Float(0.1).to_json(), "0.1");
        assert_eq!(Value::Float(f64::NAN).to_json(), "null");
        assert_eq!(Value::Float(1e300).to_json(), "1e300");
        assert_eq!(Value::Array(vec![1.0, 2.5]).to_json(), "[1.0,2.5]");
    }

    #[test]
    fn strings_are_escaped() {
        let v = Value::from("a\"b\\c\nd\u{1}é");
        assert_eq!(v.to_json(), "\"a\\\"b\\\\c\\nd\\u0001é\"");
        assert_eq!(Value::from_json(&v.to_json()).unwrap(), v);
    }

    #[test]
    fn json_nests_as_deep_as_the_codec_allows_and_no_deeper() {
        let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        let ok = Value::from_json(&nested(MAX_DEPTH)).unwrap();
        assert_eq!(codec::measure(&ok).1, MAX_DEPTH);
        let mut bytes = Vec::new();
        encode_values(std::slice::from_ref(&ok), &mut bytes);
        assert_eq!(decode_values(&bytes).unwrap(), vec![ok], "what JSON accepts, the decoder accepts");
        let e = Value::from_json(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(e.to_string().contains("nested deeper than 128 levels"), "{e}");
        // Far deeper input fails the same way, without exhausting the stack.
        assert!(Value::from_json(&nested(1_000_000)).is_err());
        assert!(Value::from_json_nested(&nested(MAX_DEPTH + 2), MAX_DEPTH + 2).is_ok());
    }

    #[test]
    fn big_unsigned_json_numbers_become_floats() {
        assert_eq!(Value::from_json("18446744073709551615").unwrap(), Value::Float(18446744073709551615.0));
    }

    #[test]
    fn tuples_and_fields() {
        let v = Value::from(("w", 1, 2.0));
        assert_eq!(v.field(&Field::Index(0)), Some(&Value::from("w")));
        assert_eq!(v.field(&Field::Index(9)), None);
        assert_eq!(v.field(&Field::Key("x".into())), None);
        assert_eq!(i64::try_from(Value::Int(3)).unwrap(), 3);
        assert!(matches!(
            i64::try_from(Value::from("3")),
            Err(ConvertError::WrongType { expected: "int", found: "str" })
        ));
        assert_eq!(f64::try_from(Value::Int(3)).unwrap(), 3.0);
    }
}
