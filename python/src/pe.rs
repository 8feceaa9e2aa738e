//! [`PyPe`]: a dispel4py PE (a Python object) as a dispel4rs [`Pe`].
//!
//! Each instance is a `copy.deepcopy` of the object the graph module built (made again on a
//! restart), so instances share nothing, as dispel4py's processes share nothing. The runtime
//! calls it the way dispel4py's mappings do:
//!
//! * `preprocess()` once per instance, after its `write` and `log` are bound to the runtime
//!   and `pe.rank` is set (the instance's number in the plan);
//! * `process(inputs)` per data unit, `inputs` being `{input name: unit}` — for a root,
//!   `{}` per `-i` iteration or the `-d`/`-f` object itself; a returned dict is written
//!   output by output, after what the call wrote with `write`;
//! * `postprocess()` at end of stream (it may still write).
//!
//! A Python exception fails the unit like any PE error: the instance is restarted (a fresh
//! copy, `preprocess` again), the unit retried and then dead-lettered, with the Python
//! traceback as the error. One batch of units runs under one acquisition of the GIL.

use crate::convert::to_python;
use crate::emitter::{Emitter, PortEncoding};
use crate::imports::{deepcopy, format_exception};
use dispel4rs::pe::Batch;
use dispel4rs::{InstanceInfo, Output, Pe, PeError, PeSpec, Value};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{intern, PyErr};
use std::sync::Arc;

/// What every instance of one Python PE shares: the object to copy and how to call it.
pub(crate) struct Prototype {
    pub(crate) spec: PeSpec,
    pub(crate) object: Py<PyAny>,
    pub(crate) outputs: Vec<PortEncoding>,
    pub(crate) is_root: bool,
    pub(crate) attach: Py<PyAny>,
}

/// One instance of a Python PE (see the [module documentation](self)).
pub struct PyPe {
    proto: Arc<Prototype>,
    name: Arc<str>,
    /// The instance's object, or why it could not be made (reported by `preprocess`).
    object: Result<Py<PyAny>, String>,
    emitter: Py<Emitter>,
    /// Input names as Python strings, in spec order.
    inputs: Vec<Py<PyString>>,
}

impl PyPe {
    /// A fresh instance of `proto`.
    pub(crate) fn new(proto: Arc<Prototype>) -> Self {
        let name: Arc<str> = Arc::from(proto.spec.name.as_str());
        Python::attach(|py| {
            let object = deepcopy(proto.object.bind(py)).map(Bound::unbind).map_err(|e| {
                format!("cannot make an instance of PE {name} (copy.deepcopy of the graph's PE failed; open files and connections in preprocess instead of __init__):\n{}", format_exception(py, &e))
            });
            let emitter = Py::new(py, Emitter::new(name.clone(), proto.outputs.clone()))
                .expect("creating a Python object of a registered class");
            let inputs = proto.spec.inputs.iter().map(|i| PyString::intern(py, &i.name).unbind()).collect();
            PyPe { proto, name, object, emitter, inputs }
        })
    }

    fn object<'py>(&self, py: Python<'py>) -> Result<&Bound<'py, PyAny>, PeError> {
        match &self.object {
            Ok(o) => Ok(o.bind(py)),
            Err(why) => Err(PeError::new(why.clone())),
        }
    }

    fn python_error(&self, py: Python<'_>, call: &str, err: &PyErr) -> PeError {
        PeError::new(format!("Python PE {} failed in {call}:\n{}", self.name, format_exception(py, err)))
    }

    fn process_unit(
        &mut self,
        py: Python<'_>,
        port: &str,
        unit: Value,
        out: &mut Output<'_>,
    ) -> Result<(), PeError> {
        let obj = self.object(py)?.clone();
        let inputs = if self.proto.is_root {
            match &unit {
                Value::Null => PyDict::new(py).into_any(),
                other => to_python(py, other).map_err(|e| self.python_error(py, "reading its input", &e))?,
            }
        } else {
            let dict = PyDict::new(py);
            let value = to_python(py, &unit).map_err(|e| self.python_error(py, "reading its input", &e))?;
            match self.proto.spec.inputs.iter().position(|i| i.name == port) {
                Some(i) => dict.set_item(self.inputs[i].bind(py), value),
                None => dict.set_item(port, value),
            }
            .map_err(|e| self.python_error(py, "reading its input", &e))?;
            dict.into_any()
        };
        let emitter = self.emitter.get();
        let binding = emitter.bind(out);
        let returned = obj
            .call_method1(intern!(py, "process"), (inputs,))
            .map_err(|e| self.python_error(py, "process", &e))?;
        if !returned.is_none() {
            let outputs = returned.cast::<PyDict>().map_err(|_| {
                PeError::new(format!(
                    "Python PE {}: process returned {}, not a dict of outputs or None",
                    self.name,
                    returned.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into())
                ))
            })?;
            for (port, data) in outputs.iter() {
                emitter
                    .write_object(py, &port, &data)
                    .map_err(|e| self.python_error(py, "writing what process returned", &e))?;
            }
        }
        binding.finish(py)
    }
}

impl Pe for PyPe {
    fn spec(&self) -> PeSpec {
        self.proto.spec.clone()
    }

    fn preprocess(&mut self, instance: &InstanceInfo) -> Result<(), PeError> {
        Python::attach(|py| {
            let obj = self.object(py)?.clone();
            let emitter = self.emitter.get();
            emitter.set_label(instance.to_string());
            self.proto
                .attach
                .bind(py)
                .call1((&obj, self.emitter.bind(py), instance.global))
                .map_err(|e| self.python_error(py, "being set up", &e))?;
            obj.call_method0(intern!(py, "preprocess"))
                .map_err(|e| self.python_error(py, "preprocess", &e))?;
            Ok(())
        })
    }

    fn process(&mut self, port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        Python::attach(|py| self.process_unit(py, port, unit, out))
    }

    fn process_batch(&mut self, port: &str, batch: &mut Batch<'_>, out: &mut Output<'_>) {
        Python::attach(|py| {
            while let Some(unit) = batch.next() {
                batch.supervise(unit, out, |unit, out| self.process_unit(py, port, unit, out));
            }
        })
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        Python::attach(|py| {
            let obj = self.object(py)?.clone();
            let emitter = self.emitter.get();
            let binding = emitter.bind(out);
            obj.call_method0(intern!(py, "postprocess"))
                .map_err(|e| self.python_error(py, "postprocess", &e))?;
            let result = binding.finish(py);
            emitter.close();
            result
        })
    }
}
