//! Typed access to tuple-shaped data units: a [`Value::List`] of known length read into a Rust
//! tuple in one call, and a tuple written as a list.
//!
//! dispel4py PEs pass tuples such as `(word, count)`; here a tuple travels as a list, and
//! reading it back names the types once, in the pattern:
//!
//! ```
//! use dispel4rs::Value;
//! # fn main() -> Result<(), dispel4rs::value::ConvertError> {
//! let unit = Value::from(("seismic", 3)); // a tuple becomes a list: ["seismic",3]
//!
//! // Borrowed: the &str points into the unit, nothing is copied.
//! let (word, n): (&str, i64) = unit.try_tuple()?;
//! assert_eq!((word, n), ("seismic", 3));
//!
//! // Owned: the unit is taken apart (also `let (word, n): (String, i64) = unit.try_into()?`).
//! let (word, n): (String, usize) = unit.into_tuple()?;
//! assert_eq!((word.as_str(), n), ("seismic", 3));
//!
//! // Errors say what was expected and what was found.
//! let err = Value::from(("seismic", "3")).into_tuple::<(String, i64)>().unwrap_err();
//! assert_eq!(err.to_string(), "element 1 of (str, int): expected int, found str");
//! let err = Value::from(("seismic", 3, 1.5)).try_tuple::<(&str, i64)>().unwrap_err();
//! assert_eq!(err.to_string(), "expected a list of 2 (str, int), found a list of 3 (str, int, float)");
//! # Ok(()) }
//! ```
//!
//! ## Owned or borrowed
//!
//! * [`Value::into_tuple`] (and `TryFrom<Value>` for tuples) consumes the unit and moves its
//!   parts out: maps and strings of more than 24 bytes keep their heap buffers, a `Vec<T>` is
//!   built by moving each element. A string of up to 24 bytes is stored inline in the unit, so
//!   reading it as a `String` allocates; read it as a [`CompactString`] to keep it inline. Use
//!   it when the PE keeps the parts (in its state, or in a new unit it writes).
//! * [`Value::try_tuple`] borrows: `&str`, `&[Value]`, `&[f64]`, `&[u8]`, `&BTreeMap` and
//!   `&Value` point into the unit, numbers and booleans are copied. Nothing is allocated and the
//!   unit stays whole — what a PE that only reads its input wants, and the only way when it gets
//!   `&Value` (as under [`crate::pe::Batch::for_each_ref`]). It is offered because it is free
//!   here: the elements of a list are values in place, so a `&str` into one costs nothing.
//!
//! [`Value::to_serde`] reads tuples too, but cannot borrow and reports serde's errors, which
//! do not name the element types; these helpers are the short way for the tuple-shaped units
//! PEs pass to each other.
//!
//! ## Element types
//!
//! | Rust type | reads | owned | borrowed |
//! |---|---|---|---|
//! | `i64`, `i32`, `u64`, `usize`, … | an int that fits (else [`ConvertError::IntRange`]) | yes | yes |
//! | `f64`, `f32` | a float or an int | yes | yes |
//! | `bool` | a bool | yes | yes |
//! | `String`, [`CompactString`] / `&str` | a str | yes / — | — / yes |
//! | `Vec<T>` | a list of `T` (or an array, as floats) | yes | — |
//! | `&[Value]`, `&[f64]`, `&[u8]` | a list, an array, bytes | — | yes |
//! | `BTreeMap<String, Value>` / `&BTreeMap<..>` | a map | yes | yes |
//! | [`Value`] / `&Value` | anything | yes | yes |
//! | `Option<T>` | null as `None`, else `T` | yes | yes |
//! | a tuple of 1 to 8 of these | a list of that length | yes | yes |

use super::{CompactString, ConvertError, Value};
use std::collections::BTreeMap;

/// Describes, for error messages, the shape of value a Rust type reads: `int`, `str`,
/// `(str, int)`, `list of float`, `int or null`.
pub trait ValueShape {
    /// Appends the description to `out`.
    fn describe(out: &mut String);
}

/// A Rust type a data unit converts into, consuming the unit: the elements of
/// [`Value::into_tuple`]. See the [module documentation](self) for the types it is
/// implemented for.
pub trait FromValue: ValueShape + Sized {
    /// Converts `value`, or says what was expected and what was found.
    fn from_value(value: Value) -> Result<Self, ConvertError>;
}

/// A Rust type read from a borrowed data unit without copying its heap data: the elements of
/// [`Value::try_tuple`]. See the [module documentation](self) for the types it is
/// implemented for.
pub trait FromValueRef<'a>: ValueShape + Sized {
    /// Reads `value`, or says what was expected and what was found.
    fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError>;
}

mod sealed {
    pub trait Sealed {}
}

/// Tuples of 1 to 8 elements: what [`Value::into_tuple`] and [`Value::try_tuple`] read.
/// Implemented for tuples only (sealed).
pub trait Tuple: sealed::Sealed {
    /// The number of elements.
    const ARITY: usize;
}

impl Value {
    /// Takes a list of `T::ARITY` elements apart into the tuple `T`, converting each element
    /// (see the [module documentation](crate::value::tuple) for the element types). Equivalent to
    /// `T::try_from(self)`.
    ///
    /// ```
    /// use dispel4rs::Value;
    /// let unit = Value::from(("AQU", 42.35, vec![Value::from(1), Value::from(2)]));
    /// let (station, lat, picks): (String, f64, Vec<i64>) = unit.into_tuple().unwrap();
    /// assert_eq!((station.as_str(), lat, picks), ("AQU", 42.35, vec![1, 2]));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConvertError::Shape`] if the unit is not a list of that length,
    /// [`ConvertError::Element`] (naming the element and the tuple) if an element does not
    /// convert.
    pub fn into_tuple<T: FromValue + Tuple>(self) -> Result<T, ConvertError> {
        T::from_value(self)
    }

    /// Reads a list of `T::ARITY` elements as the tuple `T` of borrowed parts and copied
    /// numbers, leaving the unit as it is (see the [module documentation](crate::value::tuple)).
    ///
    /// ```
    /// use dispel4rs::Value;
    /// let unit = Value::from(("word", 2));
    /// let (word, n) = unit.try_tuple::<(&str, i64)>().unwrap();
    /// assert_eq!(word.repeat(n as usize), "wordword");
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Value::into_tuple`].
    pub fn try_tuple<'a, T: FromValueRef<'a> + Tuple>(&'a self) -> Result<T, ConvertError> {
        T::from_value_ref(self)
    }
}

/// The description of `T` (see [`ValueShape`]).
fn describe<T: ValueShape>() -> Box<str> {
    let mut out = String::new();
    T::describe(&mut out);
    out.into_boxed_str()
}

/// How many element types a "found a list of ..." description shows.
const SHOWN_ELEMENTS: usize = 8;

/// What a unit is, for a shape error: its type, or for a list its length and element types.
fn found_shape(value: &Value) -> Box<str> {
    match value {
        Value::List(items) => found_list(items),
        other => other.type_name().into(),
    }
}

fn found_list(items: &[Value]) -> Box<str> {
    let mut out = format!("a list of {}", items.len());
    if !items.is_empty() {
        out.push_str(" (");
        for (i, item) in items.iter().take(SHOWN_ELEMENTS).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(item.type_name());
        }
        if items.len() > SHOWN_ELEMENTS {
            out.push_str(", ...");
        }
        out.push(')');
    }
    out.into_boxed_str()
}

/// The error for a unit that is not a list of the tuple's length.
#[cold]
fn shape_error<T: ValueShape + Tuple>(found: Box<str>) -> ConvertError {
    ConvertError::Shape { expected: format!("a list of {} {}", T::ARITY, describe::<T>()).into(), found }
}

/// Names element `index` of container `C` in the error of a failed element conversion.
#[inline]
fn element<C: ValueShape, T>(index: usize, result: Result<T, ConvertError>) -> Result<T, ConvertError> {
    result.map_err(|cause| element_error::<C>(index, cause))
}

#[cold]
fn element_error<C: ValueShape>(index: usize, cause: ConvertError) -> ConvertError {
    ConvertError::Element { index, of: describe::<C>(), cause: Box::new(cause) }
}

fn wrong_type(expected: &'static str, found: &Value) -> ConvertError {
    ConvertError::WrongType { expected, found: found.type_name() }
}

// ---- Scalars ---------------------------------------------------------------------------

fn int_from<T: TryFrom<i64>>(value: &Value, target: &'static str) -> Result<T, ConvertError> {
    let i = value.try_int()?;
    T::try_from(i).map_err(|_| ConvertError::IntRange { value: i, target })
}

macro_rules! int_elements {
    ($($t:ty),*) => {$(
        impl ValueShape for $t {
            fn describe(out: &mut String) {
                out.push_str("int");
            }
        }
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self, ConvertError> {
                int_from(&value, stringify!($t))
            }
        }
        impl<'a> FromValueRef<'a> for $t {
            fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError> {
                int_from(value, stringify!($t))
            }
        }
    )*};
}
int_elements!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// Scalars read by copy from a borrowed value: `$read` maps `&Value` to the result.
macro_rules! copy_elements {
    ($($t:ty, $shape:literal, $read:expr);* $(;)?) => {$(
        impl ValueShape for $t {
            fn describe(out: &mut String) {
                out.push_str($shape);
            }
        }
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self, ConvertError> {
                ($read)(&value)
            }
        }
        impl<'a> FromValueRef<'a> for $t {
            fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError> {
                ($read)(value)
            }
        }
    )*};
}
copy_elements! {
    f64, "float", Value::try_float;
    // Narrowed to the nearest f32.
    f32, "float", |v: &Value| v.try_float().map(|x| x as f32);
    bool, "bool", |v: &Value| v.as_bool().ok_or_else(|| wrong_type("bool", v));
}

impl ValueShape for Value {
    fn describe(out: &mut String) {
        out.push_str("any value");
    }
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        Ok(value)
    }
}

impl<'a> FromValueRef<'a> for &'a Value {
    fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError> {
        Ok(value)
    }
}

impl ValueShape for &Value {
    fn describe(out: &mut String) {
        Value::describe(out);
    }
}

// ---- Owned compound types --------------------------------------------------------------

impl ValueShape for String {
    fn describe(out: &mut String) {
        out.push_str("str");
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::Str(s) => Ok(s.into_string()),
            other => Err(wrong_type("str", &other)),
        }
    }
}

impl ValueShape for CompactString {
    fn describe(out: &mut String) {
        out.push_str("str");
    }
}

impl FromValue for CompactString {
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::Str(s) => Ok(s),
            other => Err(wrong_type("str", &other)),
        }
    }
}

impl ValueShape for BTreeMap<String, Value> {
    fn describe(out: &mut String) {
        out.push_str("map");
    }
}

impl FromValue for BTreeMap<String, Value> {
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::Map(m) => Ok(m),
            other => Err(wrong_type("map", &other)),
        }
    }
}

impl<T: ValueShape> ValueShape for Vec<T> {
    fn describe(out: &mut String) {
        out.push_str("list of ");
        T::describe(out);
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    /// A list, element by element; an [`Value::Array`] reads as a list of floats.
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| element::<Self, T>(i, T::from_value(item)))
                .collect(),
            Value::Array(samples) => samples
                .into_iter()
                .enumerate()
                .map(|(i, x)| element::<Self, T>(i, T::from_value(Value::Float(x))))
                .collect(),
            other => Err(ConvertError::Shape { expected: describe::<Self>(), found: found_shape(&other) }),
        }
    }
}

impl<T: ValueShape> ValueShape for Option<T> {
    fn describe(out: &mut String) {
        T::describe(out);
        out.push_str(" or null");
    }
}

impl<T: FromValue> FromValue for Option<T> {
    /// [`Value::Null`] is `None`, anything else must convert to `T`.
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl<'a, T: FromValueRef<'a>> FromValueRef<'a> for Option<T> {
    /// [`Value::Null`] is `None`, anything else must read as `T`.
    fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value_ref(other).map(Some),
        }
    }
}

// ---- Borrowed compound types -----------------------------------------------------------

/// Borrowed parts: `$pat` binds `$out` from a `&'a Value`.
macro_rules! borrowed_elements {
    ($($t:ty, $shape:literal, $pat:pat => $out:expr);* $(;)?) => {$(
        impl ValueShape for $t {
            fn describe(out: &mut String) {
                out.push_str($shape);
            }
        }
        impl<'a> FromValueRef<'a> for &'a $t {
            fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError> {
                match value {
                    $pat => Ok($out),
                    other => Err(wrong_type($shape, other)),
                }
            }
        }
        impl ValueShape for &$t {
            fn describe(out: &mut String) {
                <$t>::describe(out);
            }
        }
    )*};
}
borrowed_elements! {
    str, "str", Value::Str(s) => s.as_str();
    [Value], "list", Value::List(items) => items.as_slice();
    [f64], "array", Value::Array(samples) => samples.as_slice();
    [u8], "bytes", Value::Bytes(bytes) => bytes.as_slice();
}

impl<'a> FromValueRef<'a> for &'a BTreeMap<String, Value> {
    fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError> {
        value.as_map().ok_or_else(|| wrong_type("map", value))
    }
}

impl ValueShape for &BTreeMap<String, Value> {
    fn describe(out: &mut String) {
        out.push_str("map");
    }
}

// ---- Tuples ----------------------------------------------------------------------------

/// `tuple!(N; A a 0, B b 1, ...)`: a tuple of N elements with type parameters `A, B, ...`,
/// element bindings `a, b, ...` and indices `0, 1, ...`.
macro_rules! tuple {
    ($n:literal; $($t:ident $v:ident $i:literal),+) => {
        impl<$($t),+> sealed::Sealed for ($($t,)+) {}

        impl<$($t),+> Tuple for ($($t,)+) {
            const ARITY: usize = $n;
        }

        impl<$($t: ValueShape),+> ValueShape for ($($t,)+) {
            fn describe(out: &mut String) {
                let parts: [fn(&mut String); $n] = [$($t::describe),+];
                out.push('(');
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    part(out);
                }
                out.push(')');
            }
        }

        impl<$($t: FromValue),+> FromValue for ($($t,)+) {
            fn from_value(value: Value) -> Result<Self, ConvertError> {
                let items = match value {
                    Value::List(items) => items,
                    other => return Err(shape_error::<Self>(found_shape(&other))),
                };
                let [$($v),+] = <[Value; $n]>::try_from(items)
                    .map_err(|items| shape_error::<Self>(found_list(&items)))?;
                Ok(($(element::<Self, $t>($i, $t::from_value($v))?,)+))
            }
        }

        impl<'a, $($t: FromValueRef<'a>),+> FromValueRef<'a> for ($($t,)+) {
            fn from_value_ref(value: &'a Value) -> Result<Self, ConvertError> {
                let items = match value {
                    Value::List(items) => items.as_slice(),
                    other => return Err(shape_error::<Self>(found_shape(other))),
                };
                let [$($v),+] = <&[Value; $n]>::try_from(items)
                    .map_err(|_| shape_error::<Self>(found_list(items)))?;
                Ok(($(element::<Self, $t>($i, $t::from_value_ref($v))?,)+))
            }
        }

        impl<$($t: FromValue),+> TryFrom<Value> for ($($t,)+) {
            type Error = ConvertError;
            /// As [`Value::into_tuple`].
            fn try_from(value: Value) -> Result<Self, ConvertError> {
                <Self as FromValue>::from_value(value)
            }
        }

        impl<$($t: Into<Value>),+> From<($($t,)+)> for Value {
            /// A tuple becomes a [`Value::List`].
            fn from(($($v,)+): ($($t,)+)) -> Self {
                Value::List(vec![$($v.into()),+])
            }
        }
    };
}
tuple!(1; A a 0);
tuple!(2; A a 0, B b 1);
tuple!(3; A a 0, B b 1, C c 2);
tuple!(4; A a 0, B b 1, C c 2, D d 3);
tuple!(5; A a 0, B b 1, C c 2, D d 3, E e 4);
tuple!(6; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5);
tuple!(7; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6);
tuple!(8; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7);

#[cfg(test)]
mod tests {
    use super::*;

    fn err_text<T: std::fmt::Debug>(r: Result<T, ConvertError>) -> String {
        r.expect_err("the conversion should fail").to_string()
    }

    #[test]
    fn every_arity_round_trips() {
        let one: (i64,) = Value::from((1,)).into_tuple().unwrap();
        assert_eq!(one, (1,));
        let eight = (1, "b", 3.5, true, 5u8, "f", -7i32, 8usize);
        let unit = Value::from(eight);
        assert_eq!(unit.to_json(), r#"[1,"b",3.5,true,5,"f",-7,8]"#);
        let borrowed: (i64, &str, f64, bool, u8, &str, i32, usize) = unit.try_tuple().unwrap();
        assert_eq!(borrowed, eight);
        let owned: (i64, String, f64, bool, u8, CompactString, i32, usize) = unit.into_tuple().unwrap();
        assert_eq!(owned, (1, "b".to_owned(), 3.5, true, 5, CompactString::from("f"), -7, 8));
    }

    #[test]
    fn try_from_works_with_the_question_mark() {
        fn word_count(unit: Value) -> Result<(String, i64), ConvertError> {
            let (word, n): (String, i64) = unit.try_into()?;
            Ok((word, n))
        }
        assert_eq!(word_count(Value::from(("a", 2))).unwrap(), ("a".to_owned(), 2));
        assert!(word_count(Value::from(("a", "2"))).is_err());
    }

    #[test]
    fn borrowed_strings_point_into_the_unit() {
        let long = "a string longer than the twenty-four inline bytes";
        let unit = Value::from((long, 1));
        let (s, _): (&str, i64) = unit.try_tuple().unwrap();
        let inside = unit.index(0).and_then(Value::as_str).unwrap();
        assert!(std::ptr::eq(s, inside), "try_tuple copied the string");
        // The unit is intact and can be read again.
        assert_eq!(unit.try_tuple::<(&Value, &Value)>().unwrap().1, &Value::Int(1));
    }

    #[test]
    fn owned_long_strings_keep_their_buffer() {
        let long = String::from("a string longer than the twenty-four inline bytes");
        let unit = Value::from((long, vec![1.0, 2.0]));
        let heap = unit.index(0).and_then(Value::as_str).unwrap().as_ptr();
        let (s, samples): (String, Vec<f64>) = unit.into_tuple().unwrap();
        assert_eq!(s.as_ptr(), heap, "into_tuple copied a heap string");
        assert_eq!(samples, [1.0, 2.0]);
        let (inner,): (Vec<Value>,) = Value::List(vec![Value::list([1, 2])]).into_tuple().unwrap();
        assert_eq!(inner, vec![Value::Int(1), Value::Int(2)]);
    }

    #[test]
    fn a_unit_that_is_not_a_list_names_the_tuple_and_what_it_is() {
        let unit = Value::map([("word", "a")]);
        assert_eq!(err_text(unit.try_tuple::<(&str, i64)>()), "expected a list of 2 (str, int), found map");
        assert_eq!(
            unit.clone().into_tuple::<(String, i64)>().unwrap_err(),
            ConvertError::Shape { expected: "a list of 2 (str, int)".into(), found: "map".into() }
        );
        assert_eq!(
            err_text(Value::Array(vec![1.0, 2.0]).into_tuple::<(f64, f64)>()),
            "expected a list of 2 (float, float), found array"
        );
    }

    #[test]
    fn a_list_of_another_length_names_both_arities_and_the_element_types() {
        let three = Value::from(("a", 1, Value::Null));
        assert_eq!(
            err_text(three.clone().into_tuple::<(String, i64)>()),
            "expected a list of 2 (str, int), found a list of 3 (str, int, null)"
        );
        assert_eq!(
            err_text(three.try_tuple::<(&str, i64, f64, bool)>()),
            "expected a list of 4 (str, int, float, bool), found a list of 3 (str, int, null)"
        );
        assert_eq!(
            err_text(Value::List(vec![]).try_tuple::<(i64,)>()),
            "expected a list of 1 (int), found a list of 0"
        );
        let long = Value::list(0..20);
        assert_eq!(
            err_text(long.try_tuple::<(i64, i64)>()),
            "expected a list of 2 (int, int), found a list of 20 (int, int, int, int, int, int, int, int, ...)"
        );
    }

    #[test]
    fn a_wrong_element_names_its_index_the_tuple_and_the_types() {
        let unit = Value::from(("a", "1"));
        let err = unit.try_tuple::<(&str, i64)>().unwrap_err();
        assert_eq!(
            err,
            ConvertError::Element {
                index: 1,
                of: "(str, int)".into(),
                cause: Box::new(ConvertError::WrongType { expected: "int", found: "str" }),
            }
        );
        assert_eq!(err.to_string(), "element 1 of (str, int): expected int, found str");
        // The cause is in the message, not repeated as a source (PeError joins sources).
        assert!(std::error::Error::source(&err).is_none());
        assert_eq!(
            err_text(Value::from((1, 2)).into_tuple::<(String, i64)>()),
            "element 0 of (str, int): expected str, found int"
        );
    }

    #[test]
    fn nested_tuples_lists_and_options() {
        let unit = Value::from(("AQU", (42.35, 13.4), Value::list([1, 2, 3]), Value::Null));
        let (code, (lat, lon), picks, depth): (&str, (f64, f64), &[Value], Option<f64>) =
            unit.try_tuple().unwrap();
        assert_eq!((code, lat, lon, picks.len(), depth), ("AQU", 42.35, 13.4, 3, None));
        let (_, _, picks, depth): (String, Value, Vec<i64>, Option<i64>) =
            Value::from(("AQU", 0, Value::list([1, 2]), 7)).into_tuple().unwrap();
        assert_eq!((picks, depth), (vec![1, 2], Some(7)));

        let bad = Value::from(("AQU", (42.35, "north")));
        assert_eq!(
            err_text(bad.try_tuple::<(&str, (f64, f64))>()),
            "element 1 of (str, (float, float)): element 1 of (float, float): expected float, found str"
        );
        let bad = Value::from((Value::list([Value::from(1), Value::from("x")]),));
        assert_eq!(
            err_text(bad.into_tuple::<(Vec<i64>,)>()),
            "element 0 of (list of int): element 1 of list of int: expected int, found str"
        );
        assert_eq!(
            err_text(Value::from((Value::map([("a", 1)]),)).into_tuple::<(Vec<i64>,)>()),
            "element 0 of (list of int): expected list of int, found map"
        );
        let a: (Vec<f64>,) = Value::from((Value::Array(vec![0.5]),)).into_tuple().unwrap();
        assert_eq!(a.0, vec![0.5]);
        let unit = Value::List(vec![Value::Array(vec![0.5]), Value::Bytes(vec![7])]);
        let (samples, bytes): (&[f64], &[u8]) = unit.try_tuple().unwrap();
        assert_eq!((samples, bytes), (&[0.5][..], &[7u8][..]));
        // Option describes itself in errors.
        let mut described = String::new();
        <(Option<i64>, &str)>::describe(&mut described);
        assert_eq!(described, "(int or null, str)");
    }

    #[test]
    fn integers_must_fit_and_floats_widen() {
        assert_eq!(
            err_text(Value::from((-3,)).into_tuple::<(u32,)>()),
            "element 0 of (int): integer -3 does not fit in u32"
        );
        assert_eq!(
            Value::from((300,)).try_tuple::<(u8,)>().unwrap_err(),
            ConvertError::Element {
                index: 0,
                of: "(int)".into(),
                cause: Box::new(ConvertError::IntRange { value: 300, target: "u8" }),
            }
        );
        let (x, y): (f64, f32) = Value::from((2, 0.5)).try_tuple().unwrap();
        assert_eq!((x, y), (2.0, 0.5));
        assert_eq!(
            err_text(Value::from((2.5,)).try_tuple::<(i64,)>()),
            "element 0 of (int): expected int, found float"
        );
        assert_eq!(
            err_text(Value::from((1,)).try_tuple::<(bool,)>()),
            "element 0 of (bool): expected bool, found int"
        );
    }

    #[test]
    fn maps_and_values_as_elements() {
        let unit = Value::from(("k", Value::map([("n", 1)])));
        let (key, fields): (&str, &BTreeMap<String, Value>) = unit.try_tuple().unwrap();
        assert_eq!((key, fields.get("n")), ("k", Some(&Value::Int(1))));
        let (_, fields): (Value, BTreeMap<String, Value>) = unit.into_tuple().unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(
            err_text(Value::from(("k", 1)).try_tuple::<(&str, &BTreeMap<String, Value>)>()),
            "element 1 of (str, map): expected map, found int"
        );
    }

    #[test]
    fn errors_stay_small() {
        // Every conversion returns this error type: the new variants keep it as small as before.
        assert!(std::mem::size_of::<ConvertError>() <= 48, "{}", std::mem::size_of::<ConvertError>());
    }
}
