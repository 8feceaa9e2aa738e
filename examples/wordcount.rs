//! `wordcount`: read → split → count.
//!
//! * `read` with `{"path": P}` writes each line of the file P.
//! * `split` splits a line on Unicode whitespace, lowercases each word and writes `[word, 1]`.
//! * `count` (group_by the word) adds up the counts and, at end of stream, writes
//!   `[word, total]` for each word it holds.
//!
//! ```text
//! cargo run --release --example wordcount -- simple -d '{"read": [{"path": "examples/data/sample.txt"}]}'
//! cargo run --release --example wordcount -- multi -n 4 -d '{"read": [{"path": "examples/data/sample.txt"}]}'
//! ```

use dispel4rs::pe::Batch;
use dispel4rs::value::CompactString;
use dispel4rs::{GraphError, Grouping, Output, Pe, PeError, PeSpec, Producer, Value, WorkflowGraph};
use std::collections::HashMap;
use std::io::BufRead;

/// Splits lines into lowercased words.
#[derive(Clone)]
struct Split;

impl Pe for Split {
    fn spec(&self) -> PeSpec {
        PeSpec::new("split").input("input").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        split(&unit, out)
    }

    // Lines are only read: process them by reference (no copy kept for supervision).
    fn process_batch(&mut self, _port: &str, batch: &mut Batch<'_>, out: &mut Output<'_>) {
        batch.for_each_ref(out, split);
    }
}

fn split(line: &Value, out: &mut Output<'_>) -> Result<(), PeError> {
    for word in line.try_str()?.split_whitespace() {
        out.write_at(0, (lowercase(word), 1))?;
    }
    Ok(())
}

/// The word in lower case, built as an inline string (no heap allocation for words of up
/// to 24 bytes); the full Unicode mapping for non-ASCII words.
fn lowercase(word: &str) -> CompactString {
    if word.is_ascii() {
        let mut w = CompactString::from(word);
        w.make_ascii_lowercase();
        w
    } else {
        CompactString::from(word.to_lowercase())
    }
}

/// Adds up `[word, n]` per word; writes `[word, total]` at end of stream.
#[derive(Clone, Default)]
struct Count {
    counts: HashMap<String, i64>,
}

impl Count {
    fn add(&mut self, pair: &Value) -> Result<(), PeError> {
        let word =
            pair.index(0).ok_or_else(|| PeError::new(format!("count expects [word, n], got {pair}")))?;
        let word = word.try_str()?;
        let n = pair.index(1).map_or(Ok(1), Value::try_int)?;
        match self.counts.get_mut(word) {
            Some(total) => *total += n,
            None => {
                self.counts.insert(word.to_owned(), n);
            }
        }
        Ok(())
    }
}

impl Pe for Count {
    fn spec(&self) -> PeSpec {
        PeSpec::new("count").input_grouped("input", Grouping::group_by([0])).output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        self.add(&unit)
    }

    // Pairs are only read: process them by reference (no copy kept for supervision).
    fn process_batch(&mut self, _port: &str, batch: &mut Batch<'_>, out: &mut Output<'_>) {
        batch.for_each_ref(out, |unit, _| self.add(unit));
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        for (word, total) in self.counts.drain() {
            out.write_at(0, (word, total))?;
        }
        Ok(())
    }
}

/// The workflow graph (shared with the benchmarks, which include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("wordcount");
    let read = g.add(Producer::new("read", |input: Value, out: &mut Output<'_>| {
        let path = input.get("path").ok_or_else(|| {
            PeError::new(r#"read expects {"path": FILE}, e.g. -d '{"read": [{"path": "text.txt"}]}'"#)
        })?;
        let path = path.try_str()?;
        let file = std::fs::File::open(path).map_err(|e| PeError::new(format!("cannot open {path}: {e}")))?;
        for line in std::io::BufReader::with_capacity(1 << 16, file).lines() {
            out.write_at(0, line?)?;
        }
        Ok(())
    }))?;
    let split = g.add(Split)?;
    let count = g.add(Count::default())?;
    g.connect(read, "output", split, "input")?;
    g.connect(split, "output", count, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
