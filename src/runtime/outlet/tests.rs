//! Unit tests of [`Outlet`]: fan-out to every connection, each spread by the destination
//! input's grouping, and collection of unconnected outputs — the routing every mapping
//! shares, driven with a recording [`Deliver`].

use super::*;
use crate::graph::WorkflowGraph;
use crate::pe::{counter, FnPe, Output, PeSpec};
use crate::Grouping;
use std::collections::BTreeMap;

/// What an outlet delivered: per (global instance, port) the units, and what it collected.
#[derive(Default)]
struct Deliveries {
    to: BTreeMap<(usize, usize), Vec<Value>>,
    batches: usize,
    collected: Vec<(CollectName, Vec<Value>)>,
}

impl Deliver for Deliveries {
    fn deliver(&mut self, to: usize, port: usize, units: &mut Vec<Value>) -> Result<(), Abort> {
        assert!(!units.is_empty(), "an outlet never delivers an empty batch");
        self.batches += 1;
        self.to.entry((to, port)).or_default().append(units);
        Ok(())
    }

    fn collect(&mut self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        self.collected.push((name.clone(), std::mem::take(units)));
        Ok(())
    }
}

fn pass(name: &str, grouping: Grouping, n: usize) -> impl crate::pe::Pe + Clone {
    FnPe::new(
        PeSpec::new(name).input_grouped("input", grouping).output("output").numprocesses(n),
        |_: &str, v: Value, out: &mut Output<'_>| out.write_at(0, v),
    )
}

/// `src` feeding `a` (grouping `ga`, `na` instances) and `b` (grouping `gb`, `nb` instances);
/// `b`'s output is unconnected.
fn fan_out(ga: Grouping, na: usize, gb: Grouping, nb: usize) -> Plan {
    let mut g = WorkflowGraph::new("fan");
    let src = g.add(counter("src")).unwrap();
    let a = g.add(pass("a", ga, na)).unwrap();
    let b = g.add(pass("b", gb, nb)).unwrap();
    g.connect(src, "output", a, "input").unwrap();
    g.connect(src, "output", b, "input").unwrap();
    Plan::new(&g, 1).unwrap()
}

fn dead() -> Arc<DeadLetters> {
    Arc::new(DeadLetters::new(10, None).unwrap())
}

fn units(n: i64) -> Vec<Value> {
    (0..n).map(Value::Int).collect()
}

/// The units delivered to each instance of `pe`, by instance index.
fn per_instance(plan: &Plan, d: &Deliveries, pe: &str) -> Vec<Vec<Value>> {
    let p = plan.pe_by_name(pe).unwrap();
    p.instances.clone().map(|g| d.to.get(&(g, 0)).cloned().unwrap_or_default()).collect()
}

#[test]
fn every_connection_of_a_port_gets_every_unit() {
    let plan = fan_out(Grouping::Shuffle, 1, Grouping::Shuffle, 1);
    let src = plan.pe_index("src").unwrap();
    let mut outlet = Outlet::new(&plan, src, 0, dead());
    let mut d = Deliveries::default();
    let mut batch = units(10);
    outlet.dispatch(0, &mut batch, &mut d).unwrap();
    assert!(batch.is_empty());
    assert_eq!(per_instance(&plan, &d, "a"), vec![units(10)]);
    assert_eq!(per_instance(&plan, &d, "b"), vec![units(10)]);
    assert_eq!(d.batches, 2, "a batch bound for one instance travels whole");
}

#[test]
fn shuffle_deals_round_robin_starting_at_the_senders_index() {
    let plan = fan_out(Grouping::Shuffle, 3, Grouping::Shuffle, 1);
    let src = plan.pe_index("src").unwrap();
    let mut outlet = Outlet::new(&plan, src, 0, dead());
    let mut d = Deliveries::default();
    outlet.dispatch(0, &mut units(7), &mut d).unwrap();
    let a = per_instance(&plan, &d, "a");
    assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 2, 2]);
    let mut all: Vec<Value> = a.into_iter().flatten().collect();
    all.sort_by_key(|v| v.as_int());
    assert_eq!(all, units(7));
    // The next batch carries on where the deal stopped.
    let mut d2 = Deliveries::default();
    outlet.dispatch(0, &mut units(2), &mut d2).unwrap();
    assert_eq!(per_instance(&plan, &d2, "a").iter().map(Vec::len).collect::<Vec<_>>(), vec![0, 1, 1]);
}

#[test]
fn group_by_keeps_a_key_on_one_instance_and_dead_letters_a_unit_without_the_field() {
    let plan = fan_out(Grouping::group_by([0]), 4, Grouping::Shuffle, 1);
    let src = plan.pe_index("src").unwrap();
    let dead = dead();
    let mut outlet = Outlet::new(&plan, src, 0, dead.clone());
    let words = ["fox", "dog", "fox", "cat", "dog", "fox"];
    let mut batch: Vec<Value> = words.iter().map(|w| Value::from((*w, 1))).collect();
    batch.push(Value::Int(3));
    let mut d = Deliveries::default();
    outlet.dispatch(0, &mut batch, &mut d).unwrap();
    let a = per_instance(&plan, &d, "a");
    for w in ["fox", "dog", "cat"] {
        let holders: Vec<usize> =
            (0..4).filter(|i| a[*i].iter().any(|v| v.index(0).and_then(Value::as_str) == Some(w))).collect();
        assert_eq!(holders.len(), 1, "{w} is on exactly one instance: {a:?}");
    }
    assert_eq!(a.iter().map(Vec::len).sum::<usize>(), 6);
    assert_eq!(dead.total(), 1, "the unit without field 0 cannot be routed");
    let letter = &dead.kept()[0];
    assert_eq!((&*letter.pe, &*letter.port), ("a", "input"), "the dead letter names the destination");
    assert!(letter.error.contains("could not be routed"), "{}", letter.error);
    // The other connection, a shuffle, still got every unit.
    assert_eq!(per_instance(&plan, &d, "b")[0].len(), 7);
}

#[test]
fn one_to_all_copies_to_every_instance_and_all_to_one_sends_to_instance_zero() {
    let plan = fan_out(Grouping::OneToAll, 3, Grouping::AllToOne, 2);
    let src = plan.pe_index("src").unwrap();
    let mut outlet = Outlet::new(&plan, src, 0, dead());
    let mut d = Deliveries::default();
    outlet.dispatch(0, &mut units(5), &mut d).unwrap();
    assert_eq!(per_instance(&plan, &d, "a"), vec![units(5), units(5), units(5)]);
    assert_eq!(per_instance(&plan, &d, "b"), vec![units(5), Vec::new()]);
}

#[test]
fn an_unconnected_port_is_collected_under_its_name() {
    let plan = fan_out(Grouping::Shuffle, 1, Grouping::Shuffle, 1);
    let b = plan.pe_index("b").unwrap();
    let mut outlet = Outlet::new(&plan, b, 0, dead());
    let mut d = Deliveries::default();
    outlet.dispatch(0, &mut units(3), &mut d).unwrap();
    assert!(d.to.is_empty());
    assert_eq!(d.collected.len(), 1);
    assert_eq!((&*d.collected[0].0.pe, &*d.collected[0].0.port), ("b", "output"));
    assert_eq!(d.collected[0].1, units(3));
}
