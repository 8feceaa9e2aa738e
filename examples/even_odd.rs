//! `even_odd`: a port of dispel4py's `others/even_odd_workflow.py` (the d4py_workflows
//! repository), "Even humans are odd!": random numbers are split into odd and even and paired
//! up, one odd with one even. docs/PORTING.md walks through the port line by line.
//!
//! ```text
//! NumberProducer0 ──┬──> Divideby21 (compare 0: even) ──> PairProducer3.even
//!                   └──> Divideby22 (compare 1: odd)  ──> PairProducer3.odd
//! ```
//!
//! * `NumberProducer` (dispel4py `ProducerPE`): each call writes one number — the call's
//!   `{"number": N}` when `-d`/`-f` give one (so a run can be repeated on recorded numbers),
//!   else a random one in 1..=1000, as the original's `random.randint(1, 1000)` (from a seeded
//!   RNG here: the same `-i N` draws the same numbers every run).
//! * `Divideby2(compare)` (an `IterativePE`): writes the number if `number % 2 == compare`,
//!   nothing otherwise. The same PE type is added twice, so the graph names them the way
//!   dispel4py does (`add_numbered`: the type's name and the PE's index).
//! * `PairProducer` (a `GenericPE` with inputs `odd` and `even`): queues the numbers of each
//!   input and, while both queues hold one, prints `Pair: odd - even` and writes the tuple
//!   `[odd, even]` to `output`. At end of stream it logs the numbers left unpaired (`-v`).
//!
//! Which numbers are paired depends on the order they arrive in, so `PairProducer` and the two
//! filters run as exactly one instance each (`numprocesses` 1): then every mapping and every
//! `-n` gives the same pairs as dispel4py's `simple` (the original would pair differently under
//! `multi -n 10`, where each PE gets several instances).
//!
//! ```text
//! cargo run --example even_odd -- simple -i 100 -v
//! cargo run --example even_odd -- multi -n 4 -f examples/data/even_odd_numbers.json -v
//! ```

use dispel4rs::rng::SplitMix64;
use dispel4rs::{GraphError, Iterative, Output, Pe, PeError, PeSpec, Producer, Value, WorkflowGraph};
use std::collections::VecDeque;

/// The seed of the numbers drawn when a call gives none.
const SEED: u64 = 4;

/// One number per call: the call's `{"number": N}`, or a random number in 1..=1000.
fn number_producer() -> impl Pe + Clone {
    let mut rng = SplitMix64::new(SEED);
    Producer::new("NumberProducer", move |input: Value, out: &mut Output<'_>| {
        let number = match &input {
            Value::Null => rng.below(1000) as i64 + 1,
            call => call.get("number").map(Value::try_int).transpose()?.ok_or_else(|| {
                PeError::new(format!(
                    r#"NumberProducer expects no input (a random number) or {{"number": N}}, got {call}"#
                ))
            })?,
        };
        out.write("output", number)
    })
}

/// Writes the numbers whose remainder by 2 is `compare` (0: even, 1: odd).
fn divide_by_2(compare: i64) -> impl Pe + Clone {
    Iterative::filter_map("Divideby2", move |unit: Value| {
        let number = unit.try_int()?;
        // Python's % by 2 is never negative: rem_euclid, not %.
        Ok::<_, PeError>((number.rem_euclid(2) == compare).then_some(number))
    })
}

/// Pairs one odd with one even number, in arrival order.
#[derive(Clone, Default)]
struct PairProducer {
    odd: VecDeque<i64>,
    even: VecDeque<i64>,
}

impl Pe for PairProducer {
    fn spec(&self) -> PeSpec {
        PeSpec::new("PairProducer").input("odd").input("even").output("output").numprocesses(1)
    }

    fn process(&mut self, port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let number = unit.try_int()?;
        match port {
            "odd" => self.odd.push_back(number),
            "even" => self.even.push_back(number),
            other => return Err(PeError::new(format!("PairProducer has no input '{other}'"))),
        }
        while let (Some(&odd), Some(&even)) = (self.odd.front(), self.even.front()) {
            self.odd.pop_front();
            self.even.pop_front();
            println!("Pair: {odd} - {even}");
            out.write("output", (odd, even))?;
        }
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        // dispel4py's self.log: the line names the PE and instance.
        out.log(format!("We are left behind: odd: {:?}, even: {:?}", self.odd, self.even));
        self.odd.clear();
        self.even.clear();
        Ok(())
    }
}

/// The workflow graph, built in the order of the original's `graph.connect` calls so that the
/// PEs get the original's names.
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("even_odd");
    let producer = g.add_numbered(number_producer())?; // NumberProducer0
    let filter_even = g.add_numbered(divide_by_2(0))?; // Divideby21
    let filter_odd = g.add_numbered(divide_by_2(1))?; // Divideby22
    let pair = g.add_numbered(PairProducer::default())?; // PairProducer3
    for filter in [filter_even, filter_odd] {
        // One instance each: the pairs depend on the order of each stream.
        g.set_numprocesses(filter, 1)?;
    }
    g.connect(producer, "output", filter_even, "input")?;
    g.connect(producer, "output", filter_odd, "input")?;
    g.connect(filter_even, "output", pair, "even")?;
    g.connect(filter_odd, "output", pair, "odd")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
