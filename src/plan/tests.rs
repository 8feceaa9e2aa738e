use super::*;
use crate::graph::Composite;
use crate::pe::{FnPe, Iterative, Output, Pe, PeError, Producer};
use crate::value::Value;

fn src(g: &mut WorkflowGraph, name: &str) -> PeId {
    g.add(Producer::new(name, |_, out| out.write("output", 1))).unwrap()
}

fn pass(g: &mut WorkflowGraph, name: &str) -> PeId {
    g.add(Iterative::new(name, Ok::<Value, PeError>)).unwrap()
}

fn with_spec(spec: PeSpec) -> impl Pe + Clone {
    FnPe::new(spec, |_: &str, unit: Value, out: &mut Output<'_>| out.write_at(0, unit))
}

/// `src -> s1 -> s2 -> ... -> s{k}`, all pass-through.
fn chain(k: usize) -> WorkflowGraph {
    let mut g = WorkflowGraph::new("chain");
    let mut prev = src(&mut g, "src");
    for i in 1..=k {
        let next = pass(&mut g, &format!("s{i}"));
        g.connect(prev, "output", next, "input").unwrap();
        prev = next;
    }
    g
}

fn count(plan: &Plan, pe: &str) -> usize {
    plan.pe_by_name(pe).unwrap().count()
}

/// The slots of every instance of `pe`, by instance index.
fn slots(plan: &Plan, pe: &str) -> Vec<usize> {
    plan.pe_by_name(pe).unwrap().instances.clone().map(|g| plan.slot_of(g)).collect()
}

#[test]
fn roots_get_one_fixed_pes_exactly_their_number_others_share() {
    let mut g = WorkflowGraph::new("g");
    let root = g.add(with_spec(PeSpec::new("root").output("output").numprocesses(5))).unwrap();
    let fixed = pass(&mut g, "fixed");
    let a = pass(&mut g, "a");
    let b = pass(&mut g, "b");
    g.set_numprocesses(fixed, 4).unwrap();
    g.connect(root, "output", fixed, "input").unwrap();
    g.connect(fixed, "output", a, "input").unwrap();
    g.connect(a, "output", b, "input").unwrap();
    // (n, instances of a and b): n − 1 root − 4 fixed, shared equally, at least 1.
    for (n, share) in [(1, 1), (5, 1), (6, 1), (7, 1), (9, 2), (10, 2), (11, 3), (100, 47)] {
        let plan = Plan::new(&g, n).unwrap();
        assert_eq!(count(&plan, "root"), 1, "-n {n}: a root gets one instance whatever it asks");
        assert_eq!(count(&plan, "fixed"), 4, "-n {n}");
        assert_eq!((count(&plan, "a"), count(&plan, "b")), (share, share), "-n {n}");
        assert_eq!(plan.processes(), n);
        assert!(plan.used_slots() <= n, "-n {n}");
    }
}

#[test]
fn instances_are_numbered_in_topological_order() {
    let plan = Plan::new(&chain(3), 7).unwrap();
    let names: Vec<&str> = plan.pes().iter().map(|p| &*p.name).collect();
    assert_eq!(names, ["src", "s1", "s2", "s3"]);
    let ranges: Vec<Range<usize>> = plan.pes().iter().map(|p| p.instances.clone()).collect();
    assert_eq!(ranges, [0..1, 1..3, 3..5, 5..7]);
    let per_instance: Vec<(usize, usize)> = plan.instances().iter().map(|i| (i.pe, i.index)).collect();
    assert_eq!(per_instance, [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]);
    // One unit per instance, as many units as slots: instance i on slot i.
    assert_eq!(plan.instances().iter().map(|i| i.slot).collect::<Vec<_>>(), (0..7).collect::<Vec<_>>());
    assert_eq!(plan.roots().collect::<Vec<_>>(), [0]);
    assert_eq!(plan.pe_index("s2"), Some(2));
    assert!(plan.pe_by_name("nope").is_none());
    assert_eq!(plan.graph_name(), "chain");
}

#[test]
fn sharing_pes_are_partitioned_when_slots_run_short() {
    let g = chain(4);
    // -n 3: 2 slots left for 4 sharing PEs → partitions {s1, s2} and {s3, s4}.
    let plan = Plan::new(&g, 3).unwrap();
    for pe in ["s1", "s2", "s3", "s4"] {
        assert_eq!(count(&plan, pe), 1);
    }
    assert_eq!(slots(&plan, "src"), [0]);
    assert_eq!((slots(&plan, "s1"), slots(&plan, "s2")), (vec![1], vec![1]));
    assert_eq!((slots(&plan, "s3"), slots(&plan, "s4")), (vec![2], vec![2]));
    assert_eq!(plan.used_slots(), 3);
    // -n 2: one slot left → one partition of all four.
    let plan = Plan::new(&g, 2).unwrap();
    assert_eq!(slots(&plan, "src"), [0]);
    for pe in ["s1", "s2", "s3", "s4"] {
        assert_eq!(slots(&plan, pe), [1], "{pe}");
    }
    assert_eq!(plan.instances_on(1).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // -n 1: everything on the one slot.
    let plan = Plan::new(&g, 1).unwrap();
    assert!(plan.instances().iter().all(|i| i.slot == 0));
    assert_eq!(plan.used_slots(), 1);
    assert_eq!(plan.instances_on(0).count(), 5);
    // -n 5: enough slots, no partitions.
    let plan = Plan::new(&g, 5).unwrap();
    let all: Vec<usize> = ["src", "s1", "s2", "s3", "s4"].iter().flat_map(|p| slots(&plan, p)).collect();
    assert_eq!(all, [0, 1, 2, 3, 4]);
}

#[test]
fn more_units_than_slots_are_placed_in_contiguous_chunks() {
    let mut g = WorkflowGraph::new("g");
    let s = src(&mut g, "src");
    let f = pass(&mut g, "f");
    let h = pass(&mut g, "h");
    g.set_numprocesses(f, 4).unwrap();
    g.set_numprocesses(h, 3).unwrap();
    g.connect(s, "output", f, "input").unwrap();
    g.connect(f, "output", h, "input").unwrap();
    // 8 units on 2 slots: unit u on slot u·2/8.
    let plan = Plan::new(&g, 2).unwrap();
    assert_eq!(slots(&plan, "src"), [0]);
    assert_eq!(slots(&plan, "f"), [0, 0, 0, 1]);
    assert_eq!(slots(&plan, "h"), [1, 1, 1]);
    // 8 units on 3 slots: u·3/8 = 0,0,0,1,1,1,2,2.
    let plan = Plan::new(&g, 3).unwrap();
    let all: Vec<usize> = ["src", "f", "h"].iter().flat_map(|p| slots(&plan, p)).collect();
    assert_eq!(all, [0, 0, 0, 1, 1, 1, 2, 2]);
    assert_eq!(plan.used_slots(), 3);
    // Slots never decrease along the instance order (neighbours stay together).
    for n in 1..=9 {
        let plan = Plan::new(&g, n).unwrap();
        let s: Vec<usize> = plan.instances().iter().map(|i| i.slot).collect();
        assert!(s.windows(2).all(|w| w[0] <= w[1]), "-n {n}: {s:?}");
        assert!(s.iter().all(|x| *x < n));
    }
}

#[test]
fn routes_follow_connections_and_carry_the_destination_grouping() {
    let mut g = WorkflowGraph::new("g");
    let p = g.add(with_spec(PeSpec::new("p").output("output0").output("output1"))).unwrap();
    let words = g.add(with_spec(PeSpec::new("words").input("input").output("output"))).unwrap();
    let count = g
        .add(with_spec(PeSpec::new("count").input_grouped("input", Grouping::group_by([0])).output("output")))
        .unwrap();
    let all = g.add(with_spec(PeSpec::new("all").input("in0").input("in1"))).unwrap();
    g.set_numprocesses(count, 3).unwrap();
    g.set_numprocesses(all, 2).unwrap();
    g.set_grouping(all, "in1", Grouping::OneToAll).unwrap();
    g.connect(p, "output0", words, "input").unwrap();
    g.connect(words, "output", count, "input").unwrap();
    g.connect(p, "output0", all, "in1").unwrap();
    g.connect(p, "output1", all, "in0").unwrap();
    let plan = Plan::new(&g, 4).unwrap();
    let at = |name: &str| plan.pe_index(name).unwrap();
    let pp = plan.pe_by_name("p").unwrap();
    assert!(pp.is_root);
    assert_eq!(&*pp.root_port(), crate::pe::NO_INPUT);
    // output0 fans out to words and all.in1; output1 goes to all.in0.
    let r: Vec<(usize, usize, Grouping, Range<usize>)> =
        pp.routes[0].iter().map(|r| (r.to, r.port, r.grouping.clone(), r.instances.clone())).collect();
    let words_range = plan.pe_by_name("words").unwrap().instances.clone();
    let all_range = plan.pe_by_name("all").unwrap().instances.clone();
    assert_eq!(
        r,
        [
            (at("words"), 0, Grouping::Shuffle, words_range),
            (at("all"), 1, Grouping::OneToAll, all_range.clone())
        ]
    );
    assert_eq!(pp.routes[1].len(), 1);
    assert_eq!((pp.routes[1][0].to, pp.routes[1][0].port), (at("all"), 0));
    assert_eq!(pp.routes[1][0].grouping, Grouping::Shuffle);
    assert_eq!(pp.routes[1][0].instances, all_range);
    let w = plan.pe_by_name("words").unwrap();
    assert_eq!(w.routes[0][0].grouping, Grouping::group_by([0]));
    assert_eq!(w.routes[0][0].instances.len(), 3);
    assert_eq!(&*w.root_port(), "input");
    assert!(!w.is_root);
    // Nothing is collected from routed outputs.
    assert_eq!(pp.collect, [None, None]);
    assert!(plan.describe().contains("  p.output0 -> all.in1 [one_to_all]\n"), "{}", plan.describe());
    assert!(plan.describe().contains("  words.output -> count.input [group_by[0]]\n"));
}

#[test]
fn upstream_counts_instances_of_distinct_feeding_pes() {
    let mut g = WorkflowGraph::new("g");
    let s = g.add(with_spec(PeSpec::new("s").output("a").output("b"))).unwrap();
    let x = pass(&mut g, "x");
    let y = pass(&mut g, "y");
    let m = g.add(with_spec(PeSpec::new("m").input("in0").input("in1").input("in2"))).unwrap();
    g.set_numprocesses(x, 2).unwrap();
    g.set_numprocesses(y, 3).unwrap();
    g.connect(s, "a", x, "input").unwrap();
    g.connect(s, "b", y, "input").unwrap();
    g.connect(x, "output", m, "in0").unwrap();
    g.connect(y, "output", m, "in1").unwrap();
    // Two connections from y: its instances still end the stream once each.
    g.connect(y, "output", m, "in2").unwrap();
    let plan = Plan::new(&g, 1).unwrap();
    let mp = plan.pe_by_name("m").unwrap();
    assert_eq!(mp.upstream, 5);
    assert_eq!(mp.upstream_pes, [plan.pe_index("x").unwrap(), plan.pe_index("y").unwrap()]);
    assert_eq!(plan.pe_by_name("x").unwrap().upstream, 1);
    assert_eq!(plan.pe_by_name("s").unwrap().upstream, 0);
    assert!(plan.pe_by_name("s").unwrap().upstream_pes.is_empty());
}

#[test]
fn collected_outputs_are_named_after_the_pe_or_its_composite() {
    let mut inner = WorkflowGraph::new("inner");
    let a = pass(&mut inner, "a");
    let b = pass(&mut inner, "b");
    let comp = Composite::pipeline("comp", inner, &[a, b]).unwrap();
    let mut g = WorkflowGraph::new("g");
    let s = src(&mut g, "s");
    let c = g.add_composite(comp).unwrap();
    let side = g.add(with_spec(PeSpec::new("side").input("input").output("kept").output("used"))).unwrap();
    let t = pass(&mut g, "t");
    g.connect(s, "output", c, "input").unwrap();
    g.connect(s, "output", side, "input").unwrap();
    g.connect(side, "used", t, "input").unwrap();
    let plan = Plan::new(&g, 2).unwrap();
    let name = |pe: &str, port: usize| {
        plan.pe_by_name(pe).unwrap().collect[port].as_ref().map(|c| (c.pe.to_string(), c.port.to_string()))
    };
    assert_eq!(name("comp/b", 0), Some(("comp".into(), "output".into())));
    assert_eq!(name("comp/a", 0), None);
    assert_eq!(name("side", 0), Some(("side".into(), "kept".into())));
    assert_eq!(name("side", 1), None);
    assert_eq!(name("t", 0), Some(("t".into(), "output".into())));
    assert!(plan.describe().contains("comp/b.output -> (collected as comp.output)"), "{}", plan.describe());
}

/// The graph of the fingerprint tests, with knobs to change one thing at a time.
fn fingerprint_graph(name: &str, grouping: Grouping, workers: usize, extra_edge: bool) -> WorkflowGraph {
    let mut g = WorkflowGraph::new("fp");
    let s = src(&mut g, "src");
    let w = pass(&mut g, name);
    let t = pass(&mut g, "t");
    g.set_numprocesses(w, workers).unwrap();
    g.set_grouping(t, "input", grouping).unwrap();
    g.connect(s, "output", w, "input").unwrap();
    g.connect(w, "output", t, "input").unwrap();
    if extra_edge {
        g.connect(s, "output", t, "input").unwrap();
    }
    g
}

#[test]
fn fingerprint_is_stable_and_sensitive() {
    let base = || fingerprint_graph("w", Grouping::Shuffle, 2, false);
    let fp = |g: &WorkflowGraph, n: usize| Plan::new(g, n).unwrap().fingerprint();
    // Stable: two builds of the same program (different graph ids) agree; so do two plans.
    assert_eq!(fp(&base(), 4), fp(&base(), 4));
    let plan = Plan::new(&base(), 4).unwrap();
    assert_eq!(plan.fingerprint(), plan.clone().fingerprint());
    // Sensitive to -n, names, groupings, instance counts and wiring.
    let reference = fp(&base(), 4);
    let variants = [
        fp(&base(), 5),
        fp(&fingerprint_graph("w2", Grouping::Shuffle, 2, false), 4),
        fp(&fingerprint_graph("w", Grouping::AllToOne, 2, false), 4),
        fp(&fingerprint_graph("w", Grouping::group_by([0]), 2, false), 4),
        fp(&fingerprint_graph("w", Grouping::group_by([1]), 2, false), 4),
        fp(&fingerprint_graph("w", Grouping::Shuffle, 3, false), 4),
        fp(&fingerprint_graph("w", Grouping::Shuffle, 2, true), 4),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_ne!(*v, reference, "variant {i} has the reference fingerprint");
    }
    let mut all = variants.to_vec();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), variants.len(), "variants collide");
}

#[test]
fn zero_processes_and_invalid_graphs_are_errors() {
    let Err(err) = Plan::new(&chain(2), 0) else { panic!("-n 0 gave a plan") };
    assert_eq!(err, PlanError::NoProcesses);
    assert_eq!(err.to_string(), "the number of processes must be at least 1 (got -n 0)");
    let Err(err) = Plan::new(&WorkflowGraph::new("empty"), 3) else { panic!("an empty graph gave a plan") };
    assert_eq!(err, PlanError::Graph(GraphError::Empty("empty".into())));
    assert_eq!(err.to_string(), "graph 'empty' has no PEs");
}

#[test]
fn describe_lists_instances_slots_and_routes() {
    let plan = Plan::new(&chain(2), 2).unwrap();
    let expected = "plan for 'chain' on 2 slot(s):\n\
                    \x20 src                      1 instance(s) (root) on slot(s) 0\n\
                    \x20 s1                       1 instance(s) on slot(s) 1\n\
                    \x20 s2                       1 instance(s) on slot(s) 1\n\
                    \x20 src.output -> s1.input [shuffle]\n\
                    \x20 s1.output -> s2.input [shuffle]\n\
                    \x20 s2.output -> (collected as s2.output)\n";
    assert_eq!(plan.describe(), expected);
}
