//! Groupings, fan-out and fan-in keep their promises under every in-process mapping
//! (`simple` and `multi`), and both give the same multiset for the same plan.

use dispel4rs::pe::counter;
use dispel4rs::{FnPe, Grouping, Mapping, Output, PeSpec, Producer, RunResult, Runner, Value, WorkflowGraph};
use std::collections::{BTreeMap, BTreeSet};

const MAPPINGS: [Mapping; 2] = [Mapping::Simple, Mapping::Multi];

fn run(g: &WorkflowGraph, mapping: Mapping, n: usize, iterations: u64) -> RunResult {
    Runner::new(g)
        .mapping(mapping)
        .processes(n)
        .iterations(iterations)
        .run()
        .unwrap_or_else(|e| panic!("{mapping} -n {n}: {e}"))
}

/// Sorted JSON renderings of every collected unit of `pe.port`.
fn collected(r: &RunResult, pe: &str, port: &str) -> Vec<String> {
    let mut v: Vec<String> = r.outputs.get(pe, port).unwrap_or(&[]).iter().map(Value::to_json).collect();
    v.sort();
    v
}

/// A producer writing `[key, call]` with 17 distinct keys.
fn keyed_producer() -> impl dispel4rs::Pe + Clone {
    let mut call = 0i64;
    Producer::new("words", move |_, out: &mut Output<'_>| {
        call += 1;
        out.write("output", (format!("key{}", call % 17), call))
    })
}

/// Writes `[instance index, unit]` for every unit it receives.
fn tagger(name: &str, grouping: Grouping, instances: usize) -> impl dispel4rs::Pe + Clone {
    FnPe::new(
        PeSpec::new(name).input_grouped("input", grouping).output("output").numprocesses(instances),
        |_port: &str, unit: Value, out: &mut Output<'_>| {
            let index = out.instance().index;
            out.write("output", (index, unit))
        },
    )
}

#[test]
fn group_by_sends_every_key_to_exactly_one_instance() {
    let mut g = WorkflowGraph::new("group_by");
    let p = g.add(keyed_producer()).unwrap();
    let t = g.add(tagger("tag", Grouping::group_by([0]), 4)).unwrap();
    g.connect(p, "output", t, "input").unwrap();
    let mut reference: Option<Vec<String>> = None;
    for mapping in MAPPINGS {
        for n in [1, 2, 4, 8] {
            let r = run(&g, mapping, n, 500);
            let units = r.outputs.get("tag", "output").unwrap();
            assert_eq!(units.len(), 500);
            let mut owner: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
            for u in units {
                let instance = u.index(0).and_then(Value::as_int).unwrap();
                let key = u.index(1).and_then(|p| p.index(0)).and_then(Value::as_str).unwrap().to_owned();
                owner.entry(key).or_default().insert(instance);
            }
            assert_eq!(owner.len(), 17);
            for (key, instances) in &owner {
                assert_eq!(instances.len(), 1, "{mapping} -n {n}: key {key} reached instances {instances:?}");
            }
            assert!(
                owner.values().flatten().collect::<BTreeSet<_>>().len() > 1,
                "17 keys should spread over more than one of 4 instances"
            );
            let got = collected(&r, "tag", "output");
            match &reference {
                None => reference = Some(got),
                Some(want) => assert_eq!(&got, want, "{mapping} -n {n} differs"),
            }
        }
    }
}

#[test]
fn one_to_all_reaches_every_instance_and_all_to_one_only_instance_0() {
    let mut g = WorkflowGraph::new("broadcast");
    let p = g.add(keyed_producer()).unwrap();
    let all = g.add(tagger("all", Grouping::OneToAll, 3)).unwrap();
    let one = g.add(tagger("one", Grouping::AllToOne, 4)).unwrap();
    g.connect(p, "output", all, "input").unwrap();
    g.connect(p, "output", one, "input").unwrap();
    for mapping in MAPPINGS {
        for n in [1, 3, 8] {
            let r = run(&g, mapping, n, 200);
            let all_units = r.outputs.get("all", "output").unwrap();
            assert_eq!(all_units.len(), 600, "{mapping} -n {n}");
            let mut per_call: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
            for u in all_units {
                let instance = u.index(0).and_then(Value::as_int).unwrap();
                let call = u.index(1).and_then(|p| p.index(1)).and_then(Value::as_int).unwrap();
                per_call.entry(call).or_default().insert(instance);
            }
            assert_eq!(per_call.len(), 200);
            assert!(per_call.values().all(|s| s.len() == 3), "{mapping} -n {n}: a unit missed an instance");
            let one_units = r.outputs.get("one", "output").unwrap();
            assert_eq!(one_units.len(), 200);
            assert!(one_units.iter().all(|u| u.index(0) == Some(&Value::Int(0))), "{mapping} -n {n}");
        }
    }
}

#[test]
fn fan_out_and_fan_in_with_several_instances_on_each_side() {
    // producer -> a (2 instances) and b (3 instances); a and b -> merge (2 instances, two inputs).
    let mut g = WorkflowGraph::new("fan");
    let p = g.add(counter("numbers")).unwrap();
    let a = g
        .add(FnPe::new(
            PeSpec::new("a").input("input").output("output").numprocesses(2),
            |_p: &str, u: Value, o: &mut Output<'_>| o.write("output", u.try_int()? * 10),
        ))
        .unwrap();
    let b = g
        .add(FnPe::new(
            PeSpec::new("b").input("input").output("output").numprocesses(3),
            |_p: &str, u: Value, o: &mut Output<'_>| o.write("output", u.try_int()? * 100),
        ))
        .unwrap();
    let merge = g
        .add(FnPe::new(
            PeSpec::new("merge").input("left").input("right").output("output").numprocesses(2),
            |port: &str, u: Value, o: &mut Output<'_>| o.write("output", (port, u)),
        ))
        .unwrap();
    g.connect(p, "output", a, "input").unwrap();
    g.connect(p, "output", b, "input").unwrap();
    g.connect(a, "output", merge, "left").unwrap();
    g.connect(b, "output", merge, "right").unwrap();
    // A second connection between the same two PEs: every unit of `a` also goes to `right`.
    g.connect(a, "output", merge, "right").unwrap();
    let mut want: Vec<String> = Vec::new();
    for i in 1..=300i64 {
        want.push(Value::from(("left", i * 10)).to_json());
        want.push(Value::from(("right", i * 10)).to_json());
        want.push(Value::from(("right", i * 100)).to_json());
    }
    want.sort();
    for mapping in MAPPINGS {
        for n in [1, 2, 6] {
            let r = run(&g, mapping, n, 300);
            assert_eq!(collected(&r, "merge", "output"), want, "{mapping} -n {n}");
        }
    }
}

#[test]
fn a_unit_without_its_group_by_field_is_dead_lettered_with_a_clear_error() {
    let mut g = WorkflowGraph::new("missing_field");
    let mut call = 0i64;
    let p = g
        .add(Producer::new("p", move |_, out: &mut Output<'_>| {
            call += 1;
            if call == 3 {
                out.write("output", Value::from("no list"))
            } else {
                out.write("output", ("k", call))
            }
        }))
        .unwrap();
    let t = g.add(tagger("tag", Grouping::group_by([0]), 2)).unwrap();
    g.connect(p, "output", t, "input").unwrap();
    for mapping in MAPPINGS {
        let r = run(&g, mapping, 3, 5);
        assert_eq!(r.outputs.get("tag", "output").map(<[Value]>::len), Some(4), "{mapping}");
        assert_eq!(r.report.dead_letters_total, 1, "{mapping}");
        let letter = &r.report.dead_letters[0];
        assert_eq!(&*letter.pe, "tag");
        assert_eq!(&*letter.port, "input");
        assert!(letter.error.contains("group_by field 0 is missing"), "{}", letter.error);
        assert!(r.report.has_failures());
    }
}

#[test]
fn pe_errors_name_the_pe_and_port() {
    let mut g = WorkflowGraph::new("bad_port");
    g.add(Producer::new("p", |_, out: &mut Output<'_>| out.write("ouput", 1))).unwrap();
    for mapping in MAPPINGS {
        let r = Runner::new(&g).mapping(mapping).configure(|o| o.max_retries = 0).run().unwrap();
        assert_eq!(r.report.dead_letters_total, 1);
        assert_eq!(r.report.dead_letters[0].error, "PE 'p' has no output port 'ouput' (outputs: output)");
    }
}
