//! The Python sources built into the `dispel4rs` command: the `dispel4py` shim (`core`,
//! `base`, `workflow_graph`), the `dispel4rs` extension module (`RustPE`) and the bootstrap
//! that serves them (see `shim/boot.py`).
//!
//! They are compiled into the binary rather than installed as a package: a `dispel4py`
//! package in the wheel would overwrite (or be overwritten by) a real dispel4py installed in
//! the same environment, and a graph run by `dispel4rs` must get these, whatever else is
//! installed. Plain `python` keeps seeing the real dispel4py.

/// The bootstrap module `_dispel4rs_boot`.
pub(crate) const BOOT: &str = include_str!("shim/boot.py");

/// `(module name, source, is a package)` of every built-in module.
pub(crate) const MODULES: &[(&str, &str, bool)] = &[
    ("dispel4py", include_str!("shim/dispel4py/__init__.py"), true),
    ("dispel4py.core", include_str!("shim/dispel4py/core.py"), false),
    ("dispel4py.base", include_str!("shim/dispel4py/base.py"), false),
    ("dispel4py.workflow_graph", include_str!("shim/dispel4py/workflow_graph.py"), false),
    ("dispel4rs", include_str!("shim/dispel4rs/__init__.py"), true),
];
