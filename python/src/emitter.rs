//! [`Emitter`]: what a Python PE instance's `write` and `log` call into.
//!
//! A Python PE writes while Rust is inside one of its calls (`process`, `postprocess`), with
//! the instance's [`Output`] borrowed by that call. The emitter holds a pointer to that
//! `Output` only for the duration of the call ([`Emitter::bind`] returns a guard that clears
//! it, also on panic), converts each written object to a [`Value`] at once (so a PE that
//! mutates an object after writing it does not change what was sent), and hands the values
//! to the `Output` in runs of [`FLUSH_EVERY`] with the GIL released: handing them over may
//! block on backpressure or, under `simple`, run the downstream PEs — Python ones among them,
//! which need the GIL.
//!
//! Writes while no call is running (from `preprocess`, or from a thread the PE started) are
//! queued and delivered with the next call; after `postprocess` they are refused.

use crate::convert::{to_value, Encoding};
use dispel4rs::{Output, PeError, Value};
use pyo3::exceptions::{PyKeyError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

/// Written units are handed to the runtime in runs of this many.
pub const FLUSH_EVERY: usize = 256;

/// A pointer to the `Output` of the call in progress.
struct Target(*mut Output<'static>);

// SAFETY: the pointer is only dereferenced by the thread running the call that bound it,
// or by another thread while that call is suspended in Python (a PE's own thread writing),
// in both cases under `Emitter::output`, which serialises every use; `bind`'s guard clears
// it before the borrow it came from ends.
unsafe impl Send for Target {}

/// One output port: its name and how its units are encoded.
#[derive(Clone, Debug)]
pub(crate) struct PortEncoding {
    pub(crate) name: Arc<str>,
    pub(crate) encoding: Encoding,
}

struct State {
    target: Option<Target>,
    pending: Vec<(usize, Value)>,
    /// Why writing stopped (the run is aborting), reported at the end of the call.
    failed: Option<String>,
    /// `postprocess` has run: later writes are refused.
    closed: bool,
    label: String,
}

/// The runtime side of a Python PE instance's `write` and `log` (see the
/// [module documentation](self)).
#[pyclass(frozen, module = "_dispel4rs")]
pub struct Emitter {
    ports: Vec<PortEncoding>,
    pe: Arc<str>,
    state: Mutex<State>,
    /// Held (with the GIL released) while values are handed to the `Output`.
    output: Mutex<()>,
}

impl Emitter {
    pub(crate) fn new(pe: Arc<str>, ports: Vec<PortEncoding>) -> Self {
        Emitter {
            ports,
            state: Mutex::new(State {
                target: None,
                pending: Vec::new(),
                failed: None,
                closed: false,
                label: pe.to_string(),
            }),
            pe,
            output: Mutex::new(()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names the instance in log lines (`pe[index/count]`).
    pub(crate) fn set_label(&self, label: String) {
        self.state().label = label;
    }

    /// Binds `out` for the duration of one call; writes go to it until the guard is dropped.
    pub(crate) fn bind<'e, 'a, 'o>(&'e self, out: &'a mut Output<'o>) -> Binding<'e, 'a, 'o> {
        let ptr = (out as *mut Output<'o>).cast::<Output<'static>>();
        self.state().target = Some(Target(ptr));
        Binding { emitter: self, _out: PhantomData }
    }

    /// Ends the instance's stream (after `postprocess`): later writes are refused.
    pub(crate) fn close(&self) {
        self.state().closed = true;
    }

    /// Converts and queues one write; hands a full run over.
    pub(crate) fn write_object(
        &self,
        py: Python<'_>,
        port: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let name = port.cast::<PyString>().map_err(|_| {
            PyKeyError::new_err(format!(
                "Can't write data: output names are strings, not {port:?} (PE {})",
                self.pe
            ))
        })?;
        let name = name.to_str()?;
        let Some(index) = self.ports.iter().position(|p| &*p.name == name) else {
            let known: Vec<&str> = self.ports.iter().map(|p| &*p.name).collect();
            return Err(PyKeyError::new_err(format!(
                "Can't write data: Unknown output connection {name} for PE {} (outputs: {})",
                self.pe,
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        };
        let value = to_value(data, self.ports[index].encoding).map_err(|e| {
            PyRuntimeError::new_err(format!("PE {} cannot write to '{name}': {}", self.pe, e.value(py)))
        })?;
        let full = {
            let mut state = self.state();
            if state.closed {
                return Err(PyRuntimeError::new_err(format!(
                    "PE {} wrote to '{name}' after its postprocess: the stream has ended",
                    self.pe
                )));
            }
            state.pending.push((index, value));
            state.pending.len() >= FLUSH_EVERY && state.target.is_some()
        };
        if full {
            self.hand_over(py).map_err(PyRuntimeError::new_err)?;
        }
        Ok(())
    }

    /// Hands the queued values to the bound `Output`, with the GIL released.
    fn hand_over(&self, py: Python<'_>) -> Result<(), String> {
        let (pending, target) = {
            let mut state = self.state();
            if let Some(why) = &state.failed {
                return Err(why.clone());
            }
            let Some(ptr) = state.target.as_ref().map(|t| t.0) else { return Ok(()) };
            (std::mem::take(&mut state.pending), Target(ptr))
        };
        let result: Result<(), String> = py.detach(|| {
            let _serialised = self.output.lock().unwrap_or_else(|p| p.into_inner());
            let target = target;
            // SAFETY: see `Target`: the call that bound this pointer is still running (the
            // guard clears it before the borrow ends, and we hold a copy only while bound).
            let out = unsafe { &mut *target.0 };
            for (port, value) in pending {
                out.write_at(port, value).map_err(|e| e.message().to_owned())?;
            }
            Ok(())
        });
        if let Err(why) = &result {
            self.state().failed = Some(why.clone());
        }
        result
    }
}

/// An `Output` bound to an [`Emitter`] for one call (see [`Emitter::bind`]).
pub(crate) struct Binding<'e, 'a, 'o> {
    emitter: &'e Emitter,
    _out: PhantomData<&'a mut Output<'o>>,
}

impl Binding<'_, '_, '_> {
    /// Delivers what the call wrote; an error if the run is being aborted.
    pub(crate) fn finish(self, py: Python<'_>) -> Result<(), PeError> {
        let result = self.emitter.hand_over(py);
        let failed = self.emitter.state().failed.take();
        match (result, failed) {
            (Err(why), _) | (Ok(()), Some(why)) => Err(PeError::aborted(why)),
            (Ok(()), None) => Ok(()),
        }
    }
}

impl Drop for Binding<'_, '_, '_> {
    fn drop(&mut self) {
        let mut state = self.emitter.state();
        state.target = None;
        // What a failed call wrote is dropped with it (the unit is retried or dead-lettered).
        state.pending.clear();
    }
}

#[pymethods]
impl Emitter {
    /// `pe.write(name, data)`.
    #[pyo3(signature = (name, data, **_kwargs))]
    fn write(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.write_object(py, name, data)
    }

    /// `pe.log(msg)`: a log line naming the instance.
    fn log(&self, msg: &str) {
        let label = self.state().label.clone();
        tracing::info!(target: "dispel4py", "{label}: {msg}");
    }

    /// Copies of a PE share its runtime binding (a PE that deep-copies itself keeps writing).
    fn __deepcopy__(slf: Py<Self>, _memo: &Bound<'_, PyAny>) -> Py<Self> {
        slf
    }

    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }
}
