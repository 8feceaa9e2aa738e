//! Errors of loading and translating a graph module.

use dispel4rs::GraphError;

/// Why a dispel4py graph module could not be run.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// The embedded interpreter could not be started.
    #[error("cannot start the embedded Python: {0}")]
    Startup(String),
    /// The module or file was not found, or holds no graph.
    #[error("cannot load the graph from '{source_name}': {message}")]
    NotFound {
        /// The module or file given.
        source_name: String,
        /// What was tried.
        message: String,
    },
    /// The module raised while it ran.
    #[error("the graph module '{source_name}' raised an exception:\n{traceback}")]
    Raised {
        /// The module or file given.
        source_name: String,
        /// The Python traceback.
        traceback: String,
    },
    /// A PE of the graph cannot run (bad ports, groupings, instance counts, not copyable).
    #[error("PE {pe}: {message}")]
    Pe {
        /// The PE's id.
        pe: String,
        /// What is wrong.
        message: String,
    },
    /// The connections do not make a valid graph.
    #[error("the graph from '{source_name}' is not valid: {error}")]
    Graph {
        /// The module or file given.
        source_name: String,
        /// The graph error (names the PEs and ports).
        error: GraphError,
    },
    /// A `RustPE` the registry cannot make.
    #[error("PE {pe}: {error}")]
    Registry {
        /// The PE's id.
        pe: String,
        /// Why.
        error: crate::registry::RegistryError,
    },
}
