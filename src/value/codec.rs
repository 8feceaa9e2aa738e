//! The binary encoding of data units that crosses process boundaries.
//!
//! Compact, lossless (an [`Value::Array`] stays an array, bytes stay bytes) and safe to decode
//! from an untrusted peer: every length is checked against the bytes that remain before
//! anything is allocated, nesting is limited to [`MAX_DEPTH`], strings must be UTF-8, and
//! trailing bytes are an error. A corrupt input gives a [`CodecError`], never a panic.
//!
//! Layout of one value (all integers are LEB128 varints; `Int` is zig-zag encoded):
//!
//! | tag | meaning | payload |
//! |---|---|---|
//! | 0 | null | — |
//! | 1 / 2 | false / true | — |
//! | 3 | int | zig-zag varint |
//! | 4 | float | 8 bytes, IEEE 754 little-endian |
//! | 5 | str | varint length, UTF-8 bytes |
//! | 6 | bytes | varint length, bytes |
//! | 7 | list | varint count, values |
//! | 8 | map | varint count, (varint key length, key bytes, value) in key order |
//! | 9 | array | varint count, count × 8 bytes little-endian |
//!
//! A batch ([`encode_values`]) is a varint count followed by the values.
//!
//! ```
//! use dispel4rs::value::{decode_values, encode_values};
//! use dispel4rs::Value;
//! let batch = vec![Value::from(("w", 1)), Value::Array(vec![0.5])];
//! let mut bytes = Vec::new();
//! encode_values(&batch, &mut bytes);
//! assert_eq!(decode_values(&bytes).unwrap(), batch);
//! assert!(decode_values(&bytes[..bytes.len() - 1]).is_err());
//! ```

use super::Value;
use std::collections::BTreeMap;

/// Deepest nesting of lists and maps in a data unit, the same everywhere: a PE cannot write a
/// deeper unit ([`crate::Output::write`] fails), `-d`/`-f` inputs cannot hold one, and the
/// decoder refuses one — so a unit behaves the same under every mapping.
pub const MAX_DEPTH: usize = 128;

/// Why bytes could not be decoded into values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended inside a value.
    #[error("truncated data unit: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Where the read started.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A tag byte that names no type.
    #[error("unknown value tag {tag} at offset {offset}")]
    UnknownTag {
        /// The byte found.
        tag: u8,
        /// Where.
        offset: usize,
    },
    /// A varint longer than 10 bytes or above 64 bits.
    #[error("malformed varint at offset {0}")]
    BadVarint(usize),
    /// A count or length larger than the bytes that remain could hold.
    #[error("length {length} at offset {offset} exceeds the {remaining} bytes that remain")]
    LengthTooLarge {
        /// The declared length.
        length: u64,
        /// Where.
        offset: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A string that is not UTF-8.
    #[error("string at offset {0} is not valid UTF-8")]
    BadUtf8(usize),
    /// Lists or maps nested deeper than allowed ([`MAX_DEPTH`]).
    #[error("values nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Bytes left over after the declared values.
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
    /// A batch of more units than the receiver accepts at once.
    #[error("a batch of {count} units, where at most {max} are accepted")]
    TooMany {
        /// Units announced.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Appends the encoding of a batch of values to `out`.
pub fn encode_values(values: &[Value], out: &mut Vec<u8>) {
    put_varint(out, values.len() as u64);
    for v in values {
        encode_value(v, out);
    }
}

/// Appends the encoding of one value to `out`.
pub fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(false) => out.push(1),
        Value::Bool(true) => out.push(2),
        Value::Int(i) => {
            out.push(3);
            put_varint(out, ((*i << 1) ^ (*i >> 63)) as u64);
        }
        Value::Float(x) => {
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Str(s) => {
            out.push(5);
            put_bytes(out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(6);
            put_bytes(out, b);
        }
        Value::List(l) => {
            out.push(7);
            put_varint(out, l.len() as u64);
            for v in l {
                encode_value(v, out);
            }
        }
        Value::Map(m) => {
            out.push(8);
            put_varint(out, m.len() as u64);
            for (k, v) in m {
                put_bytes(out, k.as_bytes());
                encode_value(v, out);
            }
        }
        Value::Array(a) => {
            out.push(9);
            put_varint(out, a.len() as u64);
            out.reserve(a.len() * 8);
            for x in a {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
}

fn varint_len(v: u64) -> usize {
    ((64 - v.leading_zeros() as usize).max(1)).div_ceil(7)
}

/// The number of bytes [`encode_value`] writes for `v`, and how deeply its lists and maps
/// nest (0 for a scalar), in one pass. Scalars cost a tag check.
#[inline(always)]
pub fn measure(v: &Value) -> (usize, usize) {
    match v {
        Value::Null | Value::Bool(_) => (1, 0),
        Value::Int(i) => (1 + varint_len(((*i << 1) ^ (*i >> 63)) as u64), 0),
        Value::Float(_) => (9, 0),
        Value::Str(s) => (1 + varint_len(s.len() as u64) + s.len(), 0),
        _ => measure_nested(v),
    }
}

#[inline(never)]
fn measure_nested(v: &Value) -> (usize, usize) {
    match v {
        Value::Bytes(b) => (1 + varint_len(b.len() as u64) + b.len(), 0),
        Value::Array(a) => (1 + varint_len(a.len() as u64) + 8 * a.len(), 0),
        Value::List(l) => {
            let (mut size, mut depth) = (1 + varint_len(l.len() as u64), 0);
            for item in l {
                let (s, d) = measure(item);
                size += s;
                depth = depth.max(d);
            }
            (size, depth + 1)
        }
        Value::Map(m) => {
            let (mut size, mut depth) = (1 + varint_len(m.len() as u64), 0);
            for (k, item) in m {
                let (s, d) = measure(item);
                size += varint_len(k.len() as u64) + k.len() + s;
                depth = depth.max(d);
            }
            (size, depth + 1)
        }
        scalar => measure(scalar),
    }
}

/// Decodes a batch written by [`encode_values`]; the whole input must be consumed.
pub fn decode_values(bytes: &[u8]) -> Result<Vec<Value>, CodecError> {
    decode_values_limited(bytes, usize::MAX, MAX_DEPTH)
}

/// Like [`decode_values`], refusing a batch of more than `max_units` units before anything
/// is allocated, and values nested deeper than `max_depth`. Memory taken is proportional to
/// the input: each value decoded consumes at least one byte of it.
pub fn decode_values_limited(
    bytes: &[u8],
    max_units: usize,
    max_depth: usize,
) -> Result<Vec<Value>, CodecError> {
    let mut r = Reader { bytes, pos: 0, max_depth };
    // Every value takes at least one byte: a count above the remaining bytes is corrupt.
    let n = r.length(1)?;
    if n > max_units {
        return Err(CodecError::TooMany { count: n, max: max_units });
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.value(0)?);
    }
    if r.pos != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - r.pos));
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated { offset: self.pos, needed: n - self.remaining() });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(CodecError::BadVarint(start));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::BadVarint(start))
    }

    /// A count of items each at least `min_size` bytes long, checked against what remains.
    fn length(&mut self, min_size: usize) -> Result<usize, CodecError> {
        let offset = self.pos;
        let length = self.varint()?;
        let remaining = self.remaining();
        match usize::try_from(length) {
            Ok(n) if n.checked_mul(min_size).is_some_and(|total| total <= remaining) => Ok(n),
            _ => Err(CodecError::LengthTooLarge { length, offset, remaining }),
        }
    }

    fn string(&mut self) -> Result<String, CodecError> {
        Ok(self.str()?.to_owned())
    }

    fn str(&mut self) -> Result<&'a str, CodecError> {
        let n = self.length(1)?;
        let offset = self.pos;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| CodecError::BadUtf8(offset))
    }

    fn f64(&mut self) -> Result<f64, CodecError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    fn value(&mut self, depth: usize) -> Result<Value, CodecError> {
        let offset = self.pos;
        Ok(match self.byte()? {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => {
                let z = self.varint()?;
                Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            4 => Value::Float(self.f64()?),
            5 => Value::Str(self.str()?.into()),
            6 => {
                let n = self.length(1)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            7 => {
                if depth >= self.max_depth {
                    return Err(CodecError::TooDeep);
                }
                let n = self.length(1)?;
                let mut l = Vec::with_capacity(n);
                for _ in 0..n {
                    l.push(self.value(depth + 1)?);
                }
                Value::List(l)
            }
            8 => {
                if depth >= self.max_depth {
                    return Err(CodecError::TooDeep);
                }
                // Each entry is at least a key length byte and a value tag.
                let n = self.length(2)?;
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.string()?;
                    let v = self.value(depth + 1)?;
                    m.insert(k, v);
                }
                Value::Map(m)
            }
            9 => {
                let n = self.length(8)?;
                let mut a = Vec::with_capacity(n);
                for _ in 0..n {
                    a.push(self.f64()?);
                }
                Value::Array(a)
            }
            tag => return Err(CodecError::UnknownTag { tag, offset }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn sample() -> Vec<Value> {
        vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(0),
            Value::Int(-1),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Float(-0.5),
            Value::from("héllo"),
            Value::Bytes(vec![0, 255, 7]),
            Value::from(("word", 1)),
            Value::map([("a", Value::Int(1)), ("b", Value::Array(vec![1.5, f64::INFINITY]))]),
            Value::Array(vec![]),
        ]
    }

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        encode_values(&sample(), &mut out);
        assert_eq!(decode_values(&out).unwrap(), sample());
    }

    #[test]
    fn measure_gives_the_exact_encoded_size_and_the_depth() {
        let mut deep = Value::Int(1);
        for _ in 0..5 {
            deep = Value::List(vec![deep]);
        }
        let mut values = sample();
        values.extend([
            deep,
            Value::Int(-64),
            Value::Int(64),
            Value::from("x".repeat(300)),
            Value::Bytes(vec![0; 200]),
        ]);
        for v in &values {
            let mut out = Vec::new();
            encode_value(v, &mut out);
            assert_eq!(measure(v).0, out.len(), "{v:?}");
        }
        assert_eq!(measure(&values[values.len() - 5]).1, 5);
        assert_eq!(measure(&Value::from(("a", 1))).1, 1);
        assert_eq!(measure(&Value::Int(3)).1, 0);
    }

    #[test]
    fn pinned_encoding() {
        let mut out = Vec::new();
        encode_values(&[Value::from(("ab", -2)), Value::Float(1.0)], &mut out);
        assert_eq!(out, [2, 7, 2, 5, 2, b'a', b'b', 3, 3, 4, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    }

    #[test]
    fn hostile_lengths_are_rejected_without_allocating() {
        // A list claiming 2^62 elements in a 12-byte input.
        let bytes = [1, 7, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0];
        assert!(matches!(decode_values(&bytes), Err(CodecError::LengthTooLarge { .. })));
        let bytes = [1, 9, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(decode_values(&bytes), Err(CodecError::LengthTooLarge { .. })));
        assert!(matches!(decode_values(&[0xff; 11]), Err(CodecError::BadVarint(0))));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let mut bytes = vec![1];
        bytes.extend(std::iter::repeat_n([7u8, 1], 10_000).flatten());
        bytes.push(0);
        assert_eq!(decode_values(&bytes), Err(CodecError::TooDeep));
    }

    #[test]
    fn every_truncation_and_random_mutation_is_an_error_or_a_value_never_a_panic() {
        let mut good = Vec::new();
        encode_values(&sample(), &mut good);
        for cut in 0..good.len() {
            assert!(decode_values(&good[..cut]).is_err(), "prefix {cut} decoded");
        }
        let mut rng = SplitMix64::new(42);
        for _ in 0..20_000 {
            let mut bad = good.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(bad.len() as u64) as usize;
                bad[i] = rng.next_u64() as u8;
            }
            let _ = decode_values(&bad);
            let random: Vec<u8> = (0..rng.below(64)).map(|_| rng.next_u64() as u8).collect();
            let _ = decode_values(&random);
        }
        assert_eq!(decode_values(&[1, 5, 1, 0xff]), Err(CodecError::BadUtf8(3)));
        assert_eq!(decode_values(&[1, 0, 0]), Err(CodecError::Trailing(1)));
    }
}
