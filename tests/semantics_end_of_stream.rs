//! End of stream: `postprocess` runs exactly once per instance, after every upstream
//! instance has ended, and what it writes reaches downstream before end of stream moves on.

use dispel4rs::pe::counter;
use dispel4rs::{Grouping, Mapping, Output, Pe, PeError, PeSpec, Runner, Value, WorkflowGraph};

/// Counts what it receives; at end of stream writes `[name, instance, count]` to `output`
/// (connected downstream) and `["done", name, instance]` to `report` (collected).
#[derive(Clone)]
struct Stage {
    name: &'static str,
    instances: usize,
    received: i64,
}

impl Pe for Stage {
    fn spec(&self) -> PeSpec {
        PeSpec::new(self.name).input("input").output("output").output("report").numprocesses(self.instances)
    }

    fn process(&mut self, _: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        // Units from upstream postprocess are lists; plain numbers are data.
        self.received += 1;
        if unit.as_int().is_some() {
            out.write("output", unit)?;
        }
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        let index = out.instance().index as i64;
        out.write("output", (self.name, index, self.received))?;
        out.write("report", ("done", self.name, index))
    }
}

/// Receives everything at one instance; at the end writes how many data units and how many
/// end-of-stream summaries of the previous stage it saw.
#[derive(Clone, Default)]
struct Last {
    numbers: i64,
    summaries: Vec<Value>,
}

impl Pe for Last {
    fn spec(&self) -> PeSpec {
        PeSpec::new("last").input_grouped("input", Grouping::AllToOne).output("output").numprocesses(2)
    }

    fn process(&mut self, _: &str, unit: Value, _: &mut Output<'_>) -> Result<(), PeError> {
        match unit {
            Value::Int(_) => self.numbers += 1,
            other => self.summaries.push(other),
        }
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        let index = out.instance().index;
        self.summaries.sort_by_key(Value::to_json);
        out.write(
            "output",
            Value::map([
                ("instance", Value::from(index)),
                ("numbers", Value::Int(self.numbers)),
                ("summaries", Value::List(std::mem::take(&mut self.summaries))),
            ]),
        )
    }
}

fn graph() -> WorkflowGraph {
    let mut g = WorkflowGraph::new("eos");
    let p = g.add(counter("numbers")).unwrap();
    let a = g.add(Stage { name: "a", instances: 3, received: 0 }).unwrap();
    let b = g.add(Stage { name: "b", instances: 2, received: 0 }).unwrap();
    let last = g.add(Last::default()).unwrap();
    g.connect(p, "output", a, "input").unwrap();
    g.connect(a, "output", b, "input").unwrap();
    g.connect(b, "output", last, "input").unwrap();
    g
}

#[test]
fn postprocess_runs_once_per_instance_and_its_writes_flow_downstream_first() {
    let g = graph();
    for mapping in [Mapping::Simple, Mapping::Multi] {
        for n in [1, 4] {
            let r = Runner::new(&g).mapping(mapping).processes(n).iterations(1000).run().unwrap();
            let mut done: Vec<String> =
                r.outputs.get("a", "report").unwrap().iter().map(Value::to_json).collect();
            done.extend(r.outputs.get("b", "report").unwrap().iter().map(Value::to_json));
            done.sort();
            assert_eq!(
                done,
                [
                    r#"["done","a",0]"#,
                    r#"["done","a",1]"#,
                    r#"["done","a",2]"#,
                    r#"["done","b",0]"#,
                    r#"["done","b",1]"#
                ],
                "{mapping} -n {n}: postprocess must run exactly once per instance"
            );
            let last = r.outputs.get("last", "output").unwrap();
            assert_eq!(last.len(), 2, "{mapping} -n {n}: one summary per instance of last");
            let zero = last.iter().find(|v| v.get("instance") == Some(&Value::Int(0))).unwrap();
            let other = last.iter().find(|v| v.get("instance") == Some(&Value::Int(1))).unwrap();
            assert_eq!(zero.get("numbers"), Some(&Value::Int(1000)));
            assert_eq!(other.get("numbers"), Some(&Value::Int(0)));
            assert_eq!(other.get("summaries"), Some(&Value::List(vec![])));
            // b's summaries reached `last` before its end of stream, and each b instance had
            // received a's three summaries (plus its share of numbers) before its own.
            let summaries = zero.get("summaries").and_then(Value::as_list).unwrap();
            assert_eq!(summaries.len(), 2, "{mapping} -n {n}: {summaries:?}");
            let b_total: i64 = summaries
                .iter()
                .filter(|s| s.index(0) == Some(&Value::from("b")))
                .map(|s| s.index(2).and_then(Value::as_int).unwrap())
                .sum();
            assert_eq!(b_total, 1000 + 3, "{mapping} -n {n}");
        }
    }
}

#[test]
fn a_root_without_calls_still_ends_and_its_postprocess_runs() {
    let g = graph();
    for mapping in [Mapping::Simple, Mapping::Multi] {
        let r = Runner::new(&g).mapping(mapping).processes(3).iterations(0).run().unwrap();
        let last = r.outputs.get("last", "output").unwrap();
        let zero = last.iter().find(|v| v.get("instance") == Some(&Value::Int(0))).unwrap();
        assert_eq!(zero.get("numbers"), Some(&Value::Int(0)));
        assert_eq!(zero.get("summaries").and_then(Value::as_list).map(<[Value]>::len), Some(2));
    }
}
