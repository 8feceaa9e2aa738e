//! A supervised PE instance: the one place where user code runs, for every mapping.
//!
//! Units are handed over in batches ([`Pe::process_batch`]); each unit is supervised on its
//! own ([`Batch::supervise`]). On a panic or an error the instance is re-created from its
//! factory (and `preprocess` re-run) as the restart policy allows, after a back-off; the
//! failed unit is retried up to `max_retries` times, then written to the dead letters with
//! the PE, instance, port, unit and error. When the policy gives up, every later unit is
//! dead-lettered without running user code, so a PE that always fails can neither hang a
//! run nor loop forever. What a failed attempt wrote is discarded if none of it has left
//! the instance yet.
//!
//! The back-off is not slept here: a call returns [`Flow::Backoff`] and the mapping waits
//! in its own way (a thread sleeps; an actor pauses its mailbox without blocking its
//! arbiter), then calls [`Instance::resume`]. Units of the batch that were not processed yet
//! wait inside the instance until then.

use super::observe::probe::InstanceProbe;
use super::options::RunOptions;
use super::report::{DeadLetter, DeadLetters, InstanceStats};
use crate::abort::{Abort, AbortReason};
use crate::pe::{Batch, Failure, FailureCause, InstanceInfo, OutputBuffers, Pe, PeFactory};
use crate::plan::PlannedPe;
use crate::sink::Sink;
use crate::value::Value;
use dispel4rs_actors::supervision::{catch_panic, Decision, RestartTracker};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The port index of a root call.
const ROOT: usize = usize::MAX;

/// What the caller must do after handing units to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Flow {
    /// Done; hand over the next batch.
    Ready,
    /// The instance failed and will be restarted: wait this long, then call
    /// [`Instance::resume`] before handing over anything else.
    Backoff(Duration),
}

struct Pending {
    port: usize,
    unit: Value,
    attempts: u32,
}

enum State {
    Running(Box<dyn Pe>),
    /// Needs re-creating from the factory (after a failure, before `resume`).
    Restarting,
    GaveUp(String),
}

/// A running PE instance under supervision. See the [module documentation](self).
pub struct Instance {
    info: InstanceInfo,
    factory: PeFactory,
    inputs: Arc<[Arc<str>]>,
    root_port: Arc<str>,
    buffers: OutputBuffers,
    state: State,
    tracker: RestartTracker,
    max_retries: u32,
    keep_copies: bool,
    /// Provenance is on: units arrive as envelopes with their ids.
    traced: bool,
    /// The unit to retry after the restart.
    pending: Option<Pending>,
    /// Units of an interrupted batch, to process after the restart.
    backlog: Vec<Value>,
    backlog_port: usize,
    scratch: Vec<Value>,
    dead: Arc<DeadLetters>,
    stats: InstanceStats,
    span: tracing::Span,
    /// What the run's observatory sees of this instance (observed runs only).
    probe: Option<Arc<InstanceProbe>>,
    /// Units handed over since the mapping last added busy time (observed runs only).
    handed: u64,
}

/// The sink an instance writes through: the mapping's, counting the units that leave for the
/// probe of an observed run.
struct Counted<'a> {
    inner: &'a mut dyn Sink,
    probe: Option<&'a InstanceProbe>,
}

impl Sink for Counted<'_> {
    fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
        let units = batch.len() as u64;
        self.inner.flush(port, batch)?;
        if let Some(p) = self.probe {
            p.sent(units);
        }
        Ok(())
    }
}

impl Instance {
    /// Creates instance `index` of `pe` (global id `global`) and runs its `preprocess`.
    /// A failing `preprocess` is handled like any failure: the returned flow may ask for a
    /// back-off before [`Instance::resume`].
    pub fn new(
        pe: &PlannedPe,
        index: usize,
        global: usize,
        options: &RunOptions,
        dead: Arc<DeadLetters>,
    ) -> (Instance, Flow) {
        let info = InstanceInfo { pe: pe.name.clone(), pe_id: pe.id, index, count: pe.count(), global };
        Instance::with_info(pe, info, options, dead)
    }

    /// Creates an instance of `pe` described by `info` (the dynamic mappings make one per PE
    /// and worker: `index` is the worker's number, `count` the pool's largest size) and runs
    /// its `preprocess`, as [`Instance::new`] does.
    pub fn with_info(
        pe: &PlannedPe,
        info: InstanceInfo,
        options: &RunOptions,
        dead: Arc<DeadLetters>,
    ) -> (Instance, Flow) {
        let index = info.index;
        let span = tracing::error_span!("pe", name = %info.pe, instance = index);
        let probe = options.observe.observatory().map(|o| o.probe(&info));
        let mut inst = Instance {
            info,
            factory: pe.factory.clone(),
            inputs: pe.inputs.clone(),
            root_port: pe.root_port(),
            buffers: OutputBuffers::new(pe.outputs.clone(), options.batch_size)
                .with_byte_budget(options.batch_bytes)
                .with_retry_hold(options.retry_hold_batches),
            state: State::Restarting,
            tracker: RestartTracker::new(options.restart.clone()),
            max_retries: options.max_retries,
            keep_copies: true,
            traced: false,
            pending: None,
            backlog: Vec::new(),
            backlog_port: 0,
            scratch: Vec::with_capacity(1),
            dead,
            stats: InstanceStats::default(),
            span,
            probe,
            handed: 0,
        };
        if let Some(prov) = &options.provenance {
            inst.buffers.set_tracer(prov.tracer_for(pe, &inst.info));
            inst.traced = true;
        }
        let flow = inst.start();
        (inst, flow)
    }

    /// The tracing span of this instance (`pe{name, instance}`): mappings enter it around
    /// each batch they hand over, so that logs from PE code carry the instance.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Which instance this is.
    pub fn info(&self) -> &InstanceInfo {
        &self.info
    }

    /// Its counters so far.
    pub fn stats(&self) -> &InstanceStats {
        &self.stats
    }

    /// Adds time spent in PE code (measured by the mapping, per batch). In an observed run
    /// this is where the batch is recorded: its time per unit, the instance's counters.
    pub fn add_busy(&mut self, busy: Duration) {
        self.stats.busy += busy;
        if let Some(p) = &self.probe {
            p.end(std::mem::take(&mut self.handed), busy, self.stats.busy);
        }
    }

    /// An observed run: `units` more are handed over and work begins.
    #[inline]
    fn begin(&mut self, units: u64) {
        if let Some(p) = &self.probe {
            self.handed += units;
            p.begin(units);
        }
    }

    /// Subtracts time the mapping measured as spent downstream during this instance's
    /// flushes (`simple` runs downstream work inside the writer's call).
    pub fn sub_busy(&mut self, downstream: Duration) {
        self.stats.busy = self.stats.busy.saturating_sub(downstream);
    }

    /// The output buffers (for flushing by the mapping).
    pub fn buffers_mut(&mut self) -> &mut OutputBuffers {
        &mut self.buffers
    }

    /// True once the policy has given this instance up.
    pub fn gave_up(&self) -> bool {
        matches!(self.state, State::GaveUp(_))
    }

    /// Creates the PE from the factory and runs `preprocess`.
    fn start(&mut self) -> Flow {
        let info = &self.info;
        let factory = &self.factory;
        let result = catch_panic(|| {
            let mut pe = factory();
            pe.preprocess(info).map(|()| pe)
        });
        match result {
            Ok(Ok(pe)) => {
                self.state = State::Running(pe);
                Flow::Ready
            }
            Ok(Err(e)) => self.failed(format!("preprocess failed: {e}")),
            Err(p) => self.failed(format!("preprocess {p}")),
        }
    }

    /// Hands a batch of units that arrived on input `port` to the PE; leaves `units`
    /// empty (what a back-off interrupts waits inside the instance).
    pub fn process_batch(
        &mut self,
        port: usize,
        units: &mut Vec<Value>,
        sink: &mut dyn Sink,
    ) -> Result<Flow, Abort> {
        self.stats.units_in += units.len() as u64;
        self.begin(units.len() as u64);
        self.run_units(port, units, 0, sink)
    }

    /// One root call with `input` (the `-d` object, or null for an iteration).
    pub fn call_root(&mut self, input: Value, sink: &mut dyn Sink) -> Result<Flow, Abort> {
        self.stats.units_in += 1;
        self.begin(1);
        let mut one = std::mem::take(&mut self.scratch);
        match self.buffers.tracer_mut() {
            Some(t) => {
                let id = t.root_input(&input);
                one.push(crate::provenance::id::wrap(Some(id), input));
            }
            None => one.push(input),
        }
        let flow = self.run_units(ROOT, &mut one, 0, sink);
        one.clear();
        self.scratch = one;
        flow
    }

    fn port_name(&self, port: usize) -> Arc<str> {
        self.inputs.get(port).cloned().unwrap_or_else(|| self.root_port.clone())
    }

    /// Runs `units` (the first has already had `attempts` attempts) until they are done or
    /// a failure asks for a back-off.
    fn run_units(
        &mut self,
        port: usize,
        units: &mut Vec<Value>,
        attempts: u32,
        sink: &mut dyn Sink,
    ) -> Result<Flow, Abort> {
        let mut first_attempts = attempts;
        while !units.is_empty() {
            let pe = match &mut self.state {
                State::Running(pe) => pe,
                State::GaveUp(reason) => {
                    let error = format!("instance was given up earlier: {reason}");
                    for unit in units.drain(..) {
                        self.dead_letter(port, unit, error.clone(), 0);
                    }
                    return Ok(Flow::Ready);
                }
                State::Restarting => {
                    // Reached only if a caller ignored a back-off: keep the units, restart now.
                    self.backlog.append(units);
                    self.backlog_port = port;
                    return self.resume(sink);
                }
            };
            let port_name = self.inputs.get(port).map_or(&*self.root_port, |p| &**p);
            let mut batch = Batch::new(units, self.keep_copies).traced(self.traced);
            let mut counted = Counted { inner: &mut *sink, probe: self.probe.as_deref() };
            let mut out = self.buffers.writer(&self.info, &mut counted);
            if let Err(p) = catch_panic(|| pe.process_batch(port_name, &mut batch, &mut out)) {
                // A panic escaped an overridden process_batch.
                batch.escaped(p);
            }
            let (taken, succeeded, failure) = batch.finish();
            if let Some(abort) = self.buffers.take_abort() {
                return Err(abort);
            }
            if succeeded > 0 {
                self.tracker.on_success();
            }
            // `units` now holds the units that were not handed out.
            let Some(failure) = failure else {
                units.clear();
                return Ok(Flow::Ready);
            };
            if let FailureCause::Error(e) = &failure.cause {
                if e.is_abort() {
                    return Err(Abort::new(AbortReason::Requested, e.message().to_owned()));
                }
            }
            if !units.is_empty() {
                units.append(&mut self.backlog);
                std::mem::swap(units, &mut self.backlog);
                self.backlog_port = port;
            }
            let tries = if taken == 1 { first_attempts } else { 0 } + 1;
            first_attempts = 0;
            if let Flow::Backoff(d) = self.attempt_failed(port, failure, tries) {
                return Ok(Flow::Backoff(d));
            }
            // Given up: what is left is dead-lettered on the next turn.
            if !self.backlog.is_empty() {
                units.append(&mut self.backlog);
            }
        }
        Ok(Flow::Ready)
    }

    #[cold]
    fn attempt_failed(&mut self, port: usize, failure: Failure, attempts: u32) -> Flow {
        let error = match &failure.cause {
            FailureCause::Error(e) => e.to_string(),
            FailureCause::Panic(p) => p.to_string(),
        };
        // Discard what the failed attempt wrote, if none of it has left yet.
        self.buffers.rollback();
        tracing::warn!(pe = %self.info.pe, instance = self.info.index, "attempt {attempts} failed: {error}");
        match failure.unit {
            Some(unit) if attempts <= self.max_retries => {
                self.pending = Some(Pending { port, unit, attempts });
            }
            Some(unit) => self.dead_letter(port, unit, error.clone(), attempts),
            None => self.dead_letter(port, Value::Null, format!("{error} (the unit was lost)"), attempts),
        }
        self.failed(error)
    }

    /// Records a failure and decides: restart after a back-off, or give up.
    fn failed(&mut self, error: String) -> Flow {
        self.stats.failures += 1;
        if let Some(p) = &self.probe {
            p.failed();
        }
        match self.tracker.on_failure(Instant::now()) {
            Decision::Restart { backoff } => {
                self.state = State::Restarting;
                self.stats.restarts += 1;
                if let Some(p) = &self.probe {
                    p.restarted();
                }
                Flow::Backoff(backoff)
            }
            Decision::GiveUp { reason } => {
                tracing::error!(pe = %self.info.pe, instance = self.info.index, "given up: {reason} (last error: {error})");
                self.stats.gave_up = Some(format!("{reason} (last error: {error})"));
                self.state = State::GaveUp(reason);
                if let Some(p) = self.pending.take() {
                    self.dead_letter(p.port, p.unit, error, p.attempts);
                }
                Flow::Ready
            }
        }
    }

    fn dead_letter(&mut self, port: usize, unit: Value, error: String, attempts: u32) {
        self.stats.dead_letters += 1;
        if let Some(p) = &self.probe {
            p.dead_lettered();
        }
        let unit = if self.traced { crate::provenance::id::unwrap(unit).1 } else { unit };
        self.dead.record(DeadLetter {
            pe: self.info.pe.clone(),
            instance: self.info.index,
            port: self.port_name(port),
            unit,
            error,
            attempts,
        });
    }

    /// After a back-off: re-creates the PE, retries the failed unit and carries on with the
    /// rest of the interrupted batch.
    pub fn resume(&mut self, sink: &mut dyn Sink) -> Result<Flow, Abort> {
        self.begin(0);
        if matches!(self.state, State::Restarting) {
            if let Flow::Backoff(b) = self.start() {
                return Ok(Flow::Backoff(b));
            }
        }
        if let Some(Pending { port, unit, attempts }) = self.pending.take() {
            let mut one = vec![unit];
            if let Flow::Backoff(d) = self.run_units(port, &mut one, attempts, sink)? {
                return Ok(Flow::Backoff(d));
            }
        }
        if self.backlog.is_empty() {
            return Ok(Flow::Ready);
        }
        let mut backlog = std::mem::take(&mut self.backlog);
        let port = self.backlog_port;
        self.run_units(port, &mut backlog, 0, sink)
    }

    /// End of stream: runs `postprocess` (unless the instance was given up) and flushes
    /// everything it wrote into `sink`. A failing `postprocess` is reported, not retried: a
    /// restarted instance would have lost the state it was meant to write out.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> Result<(), Abort> {
        self.begin(0);
        if let State::Running(pe) = &mut self.state {
            if let Some(t) = self.buffers.tracer_mut() {
                t.begin_postprocess();
            }
            let mut counted = Counted { inner: &mut *sink, probe: self.probe.as_deref() };
            let mut out = self.buffers.writer(&self.info, &mut counted);
            let result = catch_panic(|| pe.postprocess(&mut out));
            if let Some(t) = self.buffers.tracer_mut() {
                t.end();
            }
            if let Some(abort) = self.buffers.take_abort() {
                return Err(abort);
            }
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) if e.is_abort() => {
                    return Err(Abort::new(AbortReason::Requested, e.message().to_owned()))
                }
                Ok(Err(e)) => Some(e.to_string()),
                Err(p) => Some(p.to_string()),
            };
            if let Some(e) = error {
                tracing::error!(pe = %self.info.pe, instance = self.info.index, "postprocess failed: {e}");
                self.stats.postprocess_error = Some(e);
            }
        }
        let flushed = self.flush(sink);
        if let Some(t) = self.buffers.tracer_mut() {
            t.flush();
        }
        flushed
    }

    /// Sends every buffered unit on.
    pub fn flush(&mut self, sink: &mut dyn Sink) -> Result<(), Abort> {
        let mut counted = Counted { inner: sink, probe: self.probe.as_deref() };
        self.buffers.flush_all(&mut counted)
    }

    /// Final counters (units written included).
    pub fn final_stats(&self) -> InstanceStats {
        let mut s = self.stats.clone();
        s.units_out = self.buffers.written();
        s.process_times = self.probe.as_ref().map(|p| p.times());
        s
    }
}

#[cfg(test)]
mod tests;
