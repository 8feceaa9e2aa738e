//! A dispel4py graph (Python objects) → a dispel4rs [`WorkflowGraph`].
//!
//! Read from each PE exactly as dispel4py reads it:
//!
//! * **name**: the PE's `id` (`<name><node number>`, given when it joined the graph), which
//!   is what dispel4py prints and what `-d` keys may name (or the PE's `name`, see the
//!   README on roots);
//! * **ports**: the keys of `inputconnections` and `outputconnections`, in order;
//! * **groupings**, on the input: a list of fields `[i, j]` → `group_by`, `'all'` →
//!   `one_to_all`, `'global'` → `all_to_one`, nothing → `shuffle` (anything else: `shuffle`
//!   with a warning, as dispel4py sends it round robin);
//! * **instances**: `numprocesses > 1` asks for exactly that many; otherwise the PE shares
//!   `-n` with the others (as dispel4py's fixed mappings do);
//! * **state**: a grouped input makes a PE stateful (the dynamic mappings refuse it), as does
//!   `stateful = True` on the PE.
//!
//! Composites and `create_iterative_chain` are flattened as in dispel4py (by the shim);
//! every connection into a composite's input reaches the inner PE. Python PEs are `blocking`
//! (under `multi` each instance has a thread of its own: waiting for the GIL must not stall
//! the Rust PEs of a shared thread). A `RustPE` becomes the registry's PE, renamed and with
//! the groupings and `numprocesses` the Python side gives it.

use crate::convert::{to_value, Encoding};
use crate::emitter::PortEncoding;
use crate::error::PythonError;
use crate::imports::{deepcopy, format_exception};
use crate::interpreter::{boot, registry};
use crate::pe::{Prototype, PyPe};
use crate::rust_pe::PlainInputs;
use dispel4rs::pe::PeFactory;
use dispel4rs::value::Field;
use dispel4rs::{Grouping, Pe, PeSpec, WorkflowGraph};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::collections::HashSet;
use std::sync::Arc;

/// A connection as the shim describes it: (from id, from port, to id, to port).
type Wire = (String, String, String, String);

/// A PE as the shim describes it: (object, id, inputs (name, grouping kind, fields),
/// outputs, numprocesses, stateful, Rust kind).
type Described<'py> = (
    Bound<'py, PyAny>,
    String,
    Vec<(String, String, Bound<'py, PyList>)>,
    Vec<String>,
    i64,
    bool,
    Option<String>,
);

/// A translated graph and what `-d` keys may name its PEs by.
pub struct Translated {
    /// The graph to run.
    pub graph: WorkflowGraph,
    /// `(name, id)` of every PE, in graph order: dispel4py lets `-d` name a PE by its `name`
    /// (the first PE of that name) as well as by its id.
    pub names: Vec<(String, String)>,
}

/// Builds the dispel4rs graph named `name` from the Python graph object `graph`.
pub fn translate(py: Python<'_>, graph: &Bound<'_, PyAny>, name: &str) -> Result<Translated, PythonError> {
    let boot = boot(py)?;
    let raised =
        |e: PyErr| PythonError::Raised { source_name: name.to_owned(), traceback: format_exception(py, &e) };
    let described = boot.call_method1("describe", (graph,)).map_err(|e| {
        let load_error =
            boot.getattr("LoadError").is_ok_and(|c| e.value(py).is_instance(&c).unwrap_or(false));
        if load_error {
            PythonError::NotFound { source_name: name.to_owned(), message: e.value(py).to_string() }
        } else {
            raised(e)
        }
    })?;
    let (pes, wires): (Vec<Bound<'_, PyAny>>, Vec<Wire>) = described.extract().map_err(raised)?;
    let has_input: HashSet<&str> = wires.iter().map(|w| w.2.as_str()).collect();
    let connected: HashSet<(&str, &str)> = wires.iter().map(|w| (w.0.as_str(), w.1.as_str())).collect();
    let attach = boot.getattr("attach").map_err(raised)?.unbind();

    let mut g = WorkflowGraph::new(name);
    let mut names = Vec::new();
    for entry in &pes {
        let (object, id, inputs, outputs, numprocesses, stateful, rust_kind): Described<'_> =
            entry.extract().map_err(raised)?;
        let pe_error = |message: String| PythonError::Pe { pe: id.clone(), message };
        if let Ok(pe_name) = object.getattr("name").and_then(|n| n.extract::<String>()) {
            names.push((pe_name, id.clone()));
        }
        let mut spec = PeSpec::new(&id);
        for (port, kind, fields) in &inputs {
            let grouping = grouping(kind, fields).map_err(|m| pe_error(format!("input '{port}': {m}")))?;
            spec = spec.input_grouped(port, grouping);
        }
        for port in &outputs {
            spec = spec.output(port);
        }
        if numprocesses < 1 {
            return Err(pe_error(format!("numprocesses is {numprocesses}; it must be at least 1")));
        }
        if numprocesses > 1 {
            spec = spec.numprocesses(numprocesses as usize);
        }
        if stateful {
            spec = spec.stateful();
        }
        let factory: PeFactory = match rust_kind {
            Some(kind) => rust_factory(py, &object, &kind, &mut spec).map_err(|e| match e {
                RustPeError::Registry(error) => PythonError::Registry { pe: id.clone(), error },
                RustPeError::Python(e) => pe_error(format!("its RustPE configuration: {}", e.value(py))),
                RustPeError::Ports(m) => pe_error(m),
            })?,
            None => {
                // One copy now: a PE that cannot be copied fails here, before anything runs.
                deepcopy(&object).map_err(|e| {
                    pe_error(format!(
                        "copy.deepcopy of it failed, and every instance is a copy (open files and connections in preprocess instead of __init__):\n{}",
                        format_exception(py, &e)
                    ))
                })?;
                let outputs = spec
                    .outputs
                    .iter()
                    .map(|o| PortEncoding {
                        name: Arc::from(o.name.as_str()),
                        encoding: if connected.contains(&(id.as_str(), o.name.as_str())) {
                            Encoding::Lossless
                        } else {
                            // Collected: printed or written as JSON Lines.
                            Encoding::Plain
                        },
                    })
                    .collect();
                spec = spec.blocking();
                let proto = Arc::new(Prototype {
                    spec: spec.clone(),
                    object: object.clone().unbind(),
                    outputs,
                    is_root: !has_input.contains(id.as_str()),
                    attach: attach.clone_ref(py),
                });
                Arc::new(move || Box::new(PyPe::new(proto.clone())) as Box<dyn Pe>)
            }
        };
        g.add_with_factory(spec, factory)
            .map_err(|error| PythonError::Graph { source_name: name.to_owned(), error })?;
    }
    for (from, from_port, to, to_port) in &wires {
        let (a, b) = match (g.find(from), g.find(to)) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(PythonError::Pe {
                    pe: from.clone(),
                    message: format!("connected to {to}, which is not in the graph"),
                })
            }
        };
        g.connect(a, from_port, b, to_port)
            .map_err(|error| PythonError::Graph { source_name: name.to_owned(), error })?;
    }
    Ok(Translated { graph: g, names })
}

enum RustPeError {
    Registry(crate::registry::RegistryError),
    Python(PyErr),
    Ports(String),
}

/// The registry's factory for a `RustPE`, its spec renamed and regrouped as the Python side
/// says (`spec` holds the Python PE's view and is replaced by the Rust PE's, adjusted).
fn rust_factory(
    py: Python<'_>,
    object: &Bound<'_, PyAny>,
    kind: &str,
    spec: &mut PeSpec,
) -> Result<PeFactory, RustPeError> {
    let config = object.getattr("_d4r_rust_config").map_err(RustPeError::Python)?;
    let config = to_value(&config, Encoding::Plain).map_err(RustPeError::Python)?;
    let _ = py;
    let (mut rust, factory) = registry().make(kind, &config).map_err(RustPeError::Registry)?;
    rust.name = spec.name.clone();
    for input in &mut rust.inputs {
        match spec.input_spec(&input.name) {
            Some(python) => input.grouping = python.grouping.clone(),
            None => {
                return Err(RustPeError::Ports(format!(
                    "the Rust PE's input '{}' was removed from inputconnections",
                    input.name
                )))
            }
        }
    }
    if spec.inputs.len() != rust.inputs.len() || spec.outputs.len() != rust.outputs.len() {
        return Err(RustPeError::Ports(format!(
            "a RustPE's ports are those of the Rust PE '{kind}' (inputs: {}; outputs: {})",
            rust.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "),
            rust.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    rust.numprocesses = spec.numprocesses.or(rust.numprocesses);
    rust.stateful |= spec.stateful;
    *spec = rust.clone();
    Ok(Arc::new(move || Box::new(PlainInputs::new(rust.clone(), factory())) as Box<dyn Pe>))
}

/// A dispel4py grouping (as the shim describes it) → a [`Grouping`].
fn grouping(kind: &str, fields: &Bound<'_, PyList>) -> Result<Grouping, String> {
    match kind {
        "shuffle" => Ok(Grouping::Shuffle),
        "all" => Ok(Grouping::OneToAll),
        "global" => Ok(Grouping::AllToOne),
        "group_by" => {
            let mut out = Vec::new();
            for f in fields.iter() {
                if let Ok(i) = f.extract::<i64>() {
                    let i = usize::try_from(i).map_err(|_| format!("group-by index {i} is negative"))?;
                    out.push(Field::Index(i));
                } else if let Ok(k) = f.extract::<String>() {
                    out.push(Field::Key(k));
                } else {
                    return Err(format!("group-by field {f:?} is neither an index nor a key"));
                }
            }
            Ok(Grouping::GroupBy(out))
        }
        _ => {
            let what: String = fields.get_item(0).and_then(|f| f.extract()).unwrap_or_default();
            tracing::warn!("grouping {what} is not a list of fields, 'all' or 'global': units are sent round robin (as dispel4py does)");
            Ok(Grouping::Shuffle)
        }
    }
}

/// A [`Grouping`] in dispel4py's terms: `None`, a list of fields, `'all'` or `'global'`.
pub(crate) fn grouping_to_python<'py>(py: Python<'py>, g: &Grouping) -> PyResult<Bound<'py, PyAny>> {
    Ok(match g {
        Grouping::Shuffle => py.None().into_bound(py),
        Grouping::OneToAll => "all".into_pyobject(py)?.into_any(),
        Grouping::AllToOne => "global".into_pyobject(py)?.into_any(),
        Grouping::GroupBy(fields) => {
            let list = PyList::empty(py);
            for f in fields {
                match f {
                    Field::Index(i) => list.append(i)?,
                    Field::Key(k) => list.append(k)?,
                }
            }
            list.into_any()
        }
    })
}
