//! The Rust PEs of the stock `dispel4rs` binary, for Python graphs (`RustPE("kind")`).
//!
//! | kind | ports | behaviour |
//! |---|---|---|
//! | `Counter` | no input → `output` | a root writing its call counter 1, 2, 3, … (dispel4py's `TestProducer`) |
//! | `Identity` | `input` → `output` | passes every unit on |
//! | `WordCounter` | `input` (group_by field 0) → `output` | writes `[word, running count of word]` for every `[word, ...]` (dispel4py's `WordCounter` of `graph_testing`) |
//! | `CountWords` | `input` (group_by field 0) → `output` | counts `[word, n]` units (n = 1 when absent) and writes `[word, total]` per word at end of stream |

use crate::registry::Registry;
use dispel4rs::{Grouping, Iterative, Output, Pe, PeError, PeSpec, Value};
use std::collections::HashMap;

/// Registers the built-in kinds.
pub fn register(r: &mut Registry) {
    r.register("Counter", "root writing its call counter 1, 2, 3, ... to output", |_: &Value| {
        Ok(dispel4rs::pe::counter("Counter"))
    });
    r.register("Identity", "input -> output, every unit passed on", |_: &Value| {
        Ok(Iterative::new("Identity", Ok::<Value, PeError>))
    });
    r.register("WordCounter", "[word, ...] -> [word, running count] (group_by [0])", |_: &Value| {
        Ok(WordCounter::default())
    });
    r.register("CountWords", "[word, n] -> [word, total] at end of stream (group_by [0])", |_: &Value| {
        Ok(CountWords::default())
    });
}

/// `[word, ...]` → `[word, running count]` (see the [module documentation](self)).
#[derive(Clone, Default)]
pub struct WordCounter {
    counts: HashMap<String, i64>,
}

impl Pe for WordCounter {
    fn spec(&self) -> PeSpec {
        PeSpec::new("WordCounter").input_grouped("input", Grouping::group_by([0])).output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let word = unit
            .index(0)
            .ok_or_else(|| PeError::new(format!("WordCounter expects [word, ...], got {unit}")))?;
        let word = word.try_str()?.to_owned();
        let n = self.counts.entry(word.clone()).or_default();
        *n += 1;
        out.write("output", Value::List(vec![Value::from(word), Value::Int(*n)]))
    }
}

/// `[word, n]` → `[word, total]` at end of stream (see the [module documentation](self)).
#[derive(Clone, Default)]
pub struct CountWords {
    counts: HashMap<String, i64>,
}

impl Pe for CountWords {
    fn spec(&self) -> PeSpec {
        PeSpec::new("CountWords").input_grouped("input", Grouping::group_by([0])).output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        let word =
            unit.index(0).ok_or_else(|| PeError::new(format!("CountWords expects [word, n], got {unit}")))?;
        let n = unit.index(1).map_or(Ok(1), Value::try_int)?;
        *self.counts.entry(word.try_str()?.to_owned()).or_default() += n;
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        let mut words: Vec<_> = self.counts.drain().collect();
        words.sort();
        for (word, n) in words {
            out.write("output", Value::List(vec![Value::from(word), Value::Int(n)]))?;
        }
        Ok(())
    }
}
