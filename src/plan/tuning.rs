//! Tuning without a rebuild: per-PE changes to the specs a program's graph was built with,
//! given on the command line (`--numprocesses PE=N`, `--blocking PE`) or with
//! [`RunOptions::tuning`](crate::RunOptions). They are part of the run's options, so every
//! process of a multi-process run applies the same ones (the plan fingerprint checks it).
//!
//! ```
//! use dispel4rs::plan::PeTuning;
//! use dispel4rs::{Iterative, PeError, Producer, Value, WorkflowGraph};
//! let mut g = WorkflowGraph::new("t");
//! let src = g.add(Producer::new("numbers", |_, out| out.write("output", 1))).unwrap();
//! let sq = g.add(Iterative::new("square", |x: Value| Ok::<_, PeError>(x))).unwrap();
//! g.connect(src, "output", sq, "input").unwrap();
//! let tuning = PeTuning { numprocesses: vec![("square".into(), 3)], blocking: vec!["square".into()] };
//! let tuned = tuning.apply(&g).unwrap();
//! let spec = tuned.spec(tuned.find("square").unwrap()).unwrap();
//! assert_eq!((spec.numprocesses, spec.blocking), (Some(3), true));
//! let bad = PeTuning { blocking: vec!["sqaure".into()], ..PeTuning::default() };
//! assert_eq!(
//!     bad.apply(&g).err().unwrap().to_string(),
//!     "--blocking sqaure: the graph 't' has no PE 'sqaure' (its PEs: numbers, square)"
//! );
//! ```

use crate::graph::WorkflowGraph;
use crate::validate::OptionError;
use std::borrow::Cow;

/// Per-PE changes to the graph's specs. See the [module documentation](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeTuning {
    /// `--numprocesses PE=N`: exactly N instances of PE (as `PeSpec::numprocesses`).
    pub numprocesses: Vec<(String, usize)>,
    /// `--blocking PE`: a thread of its own for each instance, and a placement of its own
    /// (as `PeSpec::blocking`).
    pub blocking: Vec<String>,
}

impl PeTuning {
    /// True if it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.numprocesses.is_empty() && self.blocking.is_empty()
    }

    /// `graph` with these changes (the graph itself when there are none). A PE the graph
    /// does not have is refused, naming it and the graph's PEs.
    pub fn apply<'g>(&self, graph: &'g WorkflowGraph) -> Result<Cow<'g, WorkflowGraph>, OptionError> {
        if self.is_empty() {
            return Ok(Cow::Borrowed(graph));
        }
        let mut tuned = graph.clone();
        let unknown = |flag: &'static str, pe: &str| OptionError::UnknownPe {
            flag,
            pe: pe.to_owned(),
            graph: graph.name().to_owned(),
            known: graph.pes().map(|p| p.name.to_owned()).collect::<Vec<_>>().join(", "),
        };
        for (pe, n) in &self.numprocesses {
            let id = graph.find(pe).ok_or_else(|| unknown("--numprocesses", pe))?;
            tuned
                .set_numprocesses(id, *n)
                .map_err(|e| OptionError::Tuning(format!("--numprocesses {pe}: {e}")))?;
        }
        for pe in &self.blocking {
            let id = graph.find(pe).ok_or_else(|| unknown("--blocking", pe))?;
            tuned.set_blocking(id).map_err(|e| OptionError::Tuning(format!("--blocking {pe}: {e}")))?;
        }
        Ok(Cow::Owned(tuned))
    }
}

/// Parses `PE=N` (for `--numprocesses`): N within 1..=65536.
pub fn parse_numprocesses(text: &str) -> Result<(String, usize), String> {
    let (pe, n) = text.split_once('=').ok_or_else(|| format!("'{text}' is not PE=N"))?;
    if pe.is_empty() {
        return Err(format!("'{text}' names no PE"));
    }
    let n = crate::validate::PROCESSES.parse::<usize>(n)?;
    Ok((pe.to_owned(), n))
}
