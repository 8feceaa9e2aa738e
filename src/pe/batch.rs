//! [`Batch`]: the supervised cursor over the units a PE is handed at once.
//!
//! Mappings move data in batches; [`crate::Pe::process_batch`] receives one and, by
//! default, calls [`crate::Pe::process`] for each unit through [`Batch::supervise`], which
//! catches a panic or an error, keeps what is needed to retry the unit and to write its
//! dead-letter record, and stops the batch at the first failure so that the supervisor can
//! restart the instance and carry on with the rest.
//!
//! Keeping the unit costs nothing for scalars (null, bool, int, float): their bits stay in
//! the batch's slot when the unit is moved out, and are a complete copy of it. Units that
//! own heap data are cloned before the call.

use super::{Output, PeError};
use crate::provenance::id::{self, UnitId};
use crate::value::Value;
use dispel4rs_actors::supervision::{catch_panic_nested, Panicked};

/// Why a unit failed.
#[derive(Debug)]
pub enum FailureCause {
    /// `process` returned an error.
    Error(PeError),
    /// `process` panicked.
    Panic(Panicked),
}

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureCause::Error(e) => write!(f, "{e}"),
            FailureCause::Panic(p) => write!(f, "{p}"),
        }
    }
}

/// The first failure in a batch: the unit (if it could be kept) and the cause.
#[derive(Debug)]
pub struct Failure {
    /// The unit that failed.
    pub unit: Option<Value>,
    /// What went wrong.
    pub cause: FailureCause,
}

/// A batch of units arriving on one input, handed out one at a time by
/// [`Pe::process_batch`](crate::Pe::process_batch), each supervised on its own.
///
/// Invariant: the units in `units[..next]` have been moved out (their slots are logically
/// uninitialised and are never dropped); `units[next..]` are still owned by the batch.
/// Dropping the batch (normally or while unwinding) leaves in `units` exactly the units
/// that were not handed out.
pub struct Batch<'a> {
    units: &'a mut Vec<Value>,
    next: usize,
    keep_copies: bool,
    succeeded: usize,
    failure: Option<Failure>,
    /// A clone of the unit being processed, when it owns heap data (scalars stay in their
    /// slot, see `recover`). `None` between units.
    kept: Option<Value>,
    /// Provenance is on: every unit is an envelope carrying its id, unwrapped here.
    traced: bool,
    /// The id of the unit being processed (provenance on).
    current: Option<UnitId>,
}

impl<'a> Batch<'a> {
    /// A batch over `units`; `keep_copies` keeps each unit while it is processed (for
    /// retries and dead letters).
    pub fn new(units: &'a mut Vec<Value>, keep_copies: bool) -> Self {
        Batch {
            units,
            next: 0,
            keep_copies,
            succeeded: 0,
            failure: None,
            kept: None,
            traced: false,
            current: None,
        }
    }

    /// Provenance is on: the units are envelopes (see [`crate::provenance::id`]); the PE is
    /// handed their data, and each invocation is recorded.
    pub(crate) fn traced(mut self, on: bool) -> Self {
        self.traced = on;
        self
    }

    /// The next unit of a traced batch: the envelope is taken apart, its id kept.
    #[cold]
    #[inline(never)]
    fn next_traced(&mut self) -> Option<Value> {
        let i = self.next;
        self.next = i + 1;
        // SAFETY: `i < len` (checked by the caller); advancing `next` first records that slot
        // `i` has been moved out: under provenance `recover` never reads a slot (it re-wraps
        // the kept copy) and `Drop` never drops `units[..next]`.
        let envelope = unsafe { std::ptr::read(&self.units[i]) };
        let (id, data) = id::unwrap(envelope);
        self.current = id;
        if self.keep_copies {
            self.kept = Some(data.clone());
        }
        Some(data)
    }

    /// The next unit, or `None` at the end of the batch or after a failure.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Value> {
        let i = self.next;
        if self.failure.is_some() || i >= self.units.len() {
            return None;
        }
        if self.traced {
            return self.next_traced();
        }
        let slot: &Value = &self.units[i];
        if self.keep_copies && owns_heap(slot) {
            self.kept = Some(slot.clone());
        }
        self.next = i + 1;
        // SAFETY: `i < len`, and advancing `next` first records that slot `i` has been moved
        // out: it is never read again except by `recover` (scalars only, see there) and
        // never dropped (`Drop` below discards `units[..next]` without dropping them).
        Some(unsafe { std::ptr::read(slot) })
    }

    /// The unit that was handed out last by `next`, as kept.
    fn recover(&mut self) -> Option<Value> {
        if self.traced {
            // Back into its envelope, so that the retry and the dead letter keep its id.
            return self.kept.take().map(|data| id::wrap(self.current, data));
        }
        if let Some(v) = self.kept.take() {
            return Some(v);
        }
        let i = self.next.checked_sub(1)?;
        let slot = &self.units[i];
        if !self.keep_copies || owns_heap(slot) {
            return None;
        }
        // SAFETY: the slot holds the bits of a null, bool, int or float, which own no heap
        // data and have no destructor, so those bits are a complete, independent value
        // however the moved-out original was used or dropped. `i < next <= len`.
        Some(unsafe { std::ptr::read(slot) })
    }

    /// Units left after the cursor.
    pub fn remaining(&self) -> usize {
        if self.failure.is_some() {
            0
        } else {
            self.units.len() - self.next
        }
    }

    /// Runs `f` on `unit` (the unit [`Batch::next`] just gave) under supervision: a panic or
    /// an error is recorded with the kept unit and ends the batch; an abort of the run ends
    /// it too.
    #[inline(always)]
    pub fn supervise(
        &mut self,
        unit: Value,
        out: &mut Output<'_>,
        f: impl FnOnce(Value, &mut Output<'_>) -> Result<(), PeError>,
    ) {
        if self.traced {
            out.trace_begin(self.current);
        }
        out.mark();
        let cause = match catch_panic_nested(|| f(unit, out)) {
            Ok(Ok(())) if !out.aborted() => {
                out.commit();
                if !out.aborted() {
                    if self.traced {
                        out.trace_end();
                    }
                    self.succeeded += 1;
                    if self.kept.is_some() {
                        self.kept = None;
                    }
                    return;
                }
                FailureCause::Error(PeError::aborted(""))
            }
            Ok(Ok(())) => FailureCause::Error(PeError::aborted("")),
            Ok(Err(e)) => FailureCause::Error(e),
            Err(p) => FailureCause::Panic(p),
        };
        self.fail(cause);
    }

    /// Runs `f` on every remaining unit *by reference*, each under supervision. For PEs that
    /// only read their input (look-ups, counts, filters that copy what they keep) this saves
    /// the copy that [`Batch::supervise`] keeps of units owning heap data: a unit that fails
    /// is still intact for the retry and the dead-letter record.
    ///
    /// ```
    /// use dispel4rs::{pe::Batch, Output, Pe, PeError, PeSpec, Value};
    /// #[derive(Clone, Default)]
    /// struct Total(i64);
    /// impl Pe for Total {
    ///     fn spec(&self) -> PeSpec { PeSpec::new("total").input("input") }
    ///     fn process(&mut self, _: &str, unit: Value, _: &mut Output<'_>) -> Result<(), PeError> {
    ///         self.0 += unit.try_int()?;
    ///         Ok(())
    ///     }
    ///     fn process_batch(&mut self, _: &str, batch: &mut Batch<'_>, out: &mut Output<'_>) {
    ///         batch.for_each_ref(out, |unit, _| { self.0 += unit.try_int()?; Ok(()) });
    ///     }
    /// }
    /// ```
    pub fn for_each_ref(
        &mut self,
        out: &mut Output<'_>,
        mut f: impl FnMut(&Value, &mut Output<'_>) -> Result<(), PeError>,
    ) {
        while self.failure.is_none() && self.next < self.units.len() {
            let i = self.next;
            let mut unit = &self.units[i];
            if self.traced {
                out.trace_begin(id::id_of(unit));
                unit = id::payload(unit);
            }
            out.mark();
            let cause = match catch_panic_nested(|| f(unit, out)) {
                Ok(Ok(()))
                    if !out.aborted() && {
                        out.commit();
                        !out.aborted()
                    } =>
                {
                    if self.traced {
                        out.trace_end();
                    }
                    self.next = i + 1;
                    self.succeeded += 1;
                    // SAFETY: slot `i` still owns its unit; advancing `next` above marks it as
                    // moved out, so this is its only drop (`Drop` skips `units[..next]`).
                    unsafe { std::ptr::drop_in_place(&mut self.units[i]) };
                    continue;
                }
                Ok(Ok(())) => FailureCause::Error(PeError::aborted("")),
                Ok(Err(e)) => FailureCause::Error(e),
                Err(p) => FailureCause::Panic(p),
            };
            self.next = i + 1;
            // SAFETY: the unit failed by reference, so it is still alive in slot `i`;
            // advancing `next` above hands it over to us: this read is its one move.
            let unit = unsafe { std::ptr::read(&self.units[i]) };
            self.failure = Some(Failure { unit: Some(unit), cause });
        }
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, cause: FailureCause) {
        let unit = self.recover();
        self.failure = Some(Failure { unit, cause });
    }

    /// Records a panic that escaped an overridden `process_batch` (unless a failure was
    /// already recorded): the unit handed out last is the one blamed.
    pub(crate) fn escaped(&mut self, panic: Panicked) {
        if self.failure.is_none() {
            self.fail(FailureCause::Panic(panic));
        }
    }

    /// Ends the batch: how many units were handed out, how many succeeded, and the failure.
    /// `units` then holds the units that were not handed out.
    pub(crate) fn finish(mut self) -> (usize, usize, Option<Failure>) {
        (self.next, self.succeeded, self.failure.take())
    }
}

/// True for units that own heap data (and so must be cloned to be kept).
#[inline(always)]
fn owns_heap(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_))
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let len = self.units.len();
        let taken = self.next.min(len);
        // SAFETY: slots `..taken` were moved out and must not be dropped; slots `taken..len`
        // are owned. Moving the owned ones to the front and shortening the vector leaves it
        // holding exactly the owned units; the moved-out bits are forgotten (never dropped).
        unsafe {
            let base = self.units.as_mut_ptr();
            std::ptr::copy(base.add(taken), base, len - taken);
            self.units.set_len(len - taken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::PeId;
    use crate::pe::{InstanceInfo, OutputBuffers};
    use crate::{Abort, Sink};
    use std::sync::Arc;

    struct Keep(Vec<Value>);
    impl Sink for Keep {
        fn flush(&mut self, _: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
            self.0.append(batch);
            Ok(())
        }
    }

    fn info() -> InstanceInfo {
        InstanceInfo { pe: "t".into(), pe_id: PeId::for_tests(0), index: 0, count: 1, global: 0 }
    }

    fn run(units: &mut Vec<Value>, fail_at: usize, panic: bool) -> (usize, usize, Option<Failure>) {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("output")].into();
        let mut bufs = OutputBuffers::new(ports, 1000);
        let mut sink = Keep(Vec::new());
        let info = info();
        let mut out = bufs.writer(&info, &mut sink);
        let mut batch = Batch::new(units, true);
        let mut seen = 0;
        while let Some(unit) = batch.next() {
            batch.supervise(unit, &mut out, |unit, out| {
                seen += 1;
                if seen == fail_at {
                    drop(unit);
                    if panic {
                        panic!("boom");
                    }
                    return Err(PeError::new("bad"));
                }
                out.write("output", unit)
            });
        }
        batch.finish()
    }

    #[test]
    fn all_succeed_and_the_vector_is_emptied() {
        let mut units = vec![Value::Int(1), Value::from("two"), Value::from(("x", 3))];
        let (taken, ok, failure) = run(&mut units, 0, false);
        assert_eq!((taken, ok), (3, 3));
        assert!(failure.is_none());
        assert!(units.is_empty());
    }

    #[test]
    fn failure_keeps_scalars_and_heap_units_and_leaves_the_rest() {
        for (fail_at, expected) in [(1, Value::Int(1)), (2, Value::from("two")), (3, Value::from(("x", 3)))] {
            for panic in [false, true] {
                let mut units =
                    vec![Value::Int(1), Value::from("two"), Value::from(("x", 3)), Value::Float(4.0)];
                let (taken, ok, failure) = run(&mut units, fail_at, panic);
                assert_eq!((taken, ok), (fail_at, fail_at - 1));
                let failure = failure.unwrap();
                assert_eq!(failure.unit, Some(expected.clone()));
                assert_eq!(matches!(failure.cause, FailureCause::Panic(_)), panic);
                assert_eq!(units.len(), 4 - fail_at);
                assert_eq!(units.last(), Some(&Value::Float(4.0)));
            }
        }
    }

    #[test]
    fn by_reference_keeps_the_failed_unit_and_drops_the_others_once() {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("output")].into();
        let mut bufs = OutputBuffers::new(ports, 1000);
        let mut sink = Keep(Vec::new());
        let info = info();
        let mut out = bufs.writer(&info, &mut sink);
        let mut units = vec![Value::from("a"), Value::from(("b", 1)), Value::from("c"), Value::from("d")];
        let mut batch = Batch::new(&mut units, false);
        batch.for_each_ref(&mut out, |unit, out| {
            if unit.as_str() == Some("c") {
                panic!("no c");
            }
            out.write("output", unit.clone())
        });
        let (taken, ok, failure) = batch.finish();
        assert_eq!((taken, ok), (3, 2));
        assert_eq!(failure.unwrap().unit, Some(Value::from("c")));
        assert_eq!(units, vec![Value::from("d")]);
        bufs.flush_all(&mut sink).unwrap();
        assert_eq!(sink.0, vec![Value::from("a"), Value::from(("b", 1))]);
    }

    #[test]
    fn a_panic_escaping_the_batch_leaves_only_unhandled_units() {
        let mut units = vec![Value::from("a"), Value::from("b"), Value::from("c")];
        let result = catch_panic_nested(|| {
            let mut batch = Batch::new(&mut units, true);
            let first = batch.next();
            drop(first);
            panic!("escaped");
        });
        assert!(result.is_err());
        assert_eq!(units, vec![Value::from("b"), Value::from("c")]);
    }
}
