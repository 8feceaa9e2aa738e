//! Data units across the boundary, under every mapping that crosses threads or processes:
//! what a Python PE writes reaches the next Python PE equal and of the same type (tuples,
//! dict order, big ints, named tuples, sets, dates, numpy arrays of any dtype and shape,
//! numpy scalars), and reaches a Python PE behind a Rust PE in its plain form
//! (`tests/graphs/units.py` raises on any difference, which would dead-letter and fail).

mod support;

use support::*;

const CASES: usize = 30;

fn check(mapping: &[&str]) {
    let run = ours(mapping, &graph("units"), &[]);
    let context = format!("units under {}", mapping.join(" "));
    run.assert_success(&context);
    assert_eq!(run.records.len(), 2 * CASES, "{context}: one record per case and checker");
    let typename = |pe: &str, i: usize| {
        run.records
            .iter()
            .find(|(p, _, d)| p == pe && d.starts_with(&format!("[{i},")))
            .map(|(_, _, d)| d.clone())
            .unwrap_or_else(|| panic!("{context}: no record of case {i} from {pe}"))
    };
    // Between Python PEs everything keeps its type ...
    assert_eq!(typename("Check1", 4), r#"[4,"int"]"#, "{context}: 2**70");
    assert_eq!(typename("Check1", 14), r#"[14,"tuple"]"#, "{context}");
    assert_eq!(typename("Check1", 17), r#"[17,"Point"]"#, "{context}: a named tuple");
    assert_eq!(typename("Check1", 18), r#"[18,"set"]"#, "{context}");
    assert_eq!(typename("Check1", 22), r#"[22,"ndarray"]"#, "{context}: an int32 matrix");
    assert_eq!(typename("Check1", 25), r#"[25,"float64"]"#, "{context}: a numpy scalar");
    // ... and behind a Rust PE it is plain: a tuple is a list, a numpy scalar a number.
    assert_eq!(typename("CheckPlain4", 14), r#"[14,"list"]"#, "{context}");
    assert_eq!(typename("CheckPlain4", 25), r#"[25,"float"]"#, "{context}");
    assert_eq!(typename("CheckPlain4", 21), r#"[21,"ndarray"]"#, "{context}: a float64 array");
}

#[test]
fn simple() {
    check(&["simple"]);
}

#[test]
fn multi() {
    check(&["multi", "-n", "3"]);
}

#[test]
fn zmq_multi() {
    check(&["zmq_multi", "-n", "3"]);
}

#[test]
fn mpi() {
    check(&["mpi", "-n", "3"]);
}

#[test]
fn dyn_multi() {
    check(&["dyn_multi", "-n", "2"]);
}

#[test]
fn dyn_redis() {
    check(&["dyn_redis", "-n", "2"]);
}

#[test]
fn hybrid_redis() {
    check(&["hybrid_redis", "-n", "2"]);
}

#[test]
fn collected_outputs_are_plain_json() {
    // Unconnected outputs are written as plain JSON: a tuple is a list, numpy scalars are
    // numbers, a float64 array is a list of numbers.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.py");
    std::fs::write(
        &file,
        r#"
import numpy as np
from dispel4py.base import ProducerPE
from dispel4py.workflow_graph import WorkflowGraph

class Out(ProducerPE):
    def _process(self, inputs):
        self.write("output", ("w", 1))
        self.write("output", {"b": np.float32(0.5), "a": np.arange(3.0)})
        self.write("output", 2**70)

graph = WorkflowGraph()
graph.add(Out())
"#,
    )
    .unwrap();
    let run = ours(&["simple"], &file, &[]);
    run.assert_success("plain outputs");
    let data: Vec<&str> = run.records.iter().map(|(_, _, d)| d.as_str()).collect();
    assert_eq!(
        data,
        [r#"["w",1]"#, r#"{"\u0000d4r:int":"1180591620717411303424"}"#, r#"{"a":[0.0,1.0,2.0],"b":0.5}"#]
    );
}
