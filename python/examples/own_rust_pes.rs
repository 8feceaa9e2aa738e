//! A `dispel4rs` command of your own, with a Rust PE of yours that Python graphs can use
//! (`RustPE("MyCountWords")`): docs/PORTING.md, "Two ways". Run it as the `dispel4rs` command:
//! `cargo run --example own_rust_pes -p dispel4rs-python -- simple graph.py -i 10`.

use dispel4rs::{Grouping, Output, Pe, PeError, PeSpec, Value};
use std::collections::HashMap;

#[derive(Clone, Default)]
struct CountWords {
    counts: HashMap<String, i64>,
}

impl Pe for CountWords {
    fn spec(&self) -> PeSpec {
        PeSpec::new("CountWords").input_grouped("input", Grouping::group_by([0])).output("output")
    }
    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        let (word, n): (&str, i64) = unit.try_tuple()?; // a Python tuple arrives as a list
        *self.counts.entry(word.to_owned()).or_default() += n;
        Ok(())
    }
    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        for (word, n) in self.counts.drain() {
            out.write("output", (word, n))?;
        }
        Ok(())
    }
}

fn main() {
    let mut registry = dispel4rs_python::Registry::with_builtins();
    registry.register("MyCountWords", "counts [word, n]", |_config: &Value| Ok(CountWords::default()));
    std::process::exit(dispel4rs_python::command::run(registry, std::env::args_os()));
}
