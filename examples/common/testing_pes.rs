//! The test PEs of the reference graphs (dispel4py's `examples/graph_testing/testing_PEs`),
//! shared by the reference examples. Each example includes this file with
//! `#[path = "common/testing_pes.rs"] mod testing_pes;` (cargo does not build
//! `examples/common/` as an example of its own: it has no `main.rs`).
//!
//! | PE | ports | behaviour |
//! |---|---|---|
//! | [`TestProducer`] (k) | no input; `output` (k = 1) or `output0..output{k-1}` | each call writes its call counter (1, 2, ...) to every output |
//! | [`test_one_in_one_out`] | `input` → `output` | returns the unit (the framework writes it) |
//! | [`TestOneInOneOutWriter`] | `input` → `output` | writes the unit explicitly |
//! | [`TestTwoInOneOut`] | `input0`, `input1` → `output` | writes each unit as a string (`3` → `"3"`) |
//! | [`RandomWordProducer`] | → `output` | each call writes `[word]`, drawn from [`WORDS`] by a seeded RNG |
//! | [`WordCounter`] | `input` (group_by field 0) → `output` | writes `[word, running count of that word]` |
//! | [`NumberProducer`] | → `output` | each call writes 0, 1, ..., n−1 (n = 1000 in the examples) |

// Every example uses only some of these PEs.
#![allow(dead_code)]

use dispel4rs::rng::SplitMix64;
use dispel4rs::{Grouping, Iterative, Output, Pe, PeError, PeSpec, Value};
use std::collections::HashMap;

/// The seven words [`RandomWordProducer`] draws from.
pub const WORDS: [&str; 7] =
    ["VERCE", "Earthquake", "Computing", "Seismology", "Modelling", "Analysis", "Infrastructure"];

/// The seed [`RandomWordProducer::new`] uses: runs are reproducible.
pub const WORD_SEED: u64 = 20_170_401;

/// How many numbers [`NumberProducer`] writes per call in the examples.
pub const NUMBERS_PER_CALL: i64 = 1000;

/// No input; `k` outputs. Each call writes its call counter (1, 2, 3, ...) to every output.
#[derive(Clone, Debug)]
pub struct TestProducer {
    name: String,
    outputs: usize,
    calls: i64,
}

impl TestProducer {
    /// A producer named `name` with `k` outputs (`output` when `k` is 1, else `output0`,
    /// `output1`, ...); `k` is at least 1.
    pub fn new(name: impl Into<String>, k: usize) -> Self {
        TestProducer { name: name.into(), outputs: k.max(1), calls: 0 }
    }

    /// The name of output `i` for a producer with `k` outputs.
    pub fn output_name(k: usize, i: usize) -> String {
        if k <= 1 {
            "output".to_owned()
        } else {
            format!("output{i}")
        }
    }
}

impl Pe for TestProducer {
    fn spec(&self) -> PeSpec {
        (0..self.outputs)
            .fold(PeSpec::new(&self.name), |spec, i| spec.output(TestProducer::output_name(self.outputs, i)))
    }

    fn process(&mut self, _port: &str, _unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        self.calls += 1;
        for i in 0..self.outputs {
            out.write_at(i, self.calls)?;
        }
        Ok(())
    }
}

/// `input` → `output`: passes each unit through by returning it (dispel4py's
/// `TestOneInOneOut`, an `IterativePE`).
pub fn test_one_in_one_out(name: impl Into<String>) -> impl Pe + Clone {
    Iterative::new(name, Ok::<Value, PeError>)
}

/// `input` → `output`: passes each unit through with an explicit write.
#[derive(Clone, Debug)]
pub struct TestOneInOneOutWriter {
    name: String,
}

impl TestOneInOneOutWriter {
    /// A pass-through PE named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        TestOneInOneOutWriter { name: name.into() }
    }
}

impl Pe for TestOneInOneOutWriter {
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).input("input").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        out.write("output", unit)
    }
}

/// `input0`, `input1` → `output`: every unit arriving on either input is written as a
/// string (`3` → `"3"`; a string stays as it is, anything else becomes its JSON text).
#[derive(Clone, Debug)]
pub struct TestTwoInOneOut {
    name: String,
}

impl TestTwoInOneOut {
    /// A merging PE named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        TestTwoInOneOut { name: name.into() }
    }
}

impl Pe for TestTwoInOneOut {
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).input("input0").input("input1").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let text = match unit {
            Value::Str(s) => s,
            other => other.to_json().into(),
        };
        out.write_at(0, text)
    }
}

/// No input; each call writes one `[word]`, drawn uniformly from [`WORDS`] by a
/// [`SplitMix64`] seeded with the seed given (the draw is `rng.below(7)`).
#[derive(Clone, Debug)]
pub struct RandomWordProducer {
    name: String,
    rng: SplitMix64,
}

impl RandomWordProducer {
    /// A producer named `name` seeded with [`WORD_SEED`].
    pub fn new(name: impl Into<String>) -> Self {
        RandomWordProducer::seeded(name, WORD_SEED)
    }

    /// A producer named `name` seeded with `seed`.
    pub fn seeded(name: impl Into<String>, seed: u64) -> Self {
        RandomWordProducer { name: name.into(), rng: SplitMix64::new(seed) }
    }
}

impl Pe for RandomWordProducer {
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).output("output")
    }

    fn process(&mut self, _port: &str, _unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let word = WORDS[self.rng.below(WORDS.len() as u64) as usize];
        out.write_at(0, (word,))
    }
}

/// `input` (group_by field 0) → `output`: for each `[word, ...]` writes
/// `[word, running count of that word in this instance]`.
#[derive(Clone, Debug, Default)]
pub struct WordCounter {
    name: String,
    counts: HashMap<String, i64>,
}

impl WordCounter {
    /// A counter named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        WordCounter { name: name.into(), counts: HashMap::new() }
    }
}

impl Pe for WordCounter {
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).input_grouped("input", Grouping::group_by([0])).output("output").stateful()
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let word = unit
            .index(0)
            .ok_or_else(|| PeError::new(format!("{} expects [word, ...], got {unit}", self.name)))?
            .try_str()?;
        let count = match self.counts.get_mut(word) {
            Some(c) => {
                *c += 1;
                *c
            }
            None => {
                self.counts.insert(word.to_owned(), 1);
                1
            }
        };
        out.write_at(0, (word, count))
    }
}

/// No input; each call writes 0, 1, ..., n−1.
#[derive(Clone, Debug)]
pub struct NumberProducer {
    name: String,
    n: i64,
}

impl NumberProducer {
    /// A producer named `name` writing `0..n` per call.
    pub fn new(name: impl Into<String>, n: i64) -> Self {
        NumberProducer { name: name.into(), n }
    }
}

impl Pe for NumberProducer {
    fn spec(&self) -> PeSpec {
        PeSpec::new(&self.name).output("output")
    }

    fn process(&mut self, _port: &str, _unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        for i in 0..self.n {
            out.write_at(0, i)?;
        }
        Ok(())
    }
}
