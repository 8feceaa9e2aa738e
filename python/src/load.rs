//! Finding the graph of a module or file, as dispel4py finds it.
//!
//! `MODULE_OR_FILE` is a dotted module name (imported from `sys.path`, the current directory
//! included) or a `.py` file (loaded as a module named after the file, its directory first on
//! `sys.path`, as `python file.py` would). The graph is the module attribute named by
//! `-a/--attr`, or else the last module-level `WorkflowGraph` in `dir()` order that is not a
//! composite — dispel4py's rule.

use crate::error::PythonError;
use crate::imports::format_exception;
use crate::interpreter::boot;
use pyo3::prelude::*;

/// The graph object of `source` (the interpreter must be started).
pub fn load_graph(py: Python<'_>, source: &str, attr: Option<&str>) -> Result<Py<PyAny>, PythonError> {
    let boot = boot(py)?;
    match boot.call_method1("load_graph", (source, attr)) {
        Ok(graph) => Ok(graph.unbind()),
        Err(e) => {
            let not_found =
                boot.getattr("LoadError").is_ok_and(|cls| e.value(py).is_instance(&cls).unwrap_or(false));
            if not_found {
                Err(PythonError::NotFound {
                    source_name: source.to_owned(),
                    message: e.value(py).to_string(),
                })
            } else {
                Err(PythonError::Raised {
                    source_name: source.to_owned(),
                    traceback: format_exception(py, &e),
                })
            }
        }
    }
}
