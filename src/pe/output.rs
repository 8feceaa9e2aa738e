//! [`Output`]: how a PE writes data units. Writes go into a per-port batch buffer; a full
//! batch is handed to the mapping's [`Sink`], which routes it on (and, under `simple`,
//! processes it downstream right away, so memory stays flat however much a call writes).

use super::{InstanceInfo, PeError};
use crate::abort::Abort;
use crate::sink::Sink;
use crate::value::Value;
use std::sync::Arc;

/// The per-port buffers of one instance, owned by the mapping between calls.
#[derive(Debug)]
pub struct OutputBuffers {
    ports: Arc<[Arc<str>]>,
    buffers: Vec<Vec<Value>>,
    batch_size: usize,
    abort: Option<Abort>,
    flushed: u64,
    flushes: u64,
    marks: Vec<usize>,
    marked_flushes: u64,
}

impl OutputBuffers {
    /// Empty buffers for the given output ports; a batch is flushed at `batch_size` units.
    pub fn new(ports: Arc<[Arc<str>]>, batch_size: usize) -> Self {
        let buffers = ports.iter().map(|_| Vec::new()).collect();
        let marks = vec![0; ports.len()];
        OutputBuffers {
            ports,
            buffers,
            batch_size: batch_size.max(1),
            abort: None,
            flushed: 0,
            flushes: 0,
            marks,
            marked_flushes: 0,
        }
    }

    /// The output port names.
    pub fn ports(&self) -> &[Arc<str>] {
        &self.ports
    }

    /// True if no unit waits in any buffer.
    pub fn is_empty(&self) -> bool {
        self.buffers.iter().all(Vec::is_empty)
    }

    /// Units waiting in the buffers.
    pub fn pending(&self) -> usize {
        self.buffers.iter().map(Vec::len).sum()
    }

    /// Hands every non-empty buffer to `sink`.
    pub fn flush_all(&mut self, sink: &mut dyn Sink) -> Result<(), Abort> {
        for (port, buf) in self.buffers.iter_mut().enumerate() {
            if !buf.is_empty() {
                self.flushes += 1;
                self.flushed += buf.len() as u64;
                sink.flush(port, buf)?;
            }
        }
        Ok(())
    }

    /// Units written so far, over all ports.
    pub fn written(&self) -> u64 {
        self.flushed + self.pending() as u64
    }

    /// Batches handed to a sink so far.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }

    /// Remembers how full every buffer is (before an attempt that may fail).
    #[inline(always)]
    pub fn mark(&mut self) {
        for (m, b) in self.marks.iter_mut().zip(&self.buffers) {
            *m = b.len();
        }
        self.marked_flushes = self.flushes;
    }

    /// Drops what was written since [`Self::mark`] (what a failed attempt wrote), if none of
    /// it has been flushed yet; returns false if some of it had already left.
    pub fn rollback(&mut self) -> bool {
        if self.flushes != self.marked_flushes {
            return false;
        }
        for (buf, len) in self.buffers.iter_mut().zip(&self.marks) {
            buf.truncate(*len);
        }
        true
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
    pub fn flush(&mut self) -> Result<(), PeError> {
        let result = self.buffers.flush_all(self.sink);
        self.check(result)
    }

    #[inline(always)]
    fn push(&mut self, port: usize, unit: impl Into<Value>) -> Result<(), PeError> {
        let batch_size = self.buffers.batch_size;
        let buf = &mut self.buffers.buffers[port];
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
        if len + 1 >= batch_size {
            return self.flush_full(port);
        }
        Ok(())
    }

    #[inline(never)]
    fn flush_full(&mut self, port: usize) -> Result<(), PeError> {
        let buf = &mut self.buffers.buffers[port];
        self.buffers.flushes += 1;
        self.buffers.flushed += buf.len() as u64;
        let result = self.sink.flush(port, buf);
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
