//! What one process of a multi-process run accepts from its peers: the frames the plan and
//! the protocol allow, and nothing else. The transport has already authenticated the
//! sender (`zmq_multi`) or MPI has named it; this checks that what an authenticated peer
//! sends makes sense, so that a bug (or a member gone wrong) fails the run loudly, naming
//! the sender, instead of ending it early with a silently wrong result.
//!
//! | frame | accepted when |
//! |---|---|
//! | `DATA` for instance *t* | *t* is hosted here; the sender hosts an upstream instance of *t*; the port is one of *t*'s inputs; at most `--batch-size` units; the sender has not yet sent all its end-of-stream for *t*; it has fewer batches outstanding at *t* than its credits allow |
//! | `EOS` for *t* | *t* is hosted here and the sender still owes *t* an end of stream (one per upstream instance it hosts) |
//! | `COLLECT` | this is the coordinator; within the sender's credits |
//! | `CREDIT` for *c* | the sender hosts *c* and a batch to *c* is outstanding (checked by the proxy) |
//! | `DONE` for *g* | this is the coordinator, the sender hosts *g*, and *g* has not ended before |
//! | `REPORT` | this is the coordinator, once per worker |
//! | `SAMPLES` | this is the coordinator (a worker's instances, every `--sample-ms`, observed runs) |
//! | `SHUTDOWN`, `BYE` | the sender is the coordinator |
//!
//! Pure bookkeeping, unit-tested here; the dispatcher in `runtime::cluster` calls it for
//! every frame and stops the run on the first [`Violation`].

use crate::plan::Plan;
use crate::runtime::termination::InstanceEnd;
use dispel4rs_transports::PeerId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What a peer sent that it must not: the message says what (the caller names the peer).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Violation(pub String);

/// Batches a sender has handed to one local instance and not yet been given credit for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outstanding(Arc<AtomicUsize>);

impl Outstanding {
    /// The batch has been processed: call before its credit goes back to the sender.
    pub(crate) fn release(&self) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// Batches outstanding now.
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// The checks of one process. See the [module documentation](self).
pub(crate) struct Guard {
    me: usize,
    coordinator: bool,
    instances: usize,
    /// Slot of each instance.
    slots: Vec<usize>,
    /// PE name and number of inputs of each instance.
    pes: Vec<(Arc<str>, usize)>,
    /// End of stream still owed to a local instance by each peer that feeds it.
    eos_owed: HashMap<(PeerId, usize), usize>,
    /// Batches outstanding per (sender, local instance or collector).
    outstanding: HashMap<(PeerId, usize), Outstanding>,
    /// Slots that host a PE with an unconnected (collected) output.
    collectors: HashSet<PeerId>,
    capacity: usize,
    batch_size: usize,
    done: Vec<bool>,
    reported: HashSet<PeerId>,
}

impl Guard {
    /// The guard of process `me` in a run of `plan`; a sender may have `capacity` batches
    /// outstanding at each receiver, each of at most `batch_size` units.
    pub(crate) fn new(plan: &Plan, me: usize, capacity: usize, batch_size: usize) -> Guard {
        let n = plan.instances().len();
        let slots: Vec<usize> = plan.instances().iter().map(|i| i.slot).collect();
        let pes = plan
            .instances()
            .iter()
            .map(|i| {
                let pe = &plan.pes()[i.pe];
                (pe.name.clone(), pe.inputs.len())
            })
            .collect();
        let mut eos_owed = HashMap::new();
        let mut collectors = HashSet::new();
        for (g, &slot) in slots.iter().enumerate() {
            let pe = &plan.pes()[plan.instances()[g].pe];
            if pe.collect.iter().any(Option::is_some) {
                collectors.insert(slot as PeerId);
            }
            if slot == me {
                continue;
            }
            for &t in InstanceEnd::new(plan, g).targets() {
                if slots.get(t) == Some(&me) {
                    *eos_owed.entry((slot as PeerId, t)).or_insert(0) += 1;
                }
            }
        }
        let mut outstanding: HashMap<(PeerId, usize), Outstanding> =
            eos_owed.keys().map(|k| (*k, Outstanding::default())).collect();
        if me == 0 {
            for &peer in collectors.iter().filter(|p| **p != 0) {
                outstanding.insert((peer, n), Outstanding::default());
            }
        }
        Guard {
            me,
            coordinator: me == 0,
            instances: n,
            slots,
            pes,
            eos_owed,
            outstanding,
            collectors,
            capacity,
            batch_size,
            done: vec![false; n],
            reported: HashSet::new(),
        }
    }

    /// The most units a frame may carry.
    pub(crate) fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The counts of batches other processes have outstanding at local instance `to` (for
    /// the observed depth of its mailbox).
    pub(crate) fn outstanding_at(&self, to: usize) -> Vec<Outstanding> {
        self.outstanding.iter().filter(|((_, t), _)| *t == to).map(|(_, o)| o.clone()).collect()
    }

    /// A worker's samples of its instances (coordinator only).
    pub(crate) fn samples(&self, peer: PeerId) -> Result<(), Violation> {
        if !self.coordinator || peer == 0 {
            return Err(Violation(
                "samples of its instances to a process that is not the coordinator".into(),
            ));
        }
        Ok(())
    }

    fn name(&self, t: usize) -> String {
        match self.pes.get(t) {
            Some((pe, _)) => format!("instance {t} ({pe})"),
            None => format!("instance {t}"),
        }
    }

    /// A batch of `units` units from `peer` for local instance `to`, on input `port`.
    /// On success, the counter to release when the batch has been processed.
    pub(crate) fn data(
        &self,
        peer: PeerId,
        to: usize,
        port: usize,
        units: usize,
    ) -> Result<Outstanding, Violation> {
        if to >= self.instances || self.slots[to] != self.me {
            return Err(Violation(format!(
                "a batch for instance {to}, which process {} does not host",
                self.me
            )));
        }
        let Some(owed) = self.eos_owed.get(&(peer, to)) else {
            return Err(Violation(format!(
                "a batch for {}, which it hosts no upstream instance of",
                self.name(to)
            )));
        };
        if *owed == 0 {
            return Err(Violation(format!(
                "a batch for {} after its end of stream (the data would be lost)",
                self.name(to)
            )));
        }
        if port >= self.pes[to].1 {
            return Err(Violation(format!(
                "a batch for input {port} of {}, which has {} input(s)",
                self.name(to),
                self.pes[to].1
            )));
        }
        self.admit(peer, to, units)
    }

    /// A batch for the collector.
    pub(crate) fn collect(&self, peer: PeerId, units: usize) -> Result<Outstanding, Violation> {
        if !self.coordinator {
            return Err(Violation("collected units for a process that is not the coordinator".into()));
        }
        if !self.collectors.contains(&peer) {
            return Err(Violation("collected units, but it hosts no PE with an unconnected output".into()));
        }
        self.admit(peer, self.instances, units)
    }

    fn admit(&self, peer: PeerId, to: usize, units: usize) -> Result<Outstanding, Violation> {
        if units > self.batch_size {
            return Err(Violation(format!(
                "a batch of {units} units (at most --batch-size {} are sent at once)",
                self.batch_size
            )));
        }
        let Some(counter) = self.outstanding.get(&(peer, to)) else {
            return Err(Violation(format!("a batch for {}, which it does not feed", self.name(to))));
        };
        let before = counter.0.fetch_add(1, Ordering::SeqCst);
        if before >= self.capacity {
            counter.release();
            let what = if to == self.instances { "the collector".to_owned() } else { self.name(to) };
            return Err(Violation(format!(
                "more batches for {what} than its credits allow ({} outstanding at most): it ignores backpressure",
                self.capacity
            )));
        }
        Ok(counter.clone())
    }

    /// An end of stream from `peer` for local instance `to`.
    pub(crate) fn eos(&mut self, peer: PeerId, to: usize) -> Result<(), Violation> {
        match self.eos_owed.get_mut(&(peer, to)) {
            Some(owed) if *owed > 0 => {
                *owed -= 1;
                Ok(())
            }
            Some(_) => Err(Violation(format!("one end of stream too many for {}", self.name(to)))),
            None if to < self.instances && self.slots[to] == self.me => Err(Violation(format!(
                "an end of stream for {}, which it hosts no upstream instance of",
                self.name(to)
            ))),
            None => Err(Violation(format!(
                "an end of stream for instance {to}, which process {} does not host",
                self.me
            ))),
        }
    }

    /// Instance `global` has ended on `peer` (coordinator only).
    pub(crate) fn done(&mut self, peer: PeerId, global: usize) -> Result<(), Violation> {
        if !self.coordinator {
            return Err(Violation("an instance's end to a process that is not the coordinator".into()));
        }
        if global >= self.instances || self.slots[global] != peer as usize {
            return Err(Violation(format!("the end of instance {global}, which it does not host")));
        }
        if std::mem::replace(&mut self.done[global], true) {
            return Err(Violation(format!("the end of {} twice", self.name(global))));
        }
        Ok(())
    }

    /// A worker's final report (coordinator only, once per worker).
    pub(crate) fn report(&mut self, peer: PeerId) -> Result<(), Violation> {
        if !self.coordinator || peer == 0 {
            return Err(Violation("a final report to a process that is not the coordinator".into()));
        }
        if !self.reported.insert(peer) {
            return Err(Violation("its final report twice".into()));
        }
        Ok(())
    }

    /// A message only the coordinator may send.
    pub(crate) fn only_from_coordinator(&self, peer: PeerId, what: &str) -> Result<(), Violation> {
        if peer != 0 || self.coordinator {
            return Err(Violation(format!("a {what}, which only the coordinator sends")));
        }
        Ok(())
    }

    /// A credit from `peer` for channel `channel` (an instance, or the collector): the
    /// sender must host it.
    pub(crate) fn credit_from_host(&self, peer: PeerId, channel: usize) -> Result<(), Violation> {
        let host = if channel == self.instances { Some(0) } else { self.slots.get(channel).copied() };
        if host != Some(peer as usize) {
            return Err(Violation(format!("a credit for {}, which it does not host", self.name(channel))));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::PeError;
    use crate::{Iterative, Producer, Value, WorkflowGraph};

    /// source → a → b (b's output is collected), over 3 slots: source on 0, a on 1, b on 2.
    fn plan() -> Plan {
        let mut g = WorkflowGraph::new("g");
        let s = g.add(Producer::new("source", |_, o| o.write("output", 1))).unwrap();
        let a = g.add(Iterative::new("a", |x: Value| Ok::<_, PeError>(x))).unwrap();
        let b = g.add(Iterative::new("b", |x: Value| Ok::<_, PeError>(x))).unwrap();
        g.connect(s, "output", a, "input").unwrap();
        g.connect(a, "output", b, "input").unwrap();
        let plan = Plan::new(&g, 3).unwrap();
        assert_eq!((plan.slot_of(0), plan.slot_of(1), plan.slot_of(2)), (0, 1, 2));
        plan
    }

    #[test]
    fn data_is_accepted_only_from_upstream_within_credits_and_before_the_end() {
        let plan = plan();
        let mut at_1 = Guard::new(&plan, 1, 2, 10);
        let first = at_1.data(0, 1, 0, 10).unwrap();
        let _second = at_1.data(0, 1, 0, 1).unwrap();
        assert!(
            at_1.data(0, 1, 0, 1).unwrap_err().0.contains("credits"),
            "a third batch ignores the credits"
        );
        first.release();
        let _third = at_1.data(0, 1, 0, 1).unwrap();
        assert!(at_1.data(0, 1, 0, 11).unwrap_err().0.contains("11 units"));
        assert!(at_1.data(2, 1, 0, 1).unwrap_err().0.contains("no upstream"));
        assert!(at_1.data(0, 2, 0, 1).unwrap_err().0.contains("does not host"));
        assert!(at_1.data(0, 1, 1, 1).unwrap_err().0.contains("input 1"));
        at_1.eos(0, 1).unwrap();
        assert!(at_1.eos(0, 1).unwrap_err().0.contains("too many"));
        assert!(at_1.data(0, 1, 0, 1).unwrap_err().0.contains("after its end of stream"));
        assert!(at_1.eos(2, 1).is_err() && at_1.eos(0, 0).is_err());
    }

    #[test]
    fn ends_reports_and_coordinator_messages_come_from_who_may_send_them() {
        let plan = plan();
        let mut at_0 = Guard::new(&plan, 0, 2, 10);
        at_0.done(1, 1).unwrap();
        assert!(at_0.done(1, 1).unwrap_err().0.contains("twice"));
        assert!(at_0.done(1, 2).unwrap_err().0.contains("does not host"));
        at_0.report(2).unwrap();
        assert!(at_0.report(2).is_err() && at_0.report(0).is_err());
        assert!(at_0.samples(1).is_ok() && at_0.samples(0).is_err());
        assert!(Guard::new(&plan, 1, 2, 10).samples(2).is_err(), "samples go to the coordinator only");
        let _ = at_0.collect(2, 3).unwrap();
        assert!(at_0.collect(1, 3).unwrap_err().0.contains("no PE with an unconnected output"));
        assert!(at_0.credit_from_host(2, 2).is_ok() && at_0.credit_from_host(1, 2).is_err());
        let mut at_2 = Guard::new(&plan, 2, 2, 10);
        assert!(
            at_2.only_from_coordinator(0, "shutdown").is_ok()
                && at_2.only_from_coordinator(1, "shutdown").is_err()
        );
        assert!(at_2.done(2, 2).is_err() && at_2.collect(2, 1).is_err());
        assert!(at_2.credit_from_host(0, 3).is_ok(), "the collector lives on the coordinator");
    }
}
