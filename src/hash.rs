//! The stable hash behind `group_by`: identical in every process, on every host, on every
//! architecture and across releases, so a key lands on the same instance wherever it is
//! routed from. (dispel4py used Python's salted `hash()`, which split keys across MPI ranks.)
//!
//! # The algorithm (frozen; the test vectors below pin it)
//!
//! 1. Each selected field is written, in order, as a canonical byte string:
//!    a type tag byte, then the payload —
//!    `null` → `0x00`; `bool` → `0x01`, one byte 0/1; `int` → `0x02`, 8 bytes little-endian
//!    two's complement; `float` → `0x03`, the 8 little-endian bytes of the IEEE-754 bits, with
//!    `-0.0` written as `0.0` and every NaN as `0x7ff8000000000000`; `str` → `0x04`, the byte
//!    length as 8 bytes little-endian, the UTF-8 bytes; `bytes` → `0x05`, length, bytes;
//!    `list` → `0x06`, element count (8 bytes LE), the elements; `map` → `0x07`, entry count,
//!    then per entry in key order the key as a `str` payload (length, bytes) and the value;
//!    `array` → `0x08`, element count, each sample as a `float` payload.
//! 2. The bytes are hashed with 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime
//!    `0x100000001b3`).
//! 3. The result is finalised with the SplitMix64 mixer ([`mix64`]) so that every bit of the
//!    key affects the high bits.
//! 4. The destination instance among `n` is `(hash × n) >> 64` (the high half of the 128-bit
//!    product), see [`bucket`].
//!
//! ```
//! use dispel4rs::{hash, Value};
//! let h = hash::stable_hash(&Value::from("seismic"));
//! assert_eq!(h, hash::stable_hash(&Value::from("seismic")));
//! assert!(hash::bucket(h, 3) < 3);
//! ```

use crate::value::{Field, Value};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The SplitMix64 finaliser: a bijective avalanche mix of 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps a hash onto `0..n` (`n` ≥ 1) with the multiply-shift reduction.
pub fn bucket(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

/// Incremental FNV-1a over the canonical encoding of values.
#[derive(Clone, Debug)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher { state: FNV_OFFSET }
    }
}

impl StableHasher {
    /// A hasher at the FNV offset basis.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds raw bytes.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        let mut h = self.state;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(FNV_PRIME);
        }
        self.state = h;
    }

    fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    fn write_f64(&mut self, x: f64) {
        let bits = if x == 0.0 {
            0
        } else if x.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            x.to_bits()
        };
        self.write_u64(bits);
    }

    fn write_str(&mut self, s: &[u8]) {
        self.write_u64(s.len() as u64);
        self.write(s);
    }

    /// Feeds the canonical encoding of one value.
    pub fn write_value(&mut self, v: &Value) {
        match v {
            Value::Null => self.write(&[0]),
            Value::Bool(b) => self.write(&[1, u8::from(*b)]),
            Value::Int(i) => {
                self.write(&[2]);
                self.write_u64(*i as u64);
            }
            Value::Float(x) => {
                self.write(&[3]);
                self.write_f64(*x);
            }
            Value::Str(s) => {
                self.write(&[4]);
                self.write_str(s.as_bytes());
            }
            Value::Bytes(b) => {
                self.write(&[5]);
                self.write_str(b);
            }
            Value::List(l) => {
                self.write(&[6]);
                self.write_u64(l.len() as u64);
                for e in l {
                    self.write_value(e);
                }
            }
            Value::Map(m) => {
                self.write(&[7]);
                self.write_u64(m.len() as u64);
                for (k, e) in m {
                    self.write_str(k.as_bytes());
                    self.write_value(e);
                }
            }
            Value::Array(a) => {
                self.write(&[8]);
                self.write_u64(a.len() as u64);
                for x in a {
                    self.write_f64(*x);
                }
            }
        }
    }

    /// The finalised hash.
    pub fn finish(&self) -> u64 {
        mix64(self.state)
    }
}

/// The stable hash of one value.
pub fn stable_hash(v: &Value) -> u64 {
    let mut h = StableHasher::new();
    h.write_value(v);
    h.finish()
}

/// The stable hash of the selected fields of a data unit, or the first field that is missing.
///
/// ```
/// use dispel4rs::{hash, Value, value::Field};
/// let unit = Value::from(("fox", 1));
/// let by_word = hash::hash_fields(&unit, &[Field::Index(0)]).unwrap();
/// assert_eq!(by_word, hash::stable_hash(&Value::from("fox")));
/// assert!(hash::hash_fields(&unit, &[Field::Index(5)]).is_err());
/// ```
pub fn hash_fields<'f>(unit: &Value, fields: &'f [Field]) -> Result<u64, &'f Field> {
    let mut h = StableHasher::new();
    for f in fields {
        h.write_value(unit.field(f).ok_or(f)?);
    }
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// These vectors freeze the algorithm (they were computed independently by
    /// `scripts/hash_vectors.py`, a Python rendering of the documented algorithm). If one changes, group-by placement changes for
    /// every user between releases and between processes of different versions: don't.
    #[test]
    fn pinned_test_vectors() {
        let cases: [(Value, u64); 10] = [
            (Value::Null, 0x25fc_6dd3_6ce0_4b20),
            (Value::Bool(true), 0xb031_1355_9970_6da3),
            (Value::Int(0), 0x6cf4_9fa0_3703_4dc9),
            (Value::Int(-1), 0x2c4e_de00_2dea_d322),
            (Value::Float(0.5), 0xb155_8bec_c0a4_6ddd),
            (Value::from(""), 0x4d3f_c651_b154_5dfd),
            (Value::from("the"), 0x3a82_b310_4910_91fe),
            (Value::from(("fox", 1)), 0xd488_3855_43b1_0470),
            (Value::map([("k", 1.5)]), 0x0b8b_edc7_152a_09a8),
            (Value::Array(vec![1.0, -2.0]), 0x73d9_a4f6_3c94_0275),
        ];
        let got: Vec<String> = cases.iter().map(|(v, _)| format!("{:#018x}", stable_hash(v))).collect();
        let want: Vec<String> = cases.iter().map(|(_, h)| format!("{h:#018x}")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn equal_floats_hash_equal_and_types_stay_apart() {
        assert_eq!(stable_hash(&Value::Float(0.0)), stable_hash(&Value::Float(-0.0)));
        assert_eq!(stable_hash(&Value::Float(f64::NAN)), stable_hash(&Value::Float(-f64::NAN)));
        assert_ne!(stable_hash(&Value::Int(1)), stable_hash(&Value::Float(1.0)));
        assert_ne!(stable_hash(&Value::from("1")), stable_hash(&Value::Int(1)));
        assert_ne!(stable_hash(&Value::from(("a", "b"))), stable_hash(&Value::from(("ab", ""))));
    }

    #[test]
    fn buckets_spread_evenly() {
        let n = 7;
        let mut counts = vec![0usize; n];
        for i in 0..70_000 {
            counts[bucket(stable_hash(&Value::from(format!("word{i}"))), n)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{c}");
        }
    }
}
