//! The embedded interpreter: started once per process, before a graph module is loaded.
//!
//! * **Which Python**: the libpython the binary was built against (its rpath). Its own
//!   `site-packages` and the user's are on `sys.path` as usual; so is the virtual environment
//!   the binary is installed in (`<venv>/bin/dispel4rs`, as `pip install` puts it), and the one
//!   named by `VIRTUAL_ENV` (an activated venv) — so `import numpy` finds what `pip install`
//!   put there.
//! * **What it gets**: the built-in `dispel4py` and `dispel4rs` modules ([`crate::shim`]),
//!   first on `sys.meta_path`; the native module `_dispel4rs` (the [`Emitter`] class and the
//!   Rust PE registry); line-buffered `sys.stdout`/`sys.stderr`, so that what PEs print
//!   reaches the terminal (or the coordinator of a worker) line by line.
//! * **The GIL**: one interpreter per process, so Python PEs of one process run one at a
//!   time (Rust PEs are not held up). Processes are the way to many cores: `zmq_multi`,
//!   `mpi` and the Redis mappings run an interpreter in every process.

use crate::emitter::Emitter;
use crate::error::PythonError;
use crate::imports::format_exception;
use crate::registry::Registry;
use crate::shim;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyTuple};
use std::ffi::CString;
use std::sync::OnceLock;

static REGISTRY: OnceLock<Registry> = OnceLock::new();
static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
static BOOT: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Starts the interpreter (once per process; later calls return the first result). The
/// registry is what `RustPE(kind)` finds.
pub fn start(registry: Registry) -> Result<(), PythonError> {
    let _ = REGISTRY.set(registry);
    STARTED
        .get_or_init(|| {
            Python::initialize();
            Python::attach(|py| setup(py).map_err(|e| format_exception(py, &e)))
        })
        .clone()
        .map_err(PythonError::Startup)
}

/// The bootstrap module (after [`start`]).
pub(crate) fn boot(py: Python<'_>) -> Result<&Bound<'_, PyModule>, PythonError> {
    BOOT.get(py)
        .map(|m| m.bind(py))
        .ok_or_else(|| PythonError::Startup("the interpreter was not started".into()))
}

pub(crate) fn registry() -> &'static Registry {
    REGISTRY.get_or_init(Registry::with_builtins)
}

fn setup(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    for stream in ["stdout", "stderr"] {
        if let Ok(s) = sys.getattr(stream) {
            if s.hasattr("reconfigure")? {
                let kwargs = PyDict::new(py);
                kwargs.set_item("line_buffering", true)?;
                s.call_method("reconfigure", (), Some(&kwargs))?;
            }
        }
    }
    add_virtual_envs(py)?;

    let native = PyModule::new(py, "_dispel4rs")?;
    native.add_class::<Emitter>()?;
    native.add_function(wrap_pyfunction!(rust_pe_ports, &native)?)?;
    sys.getattr("modules")?.set_item("_dispel4rs", &native)?;

    let code =
        CString::new(shim::BOOT).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let boot = PyModule::from_code(py, &code, c"<dispel4rs>/_dispel4rs_boot.py", c"_dispel4rs_boot")?;
    let sources = PyDict::new(py);
    for (name, source, package) in shim::MODULES {
        sources.set_item(
            name,
            PyTuple::new(
                py,
                [source.into_pyobject(py)?.into_any(), package.into_pyobject(py)?.to_owned().into_any()],
            )?,
        )?;
    }
    boot.call_method1("install", (sources,))?;
    let _ = BOOT.set(py, boot.unbind());
    Ok(())
}

/// The virtual environments whose site-packages join `sys.path`: the one this binary is
/// installed in, and `VIRTUAL_ENV`.
fn add_virtual_envs(py: Python<'_>) -> PyResult<()> {
    let mut roots = Vec::new();
    if let Some(root) =
        std::env::current_exe().ok().and_then(|e| e.parent()?.parent().map(|p| p.to_path_buf()))
    {
        if root.join("pyvenv.cfg").is_file() {
            roots.push(root);
        }
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        let venv = std::path::PathBuf::from(venv);
        if venv.join("pyvenv.cfg").is_file() && !roots.contains(&venv) {
            roots.push(venv);
        }
    }
    if roots.is_empty() {
        return Ok(());
    }
    let version = py.version_info();
    let site = py.import("site")?;
    for root in roots {
        let dir =
            root.join("lib").join(format!("python{}.{}", version.major, version.minor)).join("site-packages");
        if dir.is_dir() {
            site.call_method1("addsitedir", (dir.to_string_lossy().as_ref(),))?;
        }
    }
    Ok(())
}

/// `_dispel4rs.rust_pe_ports(kind, config)`: the ports of a registered Rust PE, in
/// dispel4py's terms: `([(input, grouping)], [output], numprocesses or None)`.
#[pyfunction]
fn rust_pe_ports<'py>(
    py: Python<'py>,
    kind: &str,
    config: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let config = crate::convert::to_value(config, crate::convert::Encoding::Plain)?;
    let (spec, _) =
        registry().make(kind, &config).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let inputs = spec
        .inputs
        .iter()
        .map(|i| Ok((i.name.clone(), crate::translate::grouping_to_python(py, &i.grouping)?)))
        .collect::<PyResult<Vec<_>>>()?;
    let outputs: Vec<String> = spec.outputs.iter().map(|o| o.name.clone()).collect();
    (inputs, outputs, spec.numprocesses).into_pyobject(py)
}
