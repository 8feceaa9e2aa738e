//! End of stream, the one rule every mapping keeps (docs/SEMANTICS.md, promise 2), in its two
//! forms:
//!
//! * **per instance** ([`InstanceEnd`], the fixed mappings): an instance ends once every
//!   upstream instance has told it so; then it runs `postprocess`, sends what that wrote, and
//!   tells each of its downstream instances;
//! * **per PE** ([`PeTermination`], the dynamic mappings, where any worker may run any unit of
//!   a stateless PE): work in flight is counted per PE. A PE is *drained* when every upstream
//!   PE has ended and none of its tasks is queued or running; then every worker that holds
//!   an instance of it runs `postprocess` (whose writes are counted as new tasks of the
//!   downstream PEs before the PE ends), and only then has the PE *ended*. A worker that
//!   leaves (retired, or lost with its process) is no longer waited for: what its instance
//!   wrote on the way out was counted before it was reported gone. The run is over when
//!   every PE has ended. There is no time-out anywhere: the decision is made the moment the
//!   last count reaches zero.
//!
//! Both are pure bookkeeping (no threads, no clocks), unit-tested here.

use crate::plan::Plan;
use std::collections::BTreeSet;

/// The end of stream of one instance of a fixed mapping.
#[derive(Clone, Debug)]
pub(crate) struct InstanceEnd {
    upstream_left: usize,
    targets: Vec<usize>,
}

impl InstanceEnd {
    /// Instance `global` of `plan`: how many upstream instances it waits for, and which
    /// instances it tells when it ends.
    pub(crate) fn new(plan: &Plan, global: usize) -> Self {
        let pe = &plan.pes()[plan.instances()[global].pe];
        let mut targets: Vec<usize> = pe.routes.iter().flatten().flat_map(|r| r.instances.clone()).collect();
        targets.sort_unstable();
        targets.dedup();
        InstanceEnd { upstream_left: pe.upstream, targets }
    }

    /// One upstream instance has ended.
    pub(crate) fn upstream_ended(&mut self) {
        self.upstream_left = self.upstream_left.saturating_sub(1);
    }

    /// True once every upstream instance has ended: `postprocess` may run.
    pub(crate) fn is_due(&self) -> bool {
        self.upstream_left == 0
    }

    /// The downstream instances to tell, by global id (each once).
    pub(crate) fn targets(&self) -> &[usize] {
        &self.targets
    }
}

/// What the owner of a [`PeTermination`] must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeEvent {
    /// PE `pe` is drained: these workers hold an instance of it and must run its
    /// `postprocess`, then report [`PeTermination::postprocessed`] (or leave:
    /// [`PeTermination::worker_left`]).
    Postprocess {
        /// Plan index of the PE.
        pe: usize,
        /// The workers to ask.
        workers: Vec<usize>,
    },
    /// PE `pe` is drained and no worker ever made an instance of it (no unit reached it):
    /// one worker must make one and run its `postprocess`, so that what a PE writes at the
    /// end is written as under every other mapping.
    PostprocessAnywhere {
        /// Plan index of the PE.
        pe: usize,
    },
    /// Every PE has ended: the run is over.
    RunEnded,
}

/// Stands for "whichever worker runs it" in a [`PeEvent::PostprocessAnywhere`].
const ANYWHERE: usize = usize::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Tasks may still come.
    Running,
    /// Drained; waiting for these workers' `postprocess` ([`ANYWHERE`]: any one worker's).
    Postprocessing(BTreeSet<usize>),
    Ended,
}

#[derive(Clone, Debug)]
struct PeState {
    upstream: Vec<usize>,
    downstream: Vec<usize>,
    in_flight: u64,
    holders: BTreeSet<usize>,
    phase: Phase,
    is_root: bool,
}

/// End of stream for pooled PEs, by counting work in flight. See the
/// [module documentation](self).
///
/// ```
/// use dispel4rs::runtime::termination::{PeEvent, PeTermination};
/// // root 0 → PE 1
/// let mut t = PeTermination::new(&[vec![], vec![0]], &[true, false]);
/// t.pushed(1, 2);                      // the root wrote two tasks for PE 1
/// t.instance_created(1, 7);            // worker 7 made an instance of PE 1
/// assert!(t.root_ended(0).is_empty()); // PE 1 still has work in flight
/// t.done(1);
/// assert_eq!(t.done(1), vec![PeEvent::Postprocess { pe: 1, workers: vec![7] }]);
/// assert_eq!(t.postprocessed(1, 7), vec![PeEvent::RunEnded]);
/// ```
#[derive(Clone, Debug)]
pub struct PeTermination {
    pes: Vec<PeState>,
    ended: usize,
}

impl PeTermination {
    /// PEs `0..n` in topological order; `upstream[p]` lists the PEs that feed PE `p`;
    /// `roots[p]` says whether PE `p` is a root (it counts as one task in flight until
    /// [`Self::root_ended`]).
    pub fn new(upstream: &[Vec<usize>], roots: &[bool]) -> Self {
        let n = upstream.len();
        let mut pes: Vec<PeState> = (0..n)
            .map(|p| PeState {
                upstream: upstream[p].clone(),
                downstream: Vec::new(),
                in_flight: u64::from(roots.get(p).copied().unwrap_or(false)),
                holders: BTreeSet::new(),
                phase: Phase::Running,
                is_root: roots.get(p).copied().unwrap_or(false),
            })
            .collect();
        for (p, ups) in upstream.iter().enumerate() {
            for &u in ups {
                if let Some(up) = pes.get_mut(u) {
                    if !up.downstream.contains(&p) {
                        up.downstream.push(p);
                    }
                }
            }
        }
        PeTermination { pes, ended: 0 }
    }

    /// The termination state of a plan's PEs.
    pub fn of_plan(plan: &Plan) -> Self {
        let upstream: Vec<Vec<usize>> = plan.pes().iter().map(|p| p.upstream_pes.clone()).collect();
        let roots: Vec<bool> = plan.pes().iter().map(|p| p.is_root).collect();
        PeTermination::new(&upstream, &roots)
    }

    /// `tasks` new tasks for PE `pe` were queued. Call *before* the task that wrote them is
    /// reported [`Self::done`], so that the count of a PE never drops to zero while its
    /// upstream still holds work for it.
    pub fn pushed(&mut self, pe: usize, tasks: u64) {
        if let Some(s) = self.pes.get_mut(pe) {
            s.in_flight += tasks;
        }
    }

    /// Worker `worker` has made an instance of PE `pe` (it will be asked to run its
    /// `postprocess`).
    pub fn instance_created(&mut self, pe: usize, worker: usize) {
        if let Some(s) = self.pes.get_mut(pe) {
            s.holders.insert(worker);
        }
    }

    /// A task of PE `pe` has been processed and everything it wrote has been queued.
    pub fn done(&mut self, pe: usize) -> Vec<PeEvent> {
        let mut events = Vec::new();
        if let Some(s) = self.pes.get_mut(pe) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.check(pe, &mut events);
        events
    }

    /// Root PE `pe` has made all its calls, run its `postprocess` and queued what it wrote.
    pub fn root_ended(&mut self, pe: usize) -> Vec<PeEvent> {
        let mut events = Vec::new();
        let Some(s) = self.pes.get_mut(pe) else { return events };
        if s.phase != Phase::Running {
            return events;
        }
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            self.end(pe, &mut events);
        }
        events
    }

    /// Worker `worker` ran the `postprocess` asked for PE `pe` (or any worker did, for a
    /// [`PeEvent::PostprocessAnywhere`]), and what it wrote has been counted.
    pub fn postprocessed(&mut self, pe: usize, worker: usize) -> Vec<PeEvent> {
        let mut events = Vec::new();
        let Some(s) = self.pes.get_mut(pe) else { return events };
        if let Phase::Postprocessing(waiting) = &mut s.phase {
            if !waiting.remove(&worker) {
                waiting.remove(&ANYWHERE);
            }
            if waiting.is_empty() {
                self.end(pe, &mut events);
            }
        }
        events
    }

    /// Worker `worker` leaves: it retired (after running the `postprocess` of its instance of
    /// PE `pe` and counting what that wrote), or it was lost with its state. While the PE still
    /// runs it is simply no longer a holder; if the PE is drained and its `postprocess` was
    /// asked of this worker, leaving answers the request.
    pub fn worker_left(&mut self, pe: usize, worker: usize) -> Vec<PeEvent> {
        let Some(s) = self.pes.get_mut(pe) else { return Vec::new() };
        s.holders.remove(&worker);
        match &s.phase {
            Phase::Postprocessing(waiting) if waiting.contains(&worker) => self.postprocessed(pe, worker),
            _ => Vec::new(),
        }
    }

    /// The PEs worker `worker` holds an instance of, or owes a `postprocess` (for a worker
    /// that is lost).
    pub fn held_by(&self, worker: usize) -> Vec<usize> {
        (0..self.pes.len())
            .filter(|p| {
                let s = &self.pes[*p];
                match &s.phase {
                    Phase::Running => s.holders.contains(&worker),
                    Phase::Postprocessing(waiting) => waiting.contains(&worker),
                    Phase::Ended => false,
                }
            })
            .collect()
    }

    /// True once PE `pe` has ended.
    pub fn has_ended(&self, pe: usize) -> bool {
        self.pes.get(pe).is_none_or(|s| s.phase == Phase::Ended)
    }

    /// True once every PE has ended.
    pub fn run_ended(&self) -> bool {
        self.ended == self.pes.len()
    }

    /// Tasks of PE `pe` queued or running.
    pub fn in_flight(&self, pe: usize) -> u64 {
        self.pes.get(pe).map_or(0, |s| s.in_flight)
    }

    fn end(&mut self, pe: usize, events: &mut Vec<PeEvent>) {
        self.pes[pe].phase = Phase::Ended;
        self.ended += 1;
        if self.run_ended() {
            events.push(PeEvent::RunEnded);
            return;
        }
        for d in self.pes[pe].downstream.clone() {
            self.check(d, events);
        }
    }

    /// Moves PE `pe` on if it is drained.
    fn check(&mut self, pe: usize, events: &mut Vec<PeEvent>) {
        let s = &self.pes[pe];
        if s.phase != Phase::Running || s.in_flight > 0 || s.is_root {
            return;
        }
        if !s.upstream.iter().all(|u| self.pes.get(*u).is_none_or(|u| u.phase == Phase::Ended)) {
            return;
        }
        let workers: Vec<usize> = s.holders.iter().copied().collect();
        if workers.is_empty() {
            self.pes[pe].phase = Phase::Postprocessing(BTreeSet::from([ANYWHERE]));
            events.push(PeEvent::PostprocessAnywhere { pe });
        } else {
            self.pes[pe].phase = Phase::Postprocessing(workers.iter().copied().collect());
            events.push(PeEvent::Postprocess { pe, workers });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// root 0 → 1 → 2, and 0 → 3 (fan-out).
    fn graph() -> PeTermination {
        PeTermination::new(&[vec![], vec![0], vec![1], vec![0]], &[true, false, false, false])
    }

    #[test]
    fn a_pe_ends_only_after_its_upstream_and_its_own_work() {
        let mut t = graph();
        t.pushed(1, 1);
        t.pushed(3, 1);
        t.instance_created(1, 0);
        assert!(t.root_ended(0).is_empty(), "PEs 1 and 3 still have a task each");
        t.instance_created(3, 1);
        assert_eq!(t.done(3), vec![PeEvent::Postprocess { pe: 3, workers: vec![1] }]);
        // PE 1's task writes a task for PE 2 before it is reported done.
        t.pushed(2, 1);
        assert_eq!(t.done(1), vec![PeEvent::Postprocess { pe: 1, workers: vec![0] }]);
        // PE 2 cannot end before PE 1 has run its postprocess, even with nothing in flight.
        t.instance_created(2, 0);
        assert!(t.done(2).is_empty());
        assert!(!t.has_ended(2));
        assert!(t.postprocessed(3, 1).is_empty());
        assert_eq!(t.postprocessed(1, 0), vec![PeEvent::Postprocess { pe: 2, workers: vec![0] }]);
        assert_eq!(t.postprocessed(2, 0), vec![PeEvent::RunEnded]);
        assert!(t.run_ended());
    }

    #[test]
    fn what_postprocess_writes_keeps_the_downstream_pe_open() {
        let mut t = graph();
        t.pushed(1, 1);
        t.instance_created(1, 4);
        t.instance_created(1, 5);
        assert!(t.root_ended(0).contains(&PeEvent::PostprocessAnywhere { pe: 3 }));
        assert_eq!(t.done(1), vec![PeEvent::Postprocess { pe: 1, workers: vec![4, 5] }]);
        // Worker 4's postprocess writes one task for PE 2.
        t.pushed(2, 1);
        assert!(t.postprocessed(1, 4).is_empty(), "worker 5 has not reported yet");
        assert!(t.postprocessed(1, 5).is_empty(), "PE 2 still has the task postprocess wrote");
        t.instance_created(2, 5);
        assert_eq!(t.done(2), vec![PeEvent::Postprocess { pe: 2, workers: vec![5] }]);
        assert!(t.postprocessed(3, 9).is_empty(), "any worker answers a postprocess-anywhere");
        assert_eq!(t.postprocessed(2, 5), vec![PeEvent::RunEnded]);
    }

    #[test]
    fn a_pe_no_unit_reached_still_runs_postprocess_once() {
        let mut t = PeTermination::new(&[vec![], vec![0]], &[true, false]);
        assert_eq!(t.root_ended(0), vec![PeEvent::PostprocessAnywhere { pe: 1 }]);
        assert_eq!(t.postprocessed(1, 3), vec![PeEvent::RunEnded]);
    }

    #[test]
    fn a_worker_that_leaves_is_not_waited_for_and_answers_a_request_made_of_it() {
        let mut t = PeTermination::new(&[vec![], vec![0]], &[true, false]);
        t.pushed(1, 1);
        for w in [0, 1, 2] {
            t.instance_created(1, w);
        }
        // Worker 1 retires while PE 1 runs: it is no longer a holder.
        assert!(t.worker_left(1, 1).is_empty());
        assert!(t.root_ended(0).is_empty());
        assert_eq!(t.done(1), vec![PeEvent::Postprocess { pe: 1, workers: vec![0, 2] }]);
        assert_eq!(t.held_by(2), vec![1]);
        // Worker 2 leaves after the request was made of it (it retired, or was lost).
        assert!(t.worker_left(1, 2).is_empty());
        assert!(t.worker_left(1, 2).is_empty(), "leaving twice changes nothing");
        assert_eq!(t.postprocessed(1, 0), vec![PeEvent::RunEnded]);
        assert!(t.held_by(0).is_empty());
    }

    #[test]
    fn two_roots_and_a_merge_end_in_order() {
        // roots 0 and 1 → 2
        let mut t = PeTermination::new(&[vec![], vec![], vec![0, 1]], &[true, true, false]);
        t.pushed(2, 3);
        assert!(t.root_ended(0).is_empty());
        t.done(2);
        t.done(2);
        t.done(2);
        assert!(!t.has_ended(2), "root 1 still runs");
        t.instance_created(2, 0);
        assert_eq!(t.root_ended(1), vec![PeEvent::Postprocess { pe: 2, workers: vec![0] }]);
        assert_eq!(t.postprocessed(2, 0), vec![PeEvent::RunEnded]);
        assert_eq!(t.in_flight(2), 0);
    }

    #[test]
    fn instance_end_counts_upstream_instances_and_names_targets_once() {
        use crate::graph::WorkflowGraph;
        use crate::pe::{counter, Iterative, PeError};
        use crate::value::Value;
        let mut g = WorkflowGraph::new("g");
        let src = g.add(counter("src")).unwrap();
        let a = g.add(Iterative::new("a", Ok::<Value, PeError>)).unwrap();
        let b = g.add(Iterative::new("b", Ok::<Value, PeError>)).unwrap();
        g.connect(src, "output", a, "input").unwrap();
        g.connect(a, "output", b, "input").unwrap();
        let plan = Plan::new(&g, 5).unwrap();
        let a0 = plan.pe_by_name("a").unwrap().first();
        let b0 = plan.pe_by_name("b").unwrap().first();
        let end = InstanceEnd::new(&plan, a0);
        assert!(!end.is_due());
        assert_eq!(end.targets(), plan.pe_by_name("b").unwrap().instances.clone().collect::<Vec<_>>());
        let mut end_b = InstanceEnd::new(&plan, b0);
        for _ in 0..plan.pe_by_name("a").unwrap().count() {
            assert!(!end_b.is_due());
            end_b.upstream_ended();
        }
        assert!(end_b.is_due());
        assert!(end_b.targets().is_empty());
    }
}
