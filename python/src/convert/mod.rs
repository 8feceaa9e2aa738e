//! Data units across the boundary: Python objects ↔ [`Value`].
//!
//! Python PEs exchange Python objects; the runtime moves [`Value`]s (between threads,
//! processes and hosts). Every Python value a PE writes comes back to the PE that reads it as
//! an equal object of the same type, even after a trip through another process; Rust PEs see
//! plain values. `Value` itself is unchanged: what it cannot say is encoded at the boundary,
//! with names no user value can take (they begin with a NUL character, see [`tags`]).
//!
//! | Python | `Value` | back in Python |
//! |---|---|---|
//! | `None`, `bool`, `int` (64-bit), `float`, `str`, `bytes` | `Null`, `Bool`, `Int`, `Float`, `Str`, `Bytes` | the same |
//! | `list` | `List` | `list` |
//! | `tuple` | `List` with a trailing marker `"\0d4r:tuple"` (plain: `List`) | `tuple` |
//! | a named tuple | `List` with a trailing `{"\0d4r:namedtuple": pickled class}` (plain: `List`) | the named tuple |
//! | `dict` with `str` keys | `Map`, plus `"\0d4r:order": [keys]` when the keys are not in sorted order (plain: `Map`) | `dict`, in its order |
//! | `dict` with other keys | `{"\0d4r:dict": [[k, v], ...]}` | `dict` |
//! | `int` beyond 64 bits | `{"\0d4r:int": "digits"}` | `int` |
//! | `numpy.ndarray`, 1-D `float64` | `Array` | `numpy.ndarray` (`float64`) |
//! | other arrays | `{"\0d4r:ndarray": {"dtype", "shape", "data"}}`: `data` an `Array` for `float64`, else the raw bytes | `numpy.ndarray`, same dtype and shape |
//! | numpy scalars | a 0-d `ndarray` entry (plain: the Python number) | the numpy scalar |
//! | anything else (sets, datetimes, objects of your classes, …) | `{"\0d4r:pickle": bytes}` | unpickled |
//!
//! [`Encoding::Lossless`] is what travels between Python PEs. [`Encoding::Plain`] is for
//! outputs that leave the Python world — collected outputs (`-o` JSON Lines, the printed
//! `Outputs`) — and [`plain::to_plain`] makes a lossless value plain for a Rust PE: a tuple is
//! then a list, a dict's order is key order and numpy scalars are numbers. A value coming from
//! Rust or JSON decodes naturally: `List` → `list`, `Map` → `dict`, `Array` → a numpy array
//! (a list of floats when numpy is not installed).

mod decode;
mod encode;
pub mod plain;
pub mod tags;

pub use decode::to_python;
pub use encode::to_value;

/// How a Python object becomes a [`dispel4rs::Value`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Everything the object is (tuple or list, dict order, numpy dtypes): for data read by
    /// Python PEs.
    Lossless,
    /// What a Rust PE or a JSON reader wants: tuples as lists, dicts in key order, numpy
    /// scalars as numbers.
    Plain,
}

/// Values nested deeper than this are refused (the wire codec's limit is the same order).
pub const MAX_DEPTH: usize = 100;

#[cfg(test)]
mod tests;
