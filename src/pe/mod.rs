//! Processing elements (PEs): the user's code.
//!
//! A PE declares named input and output ports in a [`PeSpec`] and implements
//! [`Pe::process`], called once per data unit that arrives on an input (or once per call of
//! a root, see below). It may write any number of units to any output through the
//! [`Output`] it is given. [`Pe::preprocess`] runs once per instance before any unit and
//! [`Pe::postprocess`] once at end of stream; what `postprocess` writes still flows
//! downstream before end of stream is passed on.
//!
//! **Roots** (PEs with no connected input) are called by the mapping: `-i N` calls them N
//! times with [`Value::Null`]; `-d`/`-f` give them one call per JSON object (the object is
//! the data unit) or N calls for an integer N. Their `port` argument is their first declared
//! input, or `""` when they declare none.
//!
//! Every instance is created from the prototype the graph holds (a clone) or from a factory,
//! and re-created the same way when it is restarted after a failure.
//!
//! ```
//! use dispel4rs::{Grouping, Output, Pe, PeError, PeSpec, Value};
//! use std::collections::HashMap;
//!
//! #[derive(Clone, Default)]
//! struct CountWords { counts: HashMap<String, i64> }
//!
//! impl Pe for CountWords {
//!     fn spec(&self) -> PeSpec {
//!         PeSpec::new("count").input_grouped("input", Grouping::group_by([0])).output("output")
//!     }
//!     fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
//!         let word = unit.index(0).ok_or_else(|| PeError::new("expected [word, n]"))?.try_str()?;
//!         let n = unit.index(1).map_or(Ok(1), Value::try_int)?;
//!         *self.counts.entry(word.to_owned()).or_default() += n;
//!         Ok(())
//!     }
//!     fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
//!         for (word, total) in self.counts.drain() {
//!             out.write("output", (word, total))?;
//!         }
//!         Ok(())
//!     }
//! }
//! ```

mod batch;

mod error;
mod kinds;
pub mod log;
pub(crate) mod output;

pub use batch::{Batch, Failure, FailureCause};

pub use error::PeError;
pub use kinds::{counter, Consumer, FilterMapFn, FnPe, Iterative, MapFn, Producer, UnitFn};
pub use output::{Output, OutputBuffers};

use crate::graph::PeId;
use crate::grouping::Grouping;
use crate::value::Value;
use std::fmt;
use std::sync::Arc;

/// A processing element. See the [module documentation](self).
pub trait Pe: Send + 'static {
    /// The PE's name, ports, groupings and instance count. Called once, when the PE is added
    /// to a graph.
    fn spec(&self) -> PeSpec;

    /// Runs once per instance before the first data unit (and again after a restart).
    fn preprocess(&mut self, _instance: &InstanceInfo) -> Result<(), PeError> {
        Ok(())
    }

    /// Handles one data unit that arrived on input `port` (for roots: one call).
    fn process(&mut self, port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError>;

    /// Handles a batch of units that arrived on input `port`. The default hands each unit
    /// to [`Pe::process`] under the batch's supervision; override it only to amortise work
    /// over a batch, and then run every unit through [`Batch::supervise`] so that failures
    /// are still caught per unit.
    #[inline]
    fn process_batch(&mut self, port: &str, batch: &mut Batch<'_>, out: &mut Output<'_>) {
        while let Some(unit) = batch.next() {
            batch.supervise(unit, out, |unit, out| self.process(port, unit, out));
        }
    }

    /// Runs once per instance at end of stream, after the last unit; may still write.
    fn postprocess(&mut self, _out: &mut Output<'_>) -> Result<(), PeError> {
        Ok(())
    }
}

/// The port a root is called on: its first declared input, or `""`.
pub const NO_INPUT: &str = "";

/// An input port: its name, the grouping that spreads its units over the PE's instances,
/// and an optional type name checked when the graph is wired.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSpec {
    /// Port name.
    pub name: String,
    /// How units on this input are spread over the instances.
    pub grouping: Grouping,
    /// Declared type name, if any (checked against the connected output's).
    pub type_name: Option<String>,
}

/// An output port: its name and an optional type name.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpec {
    /// Port name.
    pub name: String,
    /// Declared type name, if any.
    pub type_name: Option<String>,
}

/// What a PE declares about itself.
///
/// ```
/// use dispel4rs::{Grouping, PeSpec};
/// let spec = PeSpec::new("count")
///     .input_grouped("input", Grouping::group_by([0]))
///     .typed_output("output", "WordCount")
///     .numprocesses(3);
/// assert_eq!(spec.inputs[0].grouping, Grouping::group_by([0]));
/// assert_eq!(spec.numprocesses, Some(3));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PeSpec {
    /// The PE's name, unique in its graph; `-d` keys and output reports use it.
    pub name: String,
    /// Input ports in declaration order.
    pub inputs: Vec<InputSpec>,
    /// Output ports in declaration order.
    pub outputs: Vec<OutputSpec>,
    /// Exact number of instances, or `None` to share the mapping's `-n` with other PEs.
    /// Roots always get one instance.
    pub numprocesses: Option<usize>,
    /// Keeps state across units (dynamic mappings refuse such PEs unless pinned).
    pub stateful: bool,
    /// May block for long (I/O, heavy compute) or write very many units in one call: the
    /// actor mappings give each instance a thread of its own instead of a shared one.
    pub blocking: bool,
}

impl PeSpec {
    /// A spec with a name and no ports.
    pub fn new(name: impl Into<String>) -> Self {
        PeSpec {
            name: name.into(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            numprocesses: None,
            stateful: false,
            blocking: false,
        }
    }

    /// Adds an input with the default grouping (shuffle).
    pub fn input(self, name: impl Into<String>) -> Self {
        self.input_grouped(name, Grouping::Shuffle)
    }

    /// Adds an input with a grouping.
    pub fn input_grouped(mut self, name: impl Into<String>, grouping: Grouping) -> Self {
        self.inputs.push(InputSpec { name: name.into(), grouping, type_name: None });
        self
    }

    /// Adds an input with a declared type name.
    pub fn typed_input(mut self, name: impl Into<String>, type_name: impl Into<String>) -> Self {
        self.inputs.push(InputSpec {
            name: name.into(),
            grouping: Grouping::Shuffle,
            type_name: Some(type_name.into()),
        });
        self
    }

    /// Adds an output.
    pub fn output(mut self, name: impl Into<String>) -> Self {
        self.outputs.push(OutputSpec { name: name.into(), type_name: None });
        self
    }

    /// Adds an output with a declared type name.
    pub fn typed_output(mut self, name: impl Into<String>, type_name: impl Into<String>) -> Self {
        self.outputs.push(OutputSpec { name: name.into(), type_name: Some(type_name.into()) });
        self
    }

    /// Asks for exactly `n` instances (at least 1).
    pub fn numprocesses(mut self, n: usize) -> Self {
        self.numprocesses = Some(n.max(1));
        self
    }

    /// Marks the PE as keeping state across units.
    pub fn stateful(mut self) -> Self {
        self.stateful = true;
        self
    }

    /// Marks the PE as blocking (see [`PeSpec::blocking`]).
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// The input named `name`.
    pub fn input_spec(&self, name: &str) -> Option<&InputSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The output named `name`.
    pub fn output_spec(&self, name: &str) -> Option<&OutputSpec> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// True if the PE keeps state: declared so, or fed through a grouping that pins units
    /// to instances.
    pub fn is_stateful(&self) -> bool {
        self.stateful || self.inputs.iter().any(|i| i.grouping.is_stateful())
    }
}

/// Which instance of which PE is running: given to `preprocess` and available from
/// [`Output::instance`], and recorded in tracing spans and the run report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceInfo {
    /// The PE's name.
    pub pe: Arc<str>,
    /// The PE's id in its graph.
    pub pe_id: PeId,
    /// This instance's index among the PE's instances (0-based).
    pub index: usize,
    /// How many instances the PE has.
    pub count: usize,
    /// This instance's index among all instances of the plan.
    pub global: usize,
}

impl fmt::Display for InstanceInfo {
    /// `name[index/count]`, e.g. `count[1/3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}/{}]", self.pe, self.index, self.count)
    }
}

/// Creates a fresh PE instance; held by the graph for every PE.
pub type PeFactory = Arc<dyn Fn() -> Box<dyn Pe> + Send + Sync>;
