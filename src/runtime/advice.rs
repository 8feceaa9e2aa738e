//! Advice on placement, in one line each, naming PEs and slots: before a run, when `-n`
//! leaves several instances of blocking PEs (declared heavy or slow) on one slot
//! ([`plan_warnings`]); after it, when a PE was so busy on a slot it shares that it must
//! have starved the others ([`busy_suggestions`]). The first go to the log as warnings and
//! under `--plan`; the second into the run report (`suggestions`) and the log.

use crate::plan::Plan;
use crate::runtime::report::RunReport;
use std::collections::BTreeMap;
use std::time::Duration;

/// A slot this busy (its instances' busy time over the run's) is saturated.
const SATURATED: f64 = 0.7;
/// Runs shorter than this are too short to judge.
const LEAST_BUSY: Duration = Duration::from_millis(100);

/// Slots hosting several instances of blocking PEs, for a fixed plan.
pub(crate) fn plan_warnings(plan: &Plan) -> Vec<String> {
    if plan.is_pooled() {
        return Vec::new();
    }
    let mut on_slot: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for p in plan.pes().iter().filter(|p| p.spec.blocking && !p.is_root) {
        for g in p.instances.clone() {
            let index = g - p.instances.start;
            on_slot.entry(plan.slot_of(g)).or_default().push(format!("{}[{index}]", p.name));
        }
    }
    let wanted = plan.pes().iter().map(|p| p.count()).sum::<usize>();
    on_slot
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(slot, names)| {
            format!(
                "plan: slot {slot} hosts the blocking PE instances {} (-n {} is too few for each to have a slot \
                 of its own): they share its cores; -n {wanted} gives every instance a slot",
                names.join(", "),
                plan.processes()
            )
        })
        .collect()
}

/// PEs that were busy for more than their share of a saturated slot they share with other
/// instances (fixed plans of several slots; roots and blocking PEs have threads of their
/// own), with what to try.
pub(crate) fn busy_suggestions(plan: &Plan, report: &RunReport) -> Vec<String> {
    let elapsed = report.elapsed.as_secs_f64();
    if plan.is_pooled() || plan.processes() < 2 || elapsed <= 0.0 {
        return Vec::new();
    }
    let sharing = |pe: &str| plan.pe_by_name(pe).is_some_and(|p| !p.is_root && !p.spec.blocking);
    let mut by_slot: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, inst) in report.instances.iter().enumerate() {
        if sharing(&inst.pe) {
            by_slot.entry(inst.slot).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (slot, members) in by_slot.into_iter().filter(|(_, m)| m.len() > 1) {
        let busy: f64 = members.iter().map(|i| report.instances[*i].stats.busy.as_secs_f64()).sum();
        if busy < SATURATED * elapsed {
            continue;
        }
        let fair = elapsed / members.len() as f64;
        for i in &members {
            let inst = &report.instances[*i];
            let own = inst.stats.busy;
            if own < LEAST_BUSY || own.as_secs_f64() <= fair {
                continue;
            }
            out.push(format!(
                "{pe}[{index}] was busy {share:.0}% of the run on slot {slot}, which {others} other instance(s) \
                 share (fair share {fair_pct:.0}%): give it a thread of its own (--blocking {pe}) or more \
                 instances (--numprocesses {pe}=N), or raise -n",
                pe = inst.pe,
                index = inst.index,
                share = 100.0 * own.as_secs_f64() / elapsed,
                others = members.len() - 1,
                fair_pct = 100.0 / members.len() as f64,
            ));
        }
    }
    out
}
