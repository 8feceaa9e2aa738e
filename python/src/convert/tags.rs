//! The reserved names of the boundary encoding (see the [module documentation](super)).
//!
//! Every one begins with `"\0d4r:"`. A Python string or dict key that itself begins so is
//! escaped (`{"\0d4r:str": s}`, or the dict sent as pairs), so the encoding stays lossless
//! for every value.

/// The prefix of every reserved name.
pub const PREFIX: &str = "\u{0}d4r:";
/// Last element of a list that was a tuple.
pub const TUPLE: &str = "\u{0}d4r:tuple";
/// Key of the last element (a map) of a list that was a named tuple: its pickled class.
pub const NAMEDTUPLE: &str = "\u{0}d4r:namedtuple";
/// Key of a dict's insertion order (a list of its keys).
pub const ORDER: &str = "\u{0}d4r:order";
/// A dict with keys that are not all strings: a list of `[key, value]` pairs.
pub const DICT: &str = "\u{0}d4r:dict";
/// An integer beyond 64 bits, as decimal digits.
pub const INT: &str = "\u{0}d4r:int";
/// A string that begins with [`PREFIX`].
pub const STR: &str = "\u{0}d4r:str";
/// A numpy array or scalar: `{"dtype": str, "shape": [int], "data": Array | Bytes}`.
pub const NDARRAY: &str = "\u{0}d4r:ndarray";
/// Any other object, pickled.
pub const PICKLE: &str = "\u{0}d4r:pickle";

/// True if `s` could be mistaken for a reserved name.
#[inline]
pub fn is_reserved(s: &str) -> bool {
    s.as_bytes().first() == Some(&0) && s.starts_with(PREFIX)
}
