//! Provenance: which output came from which input, through which PE instance, when — as a
//! W3C PROV-JSON document, recorded under every mapping (opt-in: `--provenance FILE`).
//!
//! ## The model
//!
//! | PROV | what it is here |
//! |---|---|
//! | entity `r:u<pe>.<inst>.<port>.<seq>` | a data unit written by an instance on an output port (its `seq`-th there); collected units carry `prov:type d4r:Output` and their value |
//! | entity `r:in<pe>.<inst>.<n>` | the input of call *n* of a root (`-i`: null; `-d`/`-f`: the object), `prov:type d4r:RootInput` with its value |
//! | entity `r:st<pe>.<inst>` | the state an instance accumulated (`prov:type d4r:State`, `d4r:units` inputs seen) |
//! | activity `r:a<pe>.<inst>.<n>` | one invocation: `process` of one unit, or one root call, with `prov:startTime`/`prov:endTime` |
//! | activity `r:post<pe>.<inst>` | the instance's `postprocess` (`prov:type d4r:Postprocess`) |
//! | activity `r:run` | the workflow run: graph, mapping, options, inputs, host, user, version, start and end |
//! | agent `r:i<pe>.<inst>` | a PE instance (`prov:SoftwareAgent`: PE name, instance, global id, slot, host, pid); associated with `r:run` |
//! | `used(a, e)` | the invocation read unit `e` (a root call: its root input; `postprocess`: the state) |
//! | `wasGeneratedBy(e, a)` | unit `e` was written by invocation `a` |
//! | `wasDerivedFrom(e, i)` | unit `e` derives from the input `i` of the invocation that wrote it |
//! | `wasAssociatedWith(a, agent)` | the invocation ran on that instance |
//!
//! What `postprocess` writes derives from the instance's state, and the state derives — in
//! summary, not one edge per unit — from the first and the last unit it received from every
//! upstream origin (a sending instance's port, or its own root inputs); each of those edges
//! carries the origin's unit count and sequence range (`d4r:count`, `d4r:firstSeq`,
//! `d4r:lastSeq`). A `process` invocation's outputs derive from the one unit it processed,
//! even when the PE also keeps state.
//!
//! With `--provenance-pes a,b` only those PEs record; the others pass the id of the unit
//! they process on to what they write, so chains stay connected through them (what an
//! unrecorded `postprocess` writes carries no id). Root inputs are always recorded.
//!
//! ## How it runs
//!
//! Units carry their id only when provenance is on: every unit on every connection is then
//! an envelope `[origin, seq, data]` ([`id`]); PEs, groupings, the collector and dead letters
//! see the data. Each instance's [`record::Tracer`] formats its records into buffers and
//! appends them to its process's part ([`part`]) in whole lines; the coordinator merges
//! every part into one document at the end ([`prov_json`]). Worker processes write their
//! parts into the run's parts directory beside the document (`<FILE>.parts-<run>`), so
//! worker processes on other hosts need that directory on a shared file system.
//! `--trace FILE ID` prints the chain of one output back to the root input ([`trace`]).

pub mod id;
pub mod part;
pub mod prov_json;
pub mod record;
pub mod time;
pub mod trace;

use crate::pe::InstanceInfo;
use crate::plan::{Plan, PlannedPe};
use record::{AgentInfo, Tracer};
use std::path::{Path, PathBuf};

/// Why provenance could not be recorded or read.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// `--provenance-pes` names a PE the graph does not have.
    #[error("--provenance-pes names PE '{pe}', which the graph does not have (its PEs: {known})")]
    UnknownPe {
        /// The name given.
        pe: String,
        /// The graph's PEs.
        known: String,
    },
    /// A recorded PE has more output ports than an id can name.
    #[error("--provenance: PE '{pe}' has {ports} output ports; at most {max} can be recorded")]
    TooManyPorts {
        /// The PE.
        pe: String,
        /// Its ports.
        ports: usize,
        /// The most allowed.
        max: usize,
    },
    /// The document or a part could not be written.
    #[error("--provenance: cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A process could not write its part.
    #[error("--provenance: {0}")]
    Part(String),
    /// `--trace`: the file cannot be read.
    #[error("--trace: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `--trace`: the file is not PROV-JSON.
    #[error("--trace: {} is not a PROV-JSON document: {reason}", path.display())]
    NotProvJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `--trace`: the id names no entity of the document.
    #[error("--trace: {} has no entity '{id}'{hint}", path.display())]
    UnknownId {
        /// The file.
        path: PathBuf,
        /// The id asked for.
        id: String,
        /// Which ids there are.
        hint: String,
    },
}

impl ProvenanceError {
    /// True for errors in what the user gave (exit status 2); false for failures of the run.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, ProvenanceError::Write { .. } | ProvenanceError::Part(_))
    }
}

/// What to record and where (`--provenance FILE`, `--provenance-pes a,b`). Part of
/// [`crate::RunOptions`], so it reaches every worker process.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ProvenanceOptions {
    /// The PROV-JSON document to write.
    pub file: PathBuf,
    /// The PEs to record (empty: all).
    pub pes: Vec<String>,
    /// The run's id (set by the coordinator).
    pub run_id: String,
    /// Where every process writes its part (set by the coordinator).
    pub parts_dir: PathBuf,
    /// The slot of every instance by global id, where the plan fixes it (set by the
    /// coordinator; empty for the dynamic mappings).
    pub slots: Vec<usize>,
}

impl ProvenanceOptions {
    /// Records every PE into `file`.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        ProvenanceOptions { file: file.into(), ..ProvenanceOptions::default() }
    }

    /// Records only the PEs named.
    pub fn only(mut self, pes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.pes = pes.into_iter().map(Into::into).collect();
        self
    }

    /// True if PE `name` records.
    pub fn records(&self, name: &str) -> bool {
        self.pes.is_empty() || self.pes.iter().any(|p| p == name)
    }

    /// Checks the options against the plan and fixes the run's id, parts directory and
    /// slots. `shared_name`: every process computes the same parts directory on its own
    /// (MPI ranks), instead of one made unique by the coordinator.
    pub fn prepare(&mut self, plan: &Plan, shared_name: bool) -> Result<(), ProvenanceError> {
        for pe in &self.pes {
            if plan.pe_by_name(pe).is_none() {
                let known = plan.pes().iter().map(|p| &*p.name).collect::<Vec<_>>().join(", ");
                return Err(ProvenanceError::UnknownPe { pe: pe.clone(), known });
            }
        }
        for pe in plan.pes().iter().filter(|p| self.records(&p.name)) {
            if pe.outputs.len() > id::MAX_PORTS {
                return Err(ProvenanceError::TooManyPorts {
                    pe: pe.name.to_string(),
                    ports: pe.outputs.len(),
                    max: id::MAX_PORTS,
                });
            }
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.run_id = format!("{nanos:x}-{:x}", std::process::id());
        let name =
            self.file.file_name().map_or_else(|| "provenance".into(), |n| n.to_string_lossy().into_owned());
        let suffix = if shared_name { "parts".to_owned() } else { format!("parts-{}", self.run_id) };
        self.parts_dir = parent_dir(&self.file).join(format!(".{name}.{suffix}"));
        if !shared_name {
            let _ = std::fs::remove_dir_all(&self.parts_dir);
        }
        self.slots = if plan.is_pooled() {
            Vec::new()
        } else {
            (0..plan.instances().len()).map(|g| plan.slot_of(g)).collect()
        };
        Ok(())
    }

    /// The recorder of an instance of `pe` described by `info`.
    pub(crate) fn tracer_for(&self, pe: &PlannedPe, info: &InstanceInfo) -> Box<Tracer> {
        let agent = AgentInfo {
            pe_name: pe.name.clone(),
            pe: pe.id.index(),
            instance: info.index,
            global: info.global,
            slot: self.slots.get(info.global).copied(),
            host: host_name().to_owned(),
        };
        let collected = pe.collect.iter().map(Option::is_some).collect();
        let log = part::ProcessLog::for_dir(&self.parts_dir);
        Box::new(Tracer::new(&agent, collected, self.records(&pe.name), log))
    }
}

/// The directory a file is in (`.` for a bare name).
fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// This host's name (read once).
fn host_name() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(crate::runtime::launch::hostname)
}

/// The coordinator's end of a run: merges every part into the document. `start_us`: when
/// the run started (microseconds since the epoch).
pub(crate) fn write_run_document(
    options: &crate::RunOptions,
    prov: &ProvenanceOptions,
    plan: &Plan,
    mapping: crate::Mapping,
    inputs: &crate::runtime::inputs::InputSource,
    start_us: i64,
) -> Result<prov_json::DocumentCounts, ProvenanceError> {
    let own = part::ProcessLog::for_dir(&prov.parts_dir);
    if let Some(e) = own.error() {
        return Err(ProvenanceError::Part(e));
    }
    drop(own);
    let inputs = match inputs {
        crate::runtime::inputs::InputSource::Iterations(n) => format!("-i {n}"),
        crate::runtime::inputs::InputSource::Json { text, source_name } => {
            let mut t = format!("{source_name} {text}");
            if t.len() > 4096 {
                let mut cut = 4096;
                while !t.is_char_boundary(cut) {
                    cut -= 1;
                }
                t.truncate(cut);
                t.push('…');
            }
            t
        }
    };
    let mut shown = options.clone();
    shown.provenance = None;
    let run = prov_json::RunRecord {
        run_id: prov.run_id.clone(),
        graph: plan.graph_name().to_owned(),
        mapping: mapping.name().to_owned(),
        options_json: serde_json::to_string(&shown).unwrap_or_default(),
        inputs,
        start_us,
        end_us: time::Clock::new().now_micros(),
        host: host_name().to_owned(),
        user: std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        recorded_pes: prov.pes.clone(),
    };
    prov_json::write_document(&prov.file, &prov.parts_dir, &run)
}
