//! `word_count` (dispel4py's `graph_testing/word_count`): random words counted by a grouped,
//! parallel, stateful PE.
//!
//! ```text
//! prod (RandomWordProducer) → count (WordCounter, numprocesses 3, input grouping group_by [0])
//! ```
//!
//! Each call of `prod` writes one `[word]`, drawn from seven fixed words by a seeded
//! SplitMix64 (see `common/testing_pes.rs`: the same words in every run). `group_by [0]` sends
//! every occurrence of a word to the same instance of `count` (the stable hash is the same in
//! every process), which writes `[word, running count]`.
//!
//! Expected output for `-i N`: `count.output` collects, for every word drawn k times,
//! `[word, 1]`, `[word, 2]`, ..., `[word, k]` — no gap, no repeat — and the k's sum to N.
//!
//! ```text
//! cargo run --example word_count -- simple -i 100
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, WorkflowGraph};
use testing_pes::{RandomWordProducer, WordCounter};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("word_count");
    let prod = g.add(RandomWordProducer::new("prod"))?;
    let count = g.add(WordCounter::new("count"))?;
    g.set_numprocesses(count, 3)?;
    g.connect(prod, "output", count, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
