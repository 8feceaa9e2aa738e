//! [`Output`]: how a PE writes data units. Writes go into a per-port batch buffer; a full
//! batch is handed to the mapping's [`Sink`], which routes it on (and, under `simple`,
//! processes it downstream right away, so memory stays flat however much a call writes).
//!
//! * A batch is full at `--batch-size` units **or** `--batch-bytes` bytes (its size on the
//!   wire, measured exactly as each unit is written): a unit that would take a batch past
//!   the byte budget starts the next one, so a batch is either within the budget or a single
//!   unit. The multi-process mappings also bound a single unit by the frame limit: a bigger
//!   unit fails the write, naming the PE, the port and its size.
//! * A unit nested deeper than [`MAX_DEPTH`] fails the write under every mapping (the
//!   decoder of the multi-process mappings would refuse it).
//! * **Held-back retries**: while an attempt (one supervised `process` call) runs, up to
//!   `--retry-hold` full batches it writes are held back; they leave when it succeeds and are
//!   dropped, with whatever it still buffered, when it fails, so the retry repeats nothing.
//!   An attempt that writes more lets them go (memory stays bounded) and its retry repeats
//!   what had left.

use super::{InstanceInfo, PeError};
use crate::abort::Abort;
use crate::provenance::id::UnitId;
use crate::provenance::record::Tracer;
use crate::sink::Sink;
use crate::value::{measure, Value, MAX_DEPTH};
use std::sync::Arc;

/// A full batch held back during an attempt. The first held batch of a port may begin with
/// units written before the attempt: those survive a rollback.
#[derive(Debug)]
struct Held {
    port: usize,
    batch: Vec<Value>,
    /// Units (and their bytes) at its start that were written before the attempt.
    before: (usize, usize),
}

/// The per-port buffers of one instance, owned by the mapping between calls.
#[derive(Debug)]
pub struct OutputBuffers {
    ports: Arc<[Arc<str>]>,
    buffers: Vec<Vec<Value>>,
    /// Encoded bytes of the units in each buffer.
    bytes: Vec<usize>,
    batch_size: usize,
    batch_bytes: usize,
    max_unit_bytes: usize,
    abort: Option<Abort>,
    flushed: u64,
    flushes: u64,
    /// Per port: units and bytes buffered when the current attempt began (0 once a batch of
    /// the attempt has been flushed or held: all that is buffered then is the attempt's).
    marks: Vec<(usize, usize)>,
    in_attempt: bool,
    /// A batch of the current attempt has left: the rest passes straight through.
    released: bool,
    hold_limit: usize,
    /// Full batches of the current attempt, held back until it succeeds.
    held: Vec<Held>,
    held_units: usize,
    /// Empty buffers with capacity, for reuse.
    spare: Vec<Vec<Value>>,
    /// The provenance recorder, when provenance is on (it wraps every unit written).
    tracer: Option<Box<Tracer>>,
}

impl OutputBuffers {
    /// Empty buffers for the given output ports; a batch is flushed at `batch_size` units
    /// (no byte budget, no unit limit, nothing held back: see the `with_*` methods).
    pub fn new(ports: Arc<[Arc<str>]>, batch_size: usize) -> Self {
        let buffers = ports.iter().map(|_| Vec::new()).collect();
        let n = ports.len();
        OutputBuffers {
            ports,
            buffers,
            bytes: vec![0; n],
            batch_size: batch_size.max(1),
            batch_bytes: usize::MAX,
            max_unit_bytes: usize::MAX,
            abort: None,
            flushed: 0,
            flushes: 0,
            marks: vec![(0, 0); n],
            in_attempt: false,
            released: false,
            hold_limit: 0,
            held: Vec::new(),
            held_units: 0,
            spare: Vec::new(),
            tracer: None,
        }
    }

    /// Records provenance with `tracer`: every unit written from now on is wrapped with its
    /// id.
    pub(crate) fn set_tracer(&mut self, tracer: Box<Tracer>) {
        self.tracer = Some(tracer);
    }

    /// The provenance recorder, if provenance is on.
    pub(crate) fn tracer_mut(&mut self) -> Option<&mut Tracer> {
        self.tracer.as_deref_mut()
    }

    /// A batch is also full once its units take `bytes` bytes on the wire.
    pub fn with_byte_budget(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes.max(1);
        self
    }

    /// A unit taking more than `bytes` bytes on the wire fails the write (the frame limit of
    /// the multi-process mappings).
    pub fn with_unit_limit(mut self, bytes: usize) -> Self {
        self.max_unit_bytes = bytes;
        self
    }

    /// Sets the unit limit of [`OutputBuffers::with_unit_limit`] in place.
    pub fn set_unit_limit(&mut self, bytes: usize) {
        self.max_unit_bytes = bytes;
    }

    /// Holds back up to `batches` full batches of an attempt until it succeeds.
    pub fn with_retry_hold(mut self, batches: usize) -> Self {
        self.hold_limit = batches;
        self
    }

    /// The output port names.
    pub fn ports(&self) -> &[Arc<str>] {
        &self.ports
    }

    /// True if no unit waits in any buffer (nor is held back).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.buffers.iter().all(Vec::is_empty)
    }

    /// Units waiting in the buffers (held-back batches included).
    pub fn pending(&self) -> usize {
        self.held_units + self.buffers.iter().map(Vec::len).sum::<usize>()
    }

    /// Hands every non-empty buffer to `sink` (held-back batches first).
    pub fn flush_all(&mut self, sink: &mut dyn Sink) -> Result<(), Abort> {
        self.release_held(sink)?;
        for port in 0..self.buffers.len() {
            if !self.buffers[port].is_empty() {
                self.send(port, sink)?;
            }
        }
        Ok(())
    }

    /// Hands buffer `port` to the sink.
    fn send(&mut self, port: usize, sink: &mut dyn Sink) -> Result<(), Abort> {
        let buf = &mut self.buffers[port];
        self.flushes += 1;
        self.flushed += buf.len() as u64;
        self.bytes[port] = 0;
        sink.flush(port, buf)
    }

    /// Sends the held-back batches on, in the order they were written.
    fn release_held(&mut self, sink: &mut dyn Sink) -> Result<(), Abort> {
        if self.held.is_empty() {
            return Ok(());
        }
        let mut held = std::mem::take(&mut self.held);
        self.held_units = 0;
        let mut result = Ok(());
        for Held { port, mut batch, .. } in held.drain(..) {
            if result.is_ok() {
                self.flushes += 1;
                self.flushed += batch.len() as u64;
                result = sink.flush(port, &mut batch);
            }
            batch.clear();
            self.spare.push(batch);
        }
        self.held = held;
        result
    }

    /// A full buffer: held back while the current attempt may still fail, else sent on.
    fn full(&mut self, port: usize, sink: &mut dyn Sink) -> Result<(), Abort> {
        if self.in_attempt {
            // Whatever this port buffers from now on is the attempt's own.
            let before = std::mem::take(&mut self.marks[port]);
            if !self.released && self.held.len() < self.hold_limit {
                let spare = self.spare.pop().unwrap_or_default();
                let batch = std::mem::replace(&mut self.buffers[port], spare);
                self.held_units += batch.len();
                self.bytes[port] = 0;
                self.held.push(Held { port, batch, before });
                return Ok(());
            }
            // More than may be held: it all leaves, and so does the rest of this attempt.
            self.released = true;
            self.release_held(sink)?;
        }
        self.send(port, sink)
    }

    /// Units written so far, over all ports.
    pub fn written(&self) -> u64 {
        self.flushed + self.pending() as u64
    }

    /// Batches handed to a sink so far.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }

    /// Begins an attempt: remembers how full every buffer is, in case it fails.
    #[inline(always)]
    pub fn mark(&mut self) {
        for ((m, b), bytes) in self.marks.iter_mut().zip(&self.buffers).zip(&self.bytes) {
            *m = (b.len(), *bytes);
        }
        self.in_attempt = true;
        self.released = false;
    }

    /// The attempt succeeded: what it held back leaves now.
    #[inline(always)]
    pub fn commit(&mut self, sink: &mut dyn Sink) -> Result<(), Abort> {
        self.in_attempt = false;
        if self.held.is_empty() {
            return Ok(());
        }
        self.release_held(sink)
    }

    /// The attempt failed: drops everything it wrote that has not left (held-back batches
    /// and buffered units); returns false if some of it had already left.
    pub fn rollback(&mut self) -> bool {
        self.in_attempt = false;
        if let Some(t) = self.tracer.as_deref_mut() {
            t.rollback(!self.released);
        }
        for ((buf, bytes), (len, marked)) in self.buffers.iter_mut().zip(&mut self.bytes).zip(&self.marks) {
            buf.truncate(*len);
            *bytes = *marked;
        }
        self.held_units = 0;
        for Held { port, mut batch, before: (units, bytes) } in self.held.drain(..) {
            if units > 0 {
                // What was buffered before the attempt is back where it was.
                batch.truncate(units);
                let emptied = std::mem::replace(&mut self.buffers[port], batch);
                self.bytes[port] = bytes;
                self.spare.push(emptied);
            } else {
                batch.clear();
                self.spare.push(batch);
            }
        }
        !self.released
    }

    /// True if a write recorded an abort.
    #[inline]
    pub fn has_abort(&self) -> bool {
        self.abort.is_some()
    }

    /// The abort recorded by a write, if any (sticky: a PE that ignores a failed write
    /// cannot hide it).
    pub fn take_abort(&mut self) -> Option<Abort> {
        self.abort.take()
    }

    /// An [`Output`] writing into these buffers for `instance`, flushing into `sink`.
    pub fn writer<'a>(&'a mut self, instance: &'a InstanceInfo, sink: &'a mut dyn Sink) -> Output<'a> {
        Output { buffers: self, instance, sink }
    }
}

/// The writer a PE gets in `process` and `postprocess`.
///
/// ```
/// # use dispel4rs::{Output, PeError, Value};
/// fn split(line: Value, out: &mut Output<'_>) -> Result<(), PeError> {
///     for word in line.try_str()?.split_whitespace() {
///         out.write("output", (word.to_lowercase(), 1))?;
///     }
///     Ok(())
/// }
/// ```
pub struct Output<'a> {
    buffers: &'a mut OutputBuffers,
    instance: &'a InstanceInfo,
    sink: &'a mut dyn Sink,
}

impl Output<'_> {
    /// Writes one unit to the output named `port`. Fails if the PE has no such output, or
    /// if the run is being aborted.
    #[inline(always)]
    pub fn write(&mut self, port: &str, unit: impl Into<Value>) -> Result<(), PeError> {
        let index = self.port_index(port)?;
        self.push(index, unit)
    }

    /// Writes one unit to the output with index `port` (declaration order).
    #[inline(always)]
    pub fn write_at(&mut self, port: usize, unit: impl Into<Value>) -> Result<(), PeError> {
        if port >= self.buffers.buffers.len() {
            return Err(self.no_port_number(port));
        }
        self.push(port, unit)
    }

    /// The index of the output named `port`.
    #[inline(always)]
    pub fn port_index(&self, port: &str) -> Result<usize, PeError> {
        match self.buffers.ports.iter().position(|p| **p == *port) {
            Some(i) => Ok(i),
            None => Err(self.no_port_named(port)),
        }
    }

    #[cold]
    #[inline(never)]
    fn no_port_named(&self, port: &str) -> PeError {
        PeError::new(format!(
            "PE '{}' has no output port '{port}' (outputs: {})",
            self.instance.pe,
            list_names(&self.buffers.ports)
        ))
    }

    #[cold]
    #[inline(never)]
    fn no_port_number(&self, port: usize) -> PeError {
        PeError::new(format!(
            "{} has no output port number {port} (it has {})",
            self.instance.pe,
            self.buffers.buffers.len()
        ))
    }

    #[inline(always)]
    pub(crate) fn mark(&mut self) {
        self.buffers.mark();
    }

    /// Provenance: an invocation on the unit with id `input` begins.
    #[inline]
    pub(crate) fn trace_begin(&mut self, input: Option<UnitId>) {
        if let Some(t) = self.buffers.tracer.as_deref_mut() {
            t.begin(input);
        }
    }

    /// Provenance: the invocation succeeded.
    #[inline]
    pub(crate) fn trace_end(&mut self) {
        if let Some(t) = self.buffers.tracer.as_deref_mut() {
            t.end();
        }
    }

    #[inline]
    pub(crate) fn aborted(&self) -> bool {
        self.buffers.has_abort()
    }

    /// Which instance is running.
    pub fn instance(&self) -> &InstanceInfo {
        self.instance
    }

    /// Sends what is buffered now instead of when the batch fills (for PEs that want low
    /// latency on slow streams; the mappings also flush on their own when a PE goes idle).
    /// During a supervised attempt the batches leave when the attempt succeeds.
    pub fn flush(&mut self) -> Result<(), PeError> {
        let mut result = Ok(());
        for port in 0..self.buffers.buffers.len() {
            if result.is_ok() && !self.buffers.buffers[port].is_empty() {
                result = self.buffers.full(port, self.sink);
            }
        }
        self.check(result)
    }

    /// The supervised attempt succeeded: what it held back leaves now.
    #[inline(always)]
    pub(crate) fn commit(&mut self) {
        if self.buffers.held.is_empty() {
            self.buffers.in_attempt = false;
            return;
        }
        let result = self.buffers.commit(self.sink);
        let _ = self.check(result);
    }

    #[inline(always)]
    fn push(&mut self, port: usize, unit: impl Into<Value>) -> Result<(), PeError> {
        let b = &mut *self.buffers;
        let batch_size = b.batch_size;
        let buf = &mut b.buffers[port];
        let len = buf.len();
        if len == buf.capacity() {
            reserve_batch(buf, batch_size);
        }
        // Write straight into the spare capacity: with no possible reallocation between
        // building the value and storing it, the compiler builds it in place instead of on
        // the stack (a copy that costs a store-forwarding stall per unit).
        buf.spare_capacity_mut()[0].write(unit.into());
        // SAFETY: the slot at `len` was just initialised and is within the capacity.
        unsafe { buf.set_len(len + 1) };
        if let Some(t) = b.tracer.as_deref_mut() {
            t.stamp(port, &mut buf[len]);
        }
        let (size, depth) = measure(&buf[len]);
        if depth > MAX_DEPTH || size > self.buffers.max_unit_bytes {
            return Err(self.refuse(port, size, depth));
        }
        let total = self.buffers.bytes[port] + size;
        if total > self.buffers.batch_bytes && len > 0 {
            return self.flush_before_last(port, size);
        }
        self.buffers.bytes[port] = total;
        if len + 1 >= batch_size || total >= self.buffers.batch_bytes {
            return self.flush_full(port);
        }
        Ok(())
    }

    /// The unit just written would take its batch past the byte budget: the batch leaves
    /// without it, and it starts the next one.
    #[cold]
    #[inline(never)]
    fn flush_before_last(&mut self, port: usize, size: usize) -> Result<(), PeError> {
        let b = &mut *self.buffers;
        let Some(last) = b.buffers[port].pop() else { return Ok(()) };
        let result = b.full(port, self.sink);
        if let Err(abort) = result {
            return self.check(Err(abort));
        }
        let b = &mut *self.buffers;
        b.buffers[port].push(last);
        b.bytes[port] = size;
        if size >= b.batch_bytes || b.batch_size <= 1 {
            return self.flush_full(port);
        }
        Ok(())
    }

    /// The unit just written cannot cross every mapping: takes it back and says why.
    #[cold]
    #[inline(never)]
    fn refuse(&mut self, port: usize, size: usize, depth: usize) -> PeError {
        self.buffers.buffers[port].pop();
        let at = format!("PE '{}' output '{}'", self.instance.pe, self.buffers.ports[port]);
        if depth > MAX_DEPTH {
            PeError::new(format!(
                "{at}: a unit nested {depth} levels deep; at most {MAX_DEPTH} levels are allowed (the same in every mapping)"
            ))
        } else {
            PeError::new(format!(
                "{at}: a unit of {size} bytes is larger than one frame of this mapping can carry ({} bytes)",
                self.buffers.max_unit_bytes
            ))
        }
    }

    #[inline(never)]
    fn flush_full(&mut self, port: usize) -> Result<(), PeError> {
        let result = self.buffers.full(port, self.sink);
        self.check(result)
    }

    fn check(&mut self, result: Result<(), Abort>) -> Result<(), PeError> {
        result.map_err(|abort| {
            let e = PeError::aborted(abort.message().to_owned());
            self.buffers.abort = Some(abort);
            e
        })
    }
}

#[cold]
#[inline(never)]
fn reserve_batch(buf: &mut Vec<Value>, batch_size: usize) {
    buf.reserve(batch_size.max(1));
}

pub(crate) fn list_names<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::PeId;

    struct Recorder(Vec<(usize, Vec<Value>)>);

    impl Sink for Recorder {
        fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
            self.0.push((port, std::mem::take(batch)));
            Ok(())
        }
    }

    struct Broken;

    impl Sink for Broken {
        fn flush(&mut self, _: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
            batch.clear();
            Err(Abort::new(crate::AbortReason::PeerLost, "peer 3 died"))
        }
    }

    fn info() -> InstanceInfo {
        InstanceInfo { pe: "split".into(), pe_id: PeId::for_tests(0), index: 0, count: 1, global: 0 }
    }

    #[test]
    fn batches_flush_when_full_and_on_demand() {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("a"), Arc::from("b")].into();
        let mut bufs = OutputBuffers::new(ports, 2);
        let mut sink = Recorder(Vec::new());
        let info = info();
        {
            let mut out = bufs.writer(&info, &mut sink);
            out.write("a", 1).unwrap();
            out.write("b", 2).unwrap();
            out.write("a", 3).unwrap();
        }
        assert_eq!(sink.0, vec![(0, vec![Value::Int(1), Value::Int(3)])]);
        assert_eq!(bufs.pending(), 1);
        bufs.flush_all(&mut sink).unwrap();
        assert_eq!(sink.0[1], (1, vec![Value::Int(2)]));
        assert!(bufs.is_empty());
    }

    #[test]
    fn unknown_port_names_the_pe_and_its_ports() {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("output")].into();
        let mut bufs = OutputBuffers::new(ports, 8);
        let mut sink = Recorder(Vec::new());
        let info = info();
        let mut out = bufs.writer(&info, &mut sink);
        let e = out.write("ouput", 1).unwrap_err();
        assert_eq!(e.to_string(), "PE 'split' has no output port 'ouput' (outputs: output)");
        assert!(out.write_at(1, 1).is_err());
    }

    fn sizes(sink: &Recorder) -> Vec<usize> {
        sink.0.iter().map(|(_, b)| b.len()).collect()
    }

    #[test]
    fn a_batch_is_also_full_at_its_byte_budget_and_never_goes_past_it_but_for_one_unit() {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("output")].into();
        // 100-byte strings take 102 bytes each on the wire.
        let mut bufs = OutputBuffers::new(ports, 1000).with_byte_budget(1000);
        let mut sink = Recorder(Vec::new());
        let info = info();
        {
            let mut out = bufs.writer(&info, &mut sink);
            for _ in 0..25 {
                out.write("output", "x".repeat(100)).unwrap();
            }
            out.write("output", "y".repeat(5000)).unwrap(); // alone above the budget
            out.write("output", 1).unwrap();
        }
        assert_eq!(sizes(&sink), vec![9, 9, 7, 1], "9 × 102 ≤ 1000 < 10 × 102; the big unit alone");
        assert_eq!(bufs.pending(), 1);
    }

    #[test]
    fn units_above_the_unit_limit_or_too_deep_are_refused_naming_the_pe_and_port() {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("output")].into();
        let mut bufs = OutputBuffers::new(ports, 8).with_unit_limit(100);
        let mut sink = Recorder(Vec::new());
        let info = info();
        let mut out = bufs.writer(&info, &mut sink);
        let e = out.write("output", "z".repeat(200)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PE 'split' output 'output': a unit of 203 bytes is larger than one frame of this mapping can carry (100 bytes)"
        );
        let mut deep = Value::Null;
        for _ in 0..=MAX_DEPTH {
            deep = Value::List(vec![deep]);
        }
        let e = out.write("output", deep).unwrap_err();
        assert!(e.to_string().contains("129 levels deep; at most 128"), "{e}");
        out.write("output", 1).unwrap();
        assert_eq!(bufs.pending(), 1, "refused units are not kept");
    }

    #[test]
    fn an_attempt_holds_its_full_batches_until_commit_and_rollback_drops_them() {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("output")].into();
        let mut bufs = OutputBuffers::new(ports, 2).with_retry_hold(4);
        let mut sink = Recorder(Vec::new());
        let info = info();
        bufs.writer(&info, &mut sink).write("output", 0).unwrap(); // before any attempt
        bufs.mark();
        {
            let mut out = bufs.writer(&info, &mut sink);
            for i in 1..=4 {
                out.write("output", i).unwrap();
            }
        }
        assert!(sink.0.is_empty(), "held back");
        assert!(bufs.rollback(), "nothing had left");
        assert_eq!(bufs.pending(), 1, "back to the unit written before the attempt");
        bufs.mark();
        {
            let mut out = bufs.writer(&info, &mut sink);
            for i in 1..=4 {
                out.write("output", i).unwrap();
            }
            out.commit();
        }
        assert_eq!(sizes(&sink), vec![2, 2]);
        assert_eq!(bufs.pending(), 1);
        assert_eq!(bufs.written(), 5);
    }

    #[test]
    fn abort_is_sticky() {
        let ports: Arc<[Arc<str>]> = vec![Arc::from("output")].into();
        let mut bufs = OutputBuffers::new(ports, 1);
        let mut sink = Broken;
        let info = info();
        let e = bufs.writer(&info, &mut sink).write("output", 1).unwrap_err();
        assert!(e.is_abort());
        assert_eq!(bufs.take_abort(), Some(Abort::new(crate::AbortReason::PeerLost, "peer 3 died")));
    }
}
