use super::*;
use crate::pe::{FnPe, Iterative, Output, PeError, Producer};
use crate::value::Value;

/// A root named `name` with one output `output`.
fn src(g: &mut WorkflowGraph, name: &str) -> PeId {
    g.add(Producer::new(name, |_, out| out.write("output", 1))).unwrap()
}

/// A pass-through PE named `name`: `input` → `output`.
fn pass(g: &mut WorkflowGraph, name: &str) -> PeId {
    g.add(Iterative::new(name, Ok::<Value, PeError>)).unwrap()
}

/// A PE with exactly the ports of `spec`.
fn with_spec(spec: PeSpec) -> impl Pe + Clone {
    FnPe::new(spec, |_: &str, unit: Value, out: &mut Output<'_>| out.write_at(0, unit))
}

fn names(g: &WorkflowGraph, ids: &[PeId]) -> Vec<String> {
    ids.iter().map(|id| g.name_of(*id).unwrap().to_owned()).collect()
}

/// Connections as `from.port -> to.port` strings, in order.
fn wiring(g: &WorkflowGraph) -> Vec<String> {
    g.connections()
        .iter()
        .map(|c| {
            format!(
                "{}.{} -> {}.{}",
                g.name_of(c.from).unwrap(),
                c.from_port,
                g.name_of(c.to).unwrap(),
                c.to_port
            )
        })
        .collect()
}

#[test]
fn unknown_ports_are_named_with_the_pe_and_the_ports_it_has() {
    let mut g = WorkflowGraph::new("g");
    let a = src(&mut g, "a");
    let b = pass(&mut g, "b");
    let err = g.connect(a, "out", b, "input").unwrap_err();
    assert_eq!(
        err,
        GraphError::UnknownPort {
            pe: "a".into(),
            port: "out".into(),
            direction: Direction::Output,
            available: "output".into()
        }
    );
    assert_eq!(err.to_string(), "PE 'a' has no output port 'out' (outputs: output)");
    let err = g.connect(a, "output", b, "in").unwrap_err();
    assert_eq!(err.to_string(), "PE 'b' has no input port 'in' (inputs: input)");
    let err = g.connect(b, "output", a, "input").unwrap_err();
    assert_eq!(err.to_string(), "PE 'a' has no input port 'input' (inputs: none)");
    let m = g.add(with_spec(PeSpec::new("m").input("x").input("y").output("o"))).unwrap();
    let err = g.connect(a, "output", m, "z").unwrap_err();
    assert_eq!(err.to_string(), "PE 'm' has no input port 'z' (inputs: x, y)");
    assert!(g.connections().is_empty(), "a rejected connection leaves no trace");
}

#[test]
fn unknown_pe_ids_are_rejected() {
    let mut g = WorkflowGraph::new("g");
    let a = src(&mut g, "a");
    let mut other = WorkflowGraph::new("other");
    let foreign = pass(&mut other, "b");
    let err = g.connect(a, "output", foreign, "input").unwrap_err();
    assert!(matches!(err, GraphError::ForeignId(id, ref graph) if id == foreign && graph == "g"), "{err:?}");
    assert_eq!(err.to_string(), "PE id #0 does not belong to graph 'g'");
    let err = g.connect(a, "output", PeId::for_tests(7), "input").unwrap_err();
    assert_eq!(err.to_string(), "PE id #7 does not belong to graph 'g'");
    assert!(g.set_numprocesses(foreign, 2).is_err());
    assert!(g.spec(foreign).is_none());
    assert!(g.find("b").is_none());
    assert_eq!(g.find("a"), Some(a));
    assert_eq!(g.by_index(0), Some(a));
    assert_eq!(g.by_index(1), None);
}

#[test]
fn declared_types_must_match() {
    let mut g = WorkflowGraph::new("g");
    let a = g.add(with_spec(PeSpec::new("a").typed_output("output", "Trace"))).unwrap();
    let b = g.add(with_spec(PeSpec::new("b").typed_input("input", "Spectrum").output("output"))).unwrap();
    let c = g.add(with_spec(PeSpec::new("c").typed_input("input", "Trace"))).unwrap();
    let d = pass(&mut g, "d");
    let err = g.connect(a, "output", b, "input").unwrap_err();
    assert_eq!(err.to_string(), "type mismatch: 'a.output' writes Trace but 'b.input' reads Spectrum");
    let GraphError::TypeMismatch(m) = err else { panic!("not a type mismatch") };
    assert_eq!((m.from.as_str(), m.from_port.as_str(), m.from_type.as_str()), ("a", "output", "Trace"));
    assert_eq!((m.to.as_str(), m.to_port.as_str(), m.to_type.as_str()), ("b", "input", "Spectrum"));
    g.connect(a, "output", c, "input").unwrap();
    // An undeclared type on either side is not checked.
    g.connect(a, "output", d, "input").unwrap();
    g.connect(d, "output", b, "input").unwrap();
    assert_eq!(wiring(&g), ["a.output -> c.input", "a.output -> d.input", "d.output -> b.input"]);
}

#[test]
fn duplicate_names_ports_and_connections_are_rejected() {
    let mut g = WorkflowGraph::new("g");
    let a = src(&mut g, "a");
    let b = pass(&mut g, "b");
    let err = g.add(Iterative::new("a", Ok::<Value, PeError>)).unwrap_err();
    assert_eq!(err.to_string(), "a PE named 'a' is already in the graph (PE names must be unique)");
    assert_eq!(g.add(Iterative::new("", Ok::<Value, PeError>)).unwrap_err(), GraphError::EmptyName);
    let err = g.add(with_spec(PeSpec::new("x").input("in").input("in"))).unwrap_err();
    assert_eq!(err.to_string(), "PE 'x' declares input port 'in' twice");
    let err = g.add(with_spec(PeSpec::new("y").output("o").output("p").output("o"))).unwrap_err();
    assert_eq!(err.to_string(), "PE 'y' declares output port 'o' twice");
    // An input and an output may share a name.
    g.add(with_spec(PeSpec::new("z").input("data").output("data"))).unwrap();
    g.connect(a, "output", b, "input").unwrap();
    let err = g.connect(a, "output", b, "input").unwrap_err();
    assert_eq!(err.to_string(), "'a.output' is already connected to 'b.input'");
    assert_eq!(g.connections().len(), 1);
    assert_eq!(g.pes().count(), 3, "rejected PEs are not added");
}

#[test]
fn cycles_are_rejected_naming_the_cycle() {
    let mut g = WorkflowGraph::new("g");
    let a = pass(&mut g, "a");
    let b = pass(&mut g, "b");
    let c = pass(&mut g, "c");
    g.connect(a, "output", b, "input").unwrap();
    g.connect(b, "output", c, "input").unwrap();
    let err = g.connect(c, "output", a, "input").unwrap_err();
    assert_eq!(
        err,
        GraphError::Cycle {
            from: "c".into(),
            to: "a".into(),
            path: vec!["a".into(), "b".into(), "c".into(), "a".into()]
        }
    );
    assert_eq!(err.to_string(), "connecting 'c' to 'a' would make a cycle: a -> b -> c -> a");
    let err = g.connect(c, "output", b, "input").unwrap_err();
    assert_eq!(err.to_string(), "connecting 'c' to 'b' would make a cycle: b -> c -> b");
    // A self-loop is the shortest cycle.
    let err = g.connect(b, "output", b, "input").unwrap_err();
    assert_eq!(err.to_string(), "connecting 'b' to 'b' would make a cycle: b -> b");
    assert_eq!(g.connections().len(), 2);
    g.validate().unwrap();
    // A shortcut that closes no cycle is fine.
    g.connect(a, "output", c, "input").unwrap();
}

#[test]
fn fan_out_fan_in_and_parallel_connections() {
    let mut g = WorkflowGraph::new("g");
    let p = g.add(with_spec(PeSpec::new("p").output("output0").output("output1"))).unwrap();
    let x = pass(&mut g, "x");
    let y = pass(&mut g, "y");
    let m = g.add(with_spec(PeSpec::new("m").input("input0").input("input1").output("output"))).unwrap();
    // Fan-out: one output to two PEs.
    g.connect(p, "output0", x, "input").unwrap();
    g.connect(p, "output0", y, "input").unwrap();
    // Fan-in: two outputs into one input.
    g.connect(x, "output", m, "input0").unwrap();
    g.connect(y, "output", m, "input0").unwrap();
    // Several connections between the same two PEs: two outputs, two inputs.
    g.connect(p, "output1", m, "input1").unwrap();
    g.connect(p, "output0", m, "input1").unwrap();
    assert_eq!(
        wiring(&g),
        [
            "p.output0 -> x.input",
            "p.output0 -> y.input",
            "x.output -> m.input0",
            "y.output -> m.input0",
            "p.output1 -> m.input1",
            "p.output0 -> m.input1",
        ]
    );
    assert_eq!(g.roots(), vec![p]);
    g.validate().unwrap();
}

/// A diamond whose PEs are added in an order unlike the data flow.
fn scrambled() -> WorkflowGraph {
    let mut g = WorkflowGraph::new("scrambled");
    let sink = g.add(with_spec(PeSpec::new("sink").input("input"))).unwrap();
    let right = pass(&mut g, "right");
    let root_b = src(&mut g, "root_b");
    let left = pass(&mut g, "left");
    let root_a = src(&mut g, "root_a");
    g.connect(left, "output", sink, "input").unwrap();
    g.connect(right, "output", sink, "input").unwrap();
    g.connect(root_a, "output", left, "input").unwrap();
    g.connect(root_b, "output", right, "input").unwrap();
    g
}

#[test]
fn ids_and_topological_order_are_deterministic() {
    let g = scrambled();
    let ids: Vec<(usize, String)> = g.pes().map(|p| (p.id.index(), p.name.to_owned())).collect();
    assert_eq!(
        ids,
        [(0, "sink"), (1, "right"), (2, "root_b"), (3, "left"), (4, "root_a")]
            .map(|(i, n)| (i, n.to_owned()))
            .to_vec()
    );
    // Kahn's algorithm, ready PEs taken by lowest id first.
    let order = names(&g, &g.topological_order());
    assert_eq!(order, ["root_b", "right", "root_a", "left", "sink"]);
    assert_eq!(names(&g, &g.roots()), ["root_b", "root_a"]);
    // The same program builds the same graph.
    let again = scrambled();
    assert_eq!(names(&again, &again.topological_order()), order);
    assert_eq!(wiring(&again), wiring(&g));
    // Every connection goes forward in the order.
    let pos: HashMap<PeId, usize> = g.topological_order().iter().enumerate().map(|(i, p)| (*p, i)).collect();
    assert!(g.connections().iter().all(|c| pos[&c.from] < pos[&c.to]));
}

#[test]
fn validate_rejects_an_empty_graph() {
    let g = WorkflowGraph::new("nothing");
    assert_eq!(g.validate().unwrap_err().to_string(), "graph 'nothing' has no PEs");
}

/// A composite `name` of two pass-through PEs `a -> b`.
fn two_stage(name: &str) -> Composite {
    let mut inner = WorkflowGraph::new(name);
    let a = pass(&mut inner, "a");
    let b = pass(&mut inner, "b");
    Composite::pipeline(name, inner, &[a, b]).unwrap()
}

#[test]
fn composites_are_flattened() {
    let mut g = WorkflowGraph::new("g");
    let s = src(&mut g, "s");
    let comp = g.add_composite(two_stage("comp")).unwrap();
    let t = pass(&mut g, "t");
    g.connect(s, "output", comp, "input").unwrap();
    g.connect(comp, "output", t, "input").unwrap();
    let pes: Vec<&str> = g.pes().map(|p| p.name).collect();
    assert_eq!(pes, ["s", "comp/a", "comp/b", "t"], "the composite itself is no PE");
    assert_eq!(g.spec(g.find("comp/a").unwrap()).unwrap().name, "comp/a");
    assert_eq!(
        wiring(&g),
        ["comp/a.output -> comp/b.input", "s.output -> comp/a.input", "comp/b.output -> t.input"]
    );
    assert_eq!(g.name_of(comp), Some("comp"));
    assert!(g.spec(comp).is_none());
    assert_eq!(g.parent(g.find("comp/a").unwrap()), Some(comp));
    assert_eq!(g.parent(s), None);
    assert_eq!(names(&g, &g.topological_order()), ["s", "comp/a", "comp/b", "t"]);
    // The composite's ports are checked like a PE's.
    let err = g.connect(s, "output", comp, "data").unwrap_err();
    assert_eq!(err.to_string(), "PE 'comp' has no input port 'data' (inputs: input)");
    let err = g.connect(comp, "result", t, "input").unwrap_err();
    assert_eq!(err.to_string(), "PE 'comp' has no output port 'result' (outputs: output)");
    // Settings that belong to PEs are refused on the composite.
    let err = g.set_numprocesses(comp, 3).unwrap_err();
    assert_eq!(err, GraphError::Composite("comp".into(), "set this on its inner PEs"));
}

#[test]
fn composite_input_fans_out_and_output_is_aliased() {
    let mut inner = WorkflowGraph::new("inner");
    let a = pass(&mut inner, "a");
    let b = pass(&mut inner, "b");
    let m = inner.add(with_spec(PeSpec::new("m").input("input0").input("input1").output("output"))).unwrap();
    inner.connect(a, "output", m, "input0").unwrap();
    inner.connect(b, "output", m, "input1").unwrap();
    let comp = Composite::new("both", inner)
        .map_input("input", a, "input")
        .map_input("input", b, "input")
        // Mapping the same inner port twice means the same as once.
        .map_input("input", b, "input")
        .map_output("merged", m, "output");
    let mut g = WorkflowGraph::new("g");
    let s = src(&mut g, "s");
    let both = g.add_composite(comp).unwrap();
    g.connect(s, "output", both, "input").unwrap();
    let from_s: Vec<String> = wiring(&g).into_iter().filter(|w| w.starts_with("s.")).collect();
    assert_eq!(from_s, ["s.output -> both/a.input", "s.output -> both/b.input"]);
    // Unconnected, the inner output is reported under the composite's port.
    let m = g.find("both/m").unwrap();
    assert_eq!(g.output_alias(m, "output"), Some(("both", "merged")));
    assert_eq!(g.output_alias(g.find("both/a").unwrap(), "output"), None);
    // set_grouping on a composite input sets every inner input it maps to.
    g.set_grouping(both, "input", Grouping::OneToAll).unwrap();
    for inner in ["both/a", "both/b"] {
        assert_eq!(g.spec(g.find(inner).unwrap()).unwrap().inputs[0].grouping, Grouping::OneToAll);
    }
    assert_eq!(g.spec(m).unwrap().inputs[0].grouping, Grouping::Shuffle);
}

#[test]
fn nested_composites_flatten_to_paths() {
    let mut mid = WorkflowGraph::new("mid");
    let pre = pass(&mut mid, "pre");
    let core = mid.add_composite(two_stage("core")).unwrap();
    mid.connect(pre, "output", core, "input").unwrap();
    let outer =
        Composite::new("outer", mid).map_input("input", pre, "input").map_output("output", core, "output");
    let mut g = WorkflowGraph::new("g");
    let s = src(&mut g, "s");
    let outer = g.add_composite(outer).unwrap();
    g.connect(s, "output", outer, "input").unwrap();
    let pes: Vec<&str> = g.pes().map(|p| p.name).collect();
    assert_eq!(pes, ["s", "outer/pre", "outer/core/a", "outer/core/b"]);
    assert_eq!(
        wiring(&g),
        [
            "outer/core/a.output -> outer/core/b.input",
            "outer/pre.output -> outer/core/a.input",
            "s.output -> outer/pre.input",
        ]
    );
    let core = g.find("outer/core").unwrap();
    assert_eq!(g.parent(g.find("outer/core/a").unwrap()), Some(core));
    assert_eq!(g.parent(core), Some(outer));
    assert_eq!(g.parent(g.find("outer/pre").unwrap()), Some(outer));
    // The outermost composite names the collected output.
    assert_eq!(g.output_alias(g.find("outer/core/b").unwrap(), "output"), Some(("outer", "output")));
}

#[test]
fn a_failed_composite_leaves_the_graph_unchanged() {
    let mut g = WorkflowGraph::new("g");
    src(&mut g, "s");
    // The composite's own name is taken: nothing of it may stay behind.
    pass(&mut g, "comp");
    assert_eq!(g.add_composite(two_stage("comp")).unwrap_err(), GraphError::DuplicateName("comp".into()));
    // An inner port that does not exist.
    let mut inner = WorkflowGraph::new("bad");
    let a = pass(&mut inner, "a");
    let b = pass(&mut inner, "b");
    inner.connect(a, "output", b, "input").unwrap();
    let bad = Composite::new("bad", inner).map_input("input", a, "nope");
    let err = g.add_composite(bad).unwrap_err();
    assert_eq!(err.to_string(), "PE 'bad/a' has no input port 'nope' (inputs: input)");
    let pes: Vec<&str> = g.pes().map(|p| p.name).collect();
    assert_eq!(pes, ["s", "comp"]);
    assert!(g.connections().is_empty());
    assert!(g.find("comp/a").is_none() && g.find("bad/a").is_none() && g.find("bad").is_none());
    // The names are free again.
    g.add_composite(two_stage("bad")).unwrap();
    assert_eq!(g.by_index(2).and_then(|id| g.name_of(id)), Some("bad/a"));
}

#[test]
fn set_numprocesses_and_set_grouping_override_the_spec() {
    let mut g = WorkflowGraph::new("g");
    let s = src(&mut g, "s");
    let w = pass(&mut g, "w");
    g.connect(s, "output", w, "input").unwrap();
    assert_eq!(g.spec(w).unwrap().numprocesses, None);
    g.set_numprocesses(w, 4).unwrap();
    assert_eq!(g.spec(w).unwrap().numprocesses, Some(4));
    g.set_numprocesses(w, 0).unwrap();
    assert_eq!(g.spec(w).unwrap().numprocesses, Some(1), "at least one instance");
    g.set_grouping(w, "input", Grouping::group_by([0])).unwrap();
    assert_eq!(g.spec(w).unwrap().inputs[0].grouping, Grouping::group_by([0]));
    assert!(g.spec(w).unwrap().is_stateful());
    let err = g.set_grouping(w, "inp", Grouping::AllToOne).unwrap_err();
    assert_eq!(err.to_string(), "PE 'w' has no input port 'inp' (inputs: input)");
    // The prototype's own spec is untouched: only the graph's copy changes.
    let fresh = (g.pes().find(|p| p.id == w).unwrap().factory)();
    assert_eq!(fresh.spec().numprocesses, None);
}

fn picture_graph() -> WorkflowGraph {
    let mut g = WorkflowGraph::new("pic");
    let s = src(&mut g, "s");
    let comp = g.add_composite(two_stage("comp")).unwrap();
    let t = g.add(with_spec(PeSpec::new("say \"hi\"").input("input"))).unwrap();
    g.set_numprocesses(t, 3).unwrap();
    g.connect(s, "output", comp, "input").unwrap();
    g.connect(comp, "output", t, "input").unwrap();
    g
}

#[test]
fn dot_output() {
    let expected = r#"digraph "pic" {
  rankdir=LR;
  node [shape=box, style=rounded];
  "s" [label="s"];
  subgraph "cluster_comp" {
    label="comp";
    "comp/a" [label="comp/a"];
    "comp/b" [label="comp/b"];
  }
  "say \"hi\"" [label="say \"hi\" ×3"];
  "comp/a" -> "comp/b" [label="output → input"];
  "s" -> "comp/a" [label="output → input"];
  "comp/b" -> "say \"hi\"" [label="output → input"];
}
"#;
    assert_eq!(picture_graph().to_dot(), expected);
}

#[test]
fn mermaid_output() {
    let expected = r#"flowchart LR
  n0["s"]
  subgraph c3 ["comp"]
    n1["comp/a"]
    n2["comp/b"]
  end
  n4["say #quot;hi#quot;"]
  n1 -->|"output → input"| n2
  n0 -->|"output → input"| n1
  n2 -->|"output → input"| n4
"#;
    assert_eq!(picture_graph().to_mermaid(), expected);
}

#[test]
fn errors_stay_small() {
    // Every `Result<_, GraphError>` carries the error inline: keep it below clippy's
    // `result_large_err` threshold (128 bytes) so that user code returning it stays clean.
    assert!(std::mem::size_of::<GraphError>() <= 128, "{}", std::mem::size_of::<GraphError>());
    assert!(std::mem::size_of::<crate::RunError>() <= 128, "{}", std::mem::size_of::<crate::RunError>());
}
