//! [`PlainInputs`]: a Rust PE of the registry in a Python graph, seeing plain units.
//!
//! Python PEs send each other lossless units (a tuple carries a marker, a dict its order);
//! a Rust PE gets them made plain first ([`crate::convert::plain::to_plain`]): a tuple is a
//! list, as a Rust `(word, n)` is. What it writes is plain, and reaches Python PEs as lists,
//! dicts and numpy arrays.

use crate::convert::plain::to_plain;
use dispel4rs::{InstanceInfo, Output, Pe, PeError, PeSpec, Value};

/// Wraps a Rust PE so that it reads plain units (see the [module documentation](self)).
pub struct PlainInputs {
    spec: PeSpec,
    inner: Box<dyn Pe>,
}

impl PlainInputs {
    /// `inner`, presented with `spec` (its own, renamed and regrouped by the graph).
    pub fn new(spec: PeSpec, inner: Box<dyn Pe>) -> Self {
        PlainInputs { spec, inner }
    }
}

impl Pe for PlainInputs {
    fn spec(&self) -> PeSpec {
        self.spec.clone()
    }

    fn preprocess(&mut self, instance: &InstanceInfo) -> Result<(), PeError> {
        self.inner.preprocess(instance)
    }

    fn process(&mut self, port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        self.inner.process(port, to_plain(unit), out)
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        self.inner.postprocess(out)
    }
}
