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

/// The Python exception `err` with its traceback, as Python prints it, without the frames of
/// the dispel4rs bootstrap and of importlib (the user's frames, and the shim's, stay).
pub(crate) fn format_exception(py: Python<'_>, err: &PyErr) -> String {
    const FORMAT: &std::ffi::CStr = c"def _format(exc):
    import traceback
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not (f.filename.startswith('<dispel4rs>/_dispel4rs_boot') or f.filename.startswith('<frozen '))]
    lines = ['Traceback (most recent call last):\\n'] + traceback.format_list(frames) if frames else []
    return ''.join(lines + traceback.format_exception_only(type(exc), exc))
";
    let formatted = (|| -> PyResult<String> {
        let globals = pyo3::types::PyDict::new(py);
        py.run(FORMAT, Some(&globals), None)?;
        let f =
            globals.get_item("_format")?.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err("_format"))?;
        let value = err.value(py);
        if let Some(tb) = err.traceback(py) {
            value.setattr("__traceback__", tb)?;
        }
        f.call1((value,))?.extract()
    })();
    match formatted {
        Ok(text) => text.trim_end().to_owned(),
        Err(_) => err.to_string(),
    }
}

/// `copy.deepcopy(obj)`.
pub(crate) fn deepcopy<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    obj.py().import("copy")?.call_method1("deepcopy", (obj,))
}
