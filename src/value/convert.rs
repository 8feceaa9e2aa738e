//! Typed helpers: any `serde` type to a [`Value`] and back, without going through text.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use dispel4rs::Value;
//!
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! struct Station { code: String, lat: f64, samples: Vec<f64> }
//!
//! let s = Station { code: "AQU".into(), lat: 42.35, samples: vec![0.5, -1.0] };
//! let v = Value::from_serde(&s).unwrap();
//! assert_eq!(v.get("code").and_then(Value::as_str), Some("AQU"));
//! let back: Station = v.to_serde().unwrap();
//! assert_eq!(back, s);
//! ```

use super::Value;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Why a conversion between a [`Value`] and a user type failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    /// The value has another type than the one asked for.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What was asked for.
        expected: &'static str,
        /// What the value is.
        found: &'static str,
    },
    /// A map key that is not a string (or a number or char that becomes one).
    #[error("map keys must be strings, found {0}")]
    NonStringKey(&'static str),
    /// An unsigned integer above `i64::MAX`.
    #[error("integer {0} does not fit in a signed 64-bit integer")]
    OutOfRange(u128),
    /// A data unit without the shape asked for: not a list, or a list of another length (see
    /// [`Value::into_tuple`]). Both sides are described, e.g. expected `a list of 2 (str,
    /// int)`, found `a list of 3 (str, int, float)`.
    #[error("expected {expected}, found {found}")]
    Shape {
        /// What was asked for.
        expected: Box<str>,
        /// What the value is.
        found: Box<str>,
    },
    /// An element of a tuple or list that did not convert: `element 1 of (str, int): expected
    /// int, found str`.
    #[error("element {index} of {of}: {cause}")]
    Element {
        /// Its position (from 0).
        index: usize,
        /// The tuple or list type asked for, e.g. `(str, int)`.
        of: Box<str>,
        /// Why it did not convert (part of the message, not an error source, so that error
        /// chains do not repeat it).
        cause: Box<ConvertError>,
    },
    /// An integer outside the range of the Rust integer type asked for.
    #[error("integer {value} does not fit in {target}")]
    IntRange {
        /// The integer.
        value: i64,
        /// The Rust type, e.g. `u32`.
        target: &'static str,
    },
    /// A message from serde (a missing field, an unknown variant, ...).
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for ConvertError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvertError::Custom(msg.to_string())
    }
}

impl de::Error for ConvertError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvertError::Custom(msg.to_string())
    }
}

impl Value {
    /// Converts any serialisable value: structs and maps become [`Value::Map`], sequences
    /// and tuples [`Value::List`], enums `{"Variant": content}` (unit variants a string).
    pub fn from_serde<T: Serialize + ?Sized>(value: &T) -> Result<Value, ConvertError> {
        value.serialize(ValueSerializer)
    }

    /// Converts into any deserialisable type. Numbers widen (an int reads as a float); a
    /// [`Value::Array`] reads as a sequence of floats.
    pub fn to_serde<T: DeserializeOwned>(self) -> Result<T, ConvertError> {
        T::deserialize(self)
    }
}

/// Serialises into a [`Value`].
struct ValueSerializer;

fn int_from_u128(u: u128) -> Result<Value, ConvertError> {
    i64::try_from(u).map(Value::Int).map_err(|_| ConvertError::OutOfRange(u))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ConvertError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = VariantSeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = VariantMapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, ConvertError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ConvertError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ConvertError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ConvertError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ConvertError> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ConvertError> {
        i64::try_from(v).map(Value::Int).map_err(|_| ConvertError::OutOfRange(v.unsigned_abs()))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ConvertError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ConvertError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ConvertError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ConvertError> {
        int_from_u128(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ConvertError> {
        int_from_u128(v)
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ConvertError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ConvertError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ConvertError> {
        Ok(Value::Str(v.to_string().into()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ConvertError> {
        Ok(Value::Str(v.into()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ConvertError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, ConvertError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, ConvertError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ConvertError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, ConvertError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value, ConvertError> {
        Ok(Value::Str(variant.into()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Value, ConvertError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, ConvertError> {
        Ok(Value::Map(BTreeMap::from([(variant.to_owned(), v.serialize(ValueSerializer)?)])))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, ConvertError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0).min(4096))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, ConvertError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, ConvertError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSeqBuilder, ConvertError> {
        Ok(VariantSeqBuilder { variant, items: SeqBuilder(Vec::with_capacity(len.min(4096))) })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapBuilder, ConvertError> {
        Ok(MapBuilder { map: BTreeMap::new(), key: None })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapBuilder, ConvertError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<VariantMapBuilder, ConvertError> {
        Ok(VariantMapBuilder { variant, fields: MapBuilder { map: BTreeMap::new(), key: None } })
    }
}

struct SeqBuilder(Vec<Value>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ConvertError> {
        self.0.push(v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ConvertError> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ConvertError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, ConvertError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ConvertError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, ConvertError> {
        ser::SerializeSeq::end(self)
    }
}

struct VariantSeqBuilder {
    variant: &'static str,
    items: SeqBuilder,
}

impl ser::SerializeTupleVariant for VariantSeqBuilder {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ConvertError> {
        ser::SerializeSeq::serialize_element(&mut self.items, v)
    }
    fn end(self) -> Result<Value, ConvertError> {
        Ok(Value::Map(BTreeMap::from([(self.variant.to_owned(), Value::List(self.items.0))])))
    }
}

struct MapBuilder {
    map: BTreeMap<String, Value>,
    key: Option<String>,
}

fn key_string(key: Value) -> Result<String, ConvertError> {
    match key {
        Value::Str(s) => Ok(s.into_string()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(ConvertError::NonStringKey(other.type_name())),
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), ConvertError> {
        self.key = Some(key_string(k.serialize(ValueSerializer)?)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ConvertError> {
        let key = self.key.take().ok_or_else(|| ConvertError::Custom("map value without a key".into()))?;
        self.map.insert(key, v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ConvertError> {
        Ok(Value::Map(self.map))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ConvertError> {
        self.map.insert(key.to_owned(), v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ConvertError> {
        Ok(Value::Map(self.map))
    }
}

struct VariantMapBuilder {
    variant: &'static str,
    fields: MapBuilder,
}

impl ser::SerializeStructVariant for VariantMapBuilder {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ConvertError> {
        ser::SerializeStruct::serialize_field(&mut self.fields, key, v)
    }
    fn end(self) -> Result<Value, ConvertError> {
        Ok(Value::Map(BTreeMap::from([(self.variant.to_owned(), Value::Map(self.fields.map))])))
    }
}

// ---- Deserializing from a Value ---------------------------------------------------------

impl<'de> IntoDeserializer<'de, ConvertError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(x) => visitor.visit_f64(x),
            Value::Str(s) => visitor.visit_str(&s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::List(l) => visitor.visit_seq(de::value::SeqDeserializer::new(l.into_iter())),
            Value::Map(m) => {
                visitor.visit_map(de::value::MapDeserializer::new(m.into_iter().map(|(k, v)| (MapKey(k), v))))
            }
            Value::Array(a) => {
                visitor.visit_seq(de::value::SeqDeserializer::new(a.into_iter().map(Value::Float)))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        match self {
            Value::Str(variant) => visitor.visit_enum(variant.into_string().into_deserializer()),
            Value::Map(m) if m.len() == 1 => {
                let mut entries = m.into_iter();
                let (variant, content) =
                    entries.next().ok_or_else(|| ConvertError::Custom("empty enum map".into()))?;
                visitor.visit_enum(EnumAccess { variant, content })
            }
            other => Err(ConvertError::WrongType {
                expected: "enum (str or one-entry map)",
                found: other.type_name(),
            }),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// A map key: a string that also reads as a number or a bool (JSON object keys are always
/// strings, so `HashMap<u16, _>` comes back from `{"3": ...}`).
struct MapKey(String);

impl<'de> IntoDeserializer<'de, ConvertError> for MapKey {
    type Deserializer = MapKey;
    fn into_deserializer(self) -> MapKey {
        self
    }
}

macro_rules! parse_key {
    ($($method:ident => $visit:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
            match self.0.parse() {
                Ok(n) => visitor.$visit(n),
                Err(_) => visitor.visit_string(self.0),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for MapKey {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        visitor.visit_string(self.0)
    }

    parse_key! {
        deserialize_bool => visit_bool,
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16, deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64, deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32, deserialize_u64 => visit_u64,
        deserialize_f32 => visit_f32, deserialize_f64 => visit_f64
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf option unit unit_struct seq tuple tuple_struct
        map struct enum identifier ignored_any
    }
}

struct EnumAccess {
    variant: String,
    content: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = ConvertError;
    type Variant = Value;
    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Value), ConvertError> {
        let name = seed.deserialize(self.variant.into_deserializer())?;
        Ok((name, self.content))
    }
}

impl<'de> de::VariantAccess<'de> for Value {
    type Error = ConvertError;
    fn unit_variant(self) -> Result<(), ConvertError> {
        Ok(())
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, ConvertError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, ConvertError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: i32, h: i32 },
        Pair(u8, String),
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Doc {
        id: u32,
        tags: Vec<String>,
        shapes: Vec<Shape>,
        maybe: Option<i64>,
        weights: std::collections::HashMap<u16, f32>,
        unit: (),
    }

    #[test]
    fn structs_and_enums_round_trip() {
        let doc = Doc {
            id: 7,
            tags: vec!["a".into()],
            shapes: vec![
                Shape::Dot,
                Shape::Circle(1.5),
                Shape::Rect { w: 2, h: 3 },
                Shape::Pair(1, "x".into()),
            ],
            maybe: None,
            weights: [(3, 0.5)].into_iter().collect(),
            unit: (),
        };
        let v = Value::from_serde(&doc).unwrap();
        assert_eq!(v.get("weights").and_then(|w| w.get("3")), Some(&Value::Float(0.5)));
        assert_eq!(v.get("shapes").and_then(|s| s.index(0)), Some(&Value::from("Dot")));
        let back: Doc = v.to_serde().unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn numbers_widen_and_arrays_read_as_float_vectors() {
        let x: f64 = Value::Int(3).to_serde().unwrap();
        assert_eq!(x, 3.0);
        let a: Vec<f64> = Value::Array(vec![1.0, 2.0]).to_serde().unwrap();
        assert_eq!(a, vec![1.0, 2.0]);
        assert!(Value::Float(1.5).to_serde::<i64>().is_err());
        assert_eq!(Value::from_serde(&u64::MAX), Err(ConvertError::OutOfRange(u64::MAX as u128)));
    }

    #[test]
    fn missing_field_is_a_clear_error() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Need {
            path: String,
        }
        let err = Value::map([("paht", "x")]).to_serde::<Need>().unwrap_err();
        assert!(err.to_string().contains("missing field `path`"), "{err}");
    }
}
