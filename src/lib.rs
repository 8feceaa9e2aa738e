//! # dispel4rs
//!
//! Abstract stream-based scientific workflows, in the line of Python's dispel4py: write
//! processing elements (PEs), wire them into a [`WorkflowGraph`], and run the *unchanged*
//! graph with any mapping — one thread (`simple`), all cores (`multi`), several processes
//! (`zmq_multi`), MPI ranks (`mpi`).
//!
//! ```
//! use dispel4rs::{Iterative, PeError, Producer, Runner, Value, WorkflowGraph};
//! let mut g = WorkflowGraph::new("squares");
//! let mut n = 0;
//! let src = g.add(Producer::new("numbers", move |_, out| { n += 1; out.write("output", n) })).unwrap();
//! let sq = g.add(Iterative::new("square", |x: Value| Ok::<_, PeError>(x.try_int()?.pow(2)))).unwrap();
//! g.connect(src, "output", sq, "input").unwrap();
//! let result = Runner::new(&g).iterations(4).run().unwrap();
//! assert_eq!(result.outputs.get("square", "output").unwrap(), &[1.into(), 4.into(), 9.into(), 16.into()]);
//! ```
//!
//! ## Crate map
//!
//! | module | concept |
//! |---|---|
//! | [`abort`] | [`Abort`]: why a whole run stops (typed [`AbortReason`] and a message) |
//! | [`sink`] | [`Sink`]: where an instance's full output batches go (one per mapping) |
//! | [`value`] | the data unit [`Value`]: JSON, serde conversions, binary codec |
//! | [`hash`] | the stable hash behind `group_by` (frozen, test vectors) |
//! | [`pe`] | the [`Pe`] trait, [`PeSpec`], [`Output`], convenience kinds |
//! | [`grouping`] | [`Grouping`]s and the per-sender routing decision |
//! | [`graph`] | [`WorkflowGraph`]: validated wiring, [`Composite`] PEs, DOT and Mermaid export |
//! | [`plan`] | [`Plan`]: instances, placement on slots, routes (pure) |
//! | [`runtime`] | shared by mappings: supervised instances, outlets, inputs, outputs, report, observation (metrics, timelines, progress) |
//! | [`render`] | the HTML run report, its CSV tables, SVG pictures of the graph and the plan |
//! | [`mapping`] | one file per mapping; [`Mapping`] names them all |
//! | [`runner`] | [`Runner`]: run a graph from Rust |
//! | [`cli`] | the command line every workflow binary shares |
//! | [`provenance`] | W3C PROV-JSON of which unit came from which, through which instance, when (`--provenance`, `--trace`) |
//! | [`validate`] | the range of every option, and [`RunOptions::validate`] |
//! | [`rng`] | a seeded RNG for reproducible data |
//!
//! Lower layers: `dispel4rs-actors` (supervised actors, mailboxes, routers) and
//! `dispel4rs-transports` (framed bytes between processes); neither knows about PEs.
#![warn(missing_docs)]

pub mod abort;
pub mod cli;
pub mod graph;
pub mod grouping;
pub mod hash;
pub mod mapping;
pub mod pe;
pub mod plan;
pub mod provenance;
pub mod render;
pub mod rng;
pub mod runner;
pub mod runtime;
pub mod sink;
pub mod validate;
pub mod value;

pub use abort::{Abort, AbortReason};
pub use graph::{Composite, GraphError, PeId, WorkflowGraph};
pub use grouping::Grouping;
pub use mapping::{Mapping, RunError};
pub use pe::{Consumer, FnPe, InstanceInfo, Iterative, Output, Pe, PeError, PeSpec, Producer};
pub use plan::Plan;
pub use runner::{Role, RunResult, Runner};
pub use runtime::options::RunOptions;
pub use sink::Sink;
/// `tracing`, re-exported for PEs that log with its macros (see [`pe::log`]).
pub use tracing;
pub use value::Value;

/// The README's example, compiled as a doc test so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// docs/PORTING.md's examples, compiled as doc tests so they cannot rot either.
#[doc = include_str!("../docs/PORTING.md")]
#[cfg(doctest)]
pub struct PortingDoctests;
