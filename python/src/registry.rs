//! [`Registry`]: the Rust PEs a Python graph can use by name (`RustPE("kind", **config)`).
//!
//! The stock `dispel4rs` binary registers the [`builtin`](crate::builtin) PEs. To put PEs of
//! your own in Python graphs, build a binary of your own around the same command line:
//!
//! ```no_run
//! use dispel4rs::{Iterative, PeError, Value};
//! use dispel4rs_python::Registry;
//!
//! fn main() {
//!     let mut registry = Registry::with_builtins();
//!     registry.register("Square", "squares a number", |_config: &Value| {
//!         Ok(Iterative::new("Square", |x: Value| Ok::<_, PeError>(x.try_float()?.powi(2))))
//!     });
//!     std::process::exit(dispel4rs_python::command::run(registry, std::env::args_os()));
//! }
//! ```
//!
//! The graph module then says `from dispel4rs import RustPE` and `RustPE("Square")`. Rust PEs
//! see the units of Python PEs in their plain form (see [`crate::convert`]).

use dispel4rs::pe::PeFactory;
use dispel4rs::{Pe, PeError, PeSpec, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

type Make = Arc<dyn Fn(&Value) -> Result<(PeSpec, PeFactory), PeError> + Send + Sync>;

/// Rust PE factories by kind name (see the [module documentation](self)).
#[derive(Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, (String, Make)>,
}

/// A kind the registry does not have, or a configuration its factory refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No such kind.
    #[error("no Rust PE kind '{kind}' in this dispel4rs binary (kinds: {known})")]
    Unknown {
        /// The kind asked for.
        kind: String,
        /// The kinds there are, comma separated.
        known: String,
    },
    /// The factory refused the configuration.
    #[error("Rust PE '{kind}' refused its configuration: {message}")]
    Config {
        /// The kind.
        kind: String,
        /// Why.
        message: String,
    },
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// A registry with the [`builtin`](crate::builtin) PEs.
    pub fn with_builtins() -> Self {
        let mut r = Registry::new();
        crate::builtin::register(&mut r);
        r
    }

    /// Registers `kind`: `make(config)` builds a PE from the keyword arguments the graph
    /// gave `RustPE` (a map); every instance is a clone of what it returns.
    pub fn register<P, F>(&mut self, kind: impl Into<String>, description: impl Into<String>, make: F)
    where
        P: Pe + Clone,
        F: Fn(&Value) -> Result<P, PeError> + Send + Sync + 'static,
    {
        let make: Make = Arc::new(move |config: &Value| {
            let pe = make(config)?;
            let spec = pe.spec();
            let prototype = Mutex::new(pe);
            let factory: PeFactory = Arc::new(move || {
                let guard = prototype.lock().unwrap_or_else(|p| p.into_inner());
                Box::new(guard.clone()) as Box<dyn Pe>
            });
            Ok((spec, factory))
        });
        self.entries.insert(kind.into(), (description.into(), make));
    }

    /// Every kind with its description, in name order.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, (d, _))| (k.as_str(), d.as_str()))
    }

    /// The spec and the factory of a PE of `kind` configured with `config`.
    pub fn make(&self, kind: &str, config: &Value) -> Result<(PeSpec, PeFactory), RegistryError> {
        let (_, make) = self.entries.get(kind).ok_or_else(|| RegistryError::Unknown {
            kind: kind.to_owned(),
            known: {
                let k: Vec<&str> = self.entries.keys().map(String::as_str).collect();
                if k.is_empty() {
                    "none".into()
                } else {
                    k.join(", ")
                }
            },
        })?;
        make(config)
            .map_err(|e| RegistryError::Config { kind: kind.to_owned(), message: e.message().to_owned() })
    }
}
