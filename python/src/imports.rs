//! Python modules and functions the boundary uses, imported once per process.

use pyo3::prelude::*;

/// numpy, when the graph uses it (never imported for graphs that do not).
pub(crate) mod numpy {
    use pyo3::prelude::*;
    use pyo3::sync::PyOnceLock;
    use pyo3::types::{PyModule, PyType};

    /// The numpy module and the two types the boundary checks for.
    pub(crate) struct Numpy {
        pub(crate) module: Py<PyModule>,
        pub(crate) ndarray: Py<PyType>,
        pub(crate) generic: Py<PyType>,
    }

    static NUMPY: PyOnceLock<Option<Numpy>> = PyOnceLock::new();

    fn import(py: Python<'_>) -> Option<Numpy> {
        let module = py.import("numpy").ok()?;
        let ndarray = module.getattr("ndarray").ok()?.cast_into::<PyType>().ok()?.unbind();
        let generic = module.getattr("generic").ok()?.cast_into::<PyType>().ok()?.unbind();
        Some(Numpy { module: module.unbind(), ndarray, generic })
    }

    /// numpy if some code of this process imported it (no numpy object can exist otherwise).
    pub(crate) fn loaded(py: Python<'_>) -> Option<&Numpy> {
        if let Some(np) = NUMPY.get(py) {
            return np.as_ref();
        }
        let in_use = py
            .import("sys")
            .and_then(|sys| sys.getattr("modules"))
            .and_then(|m| m.contains("numpy"))
            .unwrap_or(false);
        if in_use {
            imported(py)
        } else {
            None
        }
    }

    /// numpy, imported now if it is installed.
    pub(crate) fn imported(py: Python<'_>) -> Option<&Numpy> {
        NUMPY.get_or_init(py, || import(py)).as_ref()
    }
}

/// pickle, for the objects that have no plain form.
pub(crate) mod pickle {
    use pyo3::prelude::*;
    use pyo3::sync::PyOnceLock;
    use pyo3::types::PyBytes;

    static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

    /// `pickle.dumps(obj, protocol=5)`.
    pub(crate) fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        let py = obj.py();
        let f = DUMPS.import(py, "pickle", "dumps")?;
        Ok(f.call1((obj, 5))?.cast_into::<PyBytes>()?.as_bytes().to_vec())
    }

    /// `pickle.loads(bytes)`.
    pub(crate) fn loads<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let f = LOADS.import(py, "pickle", "loads")?;
        f.call1((PyBytes::new(py, bytes),))
    }
}

/// The Python exception `err` with its traceback, as Python prints it.
pub(crate) fn format_exception(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| {
            tb.call_method1("format_exception", (err.get_type(py), err.value(py), err.traceback(py)))
        })
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_owned(),
        Err(_) => err.to_string(),
    }
}

/// `copy.deepcopy(obj)`.
pub(crate) fn deepcopy<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    obj.py().import("copy")?.call_method1("deepcopy", (obj,))
}
