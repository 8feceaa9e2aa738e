//! # dispel4rs-python
//!
//! Python PEs on the dispel4rs runtime. The `dispel4rs` command (this crate's binary, also
//! installed by the wheel of `python/pyproject.toml`) runs a graph module written for
//! dispel4py — `from dispel4py.core import GenericPE`, `from dispel4py.base import
//! IterativePE, ...`, `from dispel4py.workflow_graph import WorkflowGraph` — unchanged, under
//! every dispel4rs mapping:
//!
//! ```text
//! dispel4rs simple my_workflow.py -d '{"read": [{"input": "data.csv"}]}'
//! dispel4rs zmq_multi -n 8 my_workflow.py -i 100
//! mpirun -n 8 dispel4rs mpi graph.py -i 100
//! ```
//!
//! The design: an embedded CPython runs the graph module, with a `dispel4py` shim built into
//! the binary; the graph it builds is translated into a dispel4rs [`WorkflowGraph`](dispel4rs::WorkflowGraph)
//! whose PEs hold the Python objects; the runtime (supervision, backpressure, groupings,
//! termination, transports) is dispel4rs's own. Multi-process mappings re-execute the binary,
//! so every process has an interpreter of its own and loads the module once.
//!
//! ## Crate map
//!
//! | module | concept |
//! |---|---|
//! | [`command`] | the `dispel4rs` command line |
//! | [`interpreter`] | starting the embedded Python: virtual environments, the shim, the native module |
//! | [`shim`] | the built-in Python sources: `dispel4py.core`, `.base`, `.workflow_graph`, `dispel4rs` |
//! | [`load`] | finding the graph of a module or file, as dispel4py does |
//! | [`translate`] | the Python graph → a dispel4rs `WorkflowGraph` (names, ports, groupings, instances) |
//! | [`pe`] | [`PyPe`]: a Python PE instance as a dispel4rs `Pe` |
//! | [`emitter`] | [`Emitter`]: `write` and `log` of a Python PE, bound to the runtime's `Output` |
//! | [`convert`] | data units across the boundary: Python objects ↔ `Value` |
//! | [`registry`] | [`Registry`]: Rust PEs by name for Python graphs (`RustPE("kind")`) |
//! | [`builtin`] | the Rust PEs of the stock binary |
//! | [`rust_pe`] | [`PlainInputs`](rust_pe::PlainInputs): a Rust PE reading plain units |
//! | [`error`] | [`PythonError`] |
#![warn(missing_docs)]

pub mod builtin;
pub mod command;
pub mod convert;
pub mod emitter;
pub mod error;
pub(crate) mod imports;
pub mod interpreter;
pub mod load;
pub mod pe;
pub mod registry;
pub mod rust_pe;
pub mod shim;
pub mod translate;

pub use emitter::Emitter;
pub use error::PythonError;
pub use pe::PyPe;
pub use registry::Registry;
