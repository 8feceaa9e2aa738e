//! `--trace FILE ID`: the chain of one output back to the root inputs it came from, read
//! from a PROV-JSON document (no mapping, no run). Without an id it lists the collected
//! outputs of the document with their ids.
//!
//! Each step names the entity, the activity that generated it (with its times and the PE
//! instance it ran on) and the entities it derives from, indented one level per step back;
//! an entity reached twice is printed once.

use super::id::{EntityKind, UnitId};
use super::ProvenanceError;
use serde_json::{Map, Value as Json};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

type Attrs = Map<String, Json>;

/// A relation record: the formal attributes the trace follows.
#[derive(Debug, Default, serde::Deserialize)]
struct Relation {
    #[serde(rename = "prov:activity")]
    activity: Option<String>,
    #[serde(rename = "prov:entity")]
    entity: Option<String>,
    #[serde(rename = "prov:generatedEntity")]
    generated: Option<String>,
    #[serde(rename = "prov:usedEntity")]
    used: Option<String>,
    #[serde(rename = "prov:agent")]
    agent: Option<String>,
    #[serde(rename = "d4r:count")]
    count: Option<u64>,
    #[serde(rename = "d4r:summary")]
    summary: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Document {
    #[serde(default)]
    entity: HashMap<String, Attrs>,
    #[serde(default)]
    activity: HashMap<String, Attrs>,
    #[serde(default)]
    agent: HashMap<String, Attrs>,
    #[serde(default, rename = "wasGeneratedBy")]
    generated: HashMap<String, Relation>,
    #[serde(default, rename = "wasDerivedFrom")]
    derived: HashMap<String, Relation>,
    #[serde(default, rename = "wasAssociatedWith")]
    associated: HashMap<String, Relation>,
}

/// An entity a derivation comes from: its id, and for a state's summary edge the count of
/// units from that origin and which end (`first`, `last`) it is.
type Parent = (String, Option<u64>, Option<String>);

/// A PROV-JSON document indexed for tracing.
pub struct Trace {
    path: PathBuf,
    doc: Document,
    /// Entity → the activity that generated it.
    generated_by: HashMap<String, String>,
    /// Entity → what it derives from (entity, count, summary).
    derived_from: HashMap<String, Vec<Parent>>,
    /// Activity → agent.
    agent_of: HashMap<String, String>,
}

impl Trace {
    /// Reads and indexes the document at `path`.
    pub fn open(path: &Path) -> Result<Trace, ProvenanceError> {
        let file = std::fs::File::open(path)
            .map_err(|e| ProvenanceError::Read { path: path.to_owned(), source: e })?;
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        let doc: Document = serde_json::from_reader(reader)
            .map_err(|e| ProvenanceError::NotProvJson { path: path.to_owned(), reason: e.to_string() })?;
        let mut generated_by = HashMap::new();
        for r in doc.generated.values() {
            if let (Some(e), Some(a)) = (&r.entity, &r.activity) {
                generated_by.insert(e.clone(), a.clone());
            }
        }
        let mut derived_from: HashMap<String, Vec<_>> = HashMap::new();
        for r in doc.derived.values() {
            if let (Some(g), Some(u)) = (&r.generated, &r.used) {
                derived_from.entry(g.clone()).or_default().push((u.clone(), r.count, r.summary.clone()));
            }
        }
        for parents in derived_from.values_mut() {
            parents.sort();
        }
        let mut agent_of = HashMap::new();
        for r in doc.associated.values() {
            if let (Some(a), Some(g)) = (&r.activity, &r.agent) {
                agent_of.insert(a.clone(), g.clone());
            }
        }
        Ok(Trace { path: path.to_owned(), doc, generated_by, derived_from, agent_of })
    }

    /// The ids of the collected outputs (`prov:type d4r:Output`), sorted.
    pub fn outputs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .doc
            .entity
            .iter()
            .filter(|(_, a)| type_of(a) == Some("d4r:Output"))
            .map(|(k, _)| k.as_str())
            .collect();
        out.sort();
        out
    }

    /// The entities `id` derives from, directly.
    pub fn parents(&self, id: &str) -> Vec<&str> {
        self.derived_from.get(id).map(|v| v.iter().map(|(p, _, _)| p.as_str()).collect()).unwrap_or_default()
    }

    /// True if the chains from `id` reach a root input.
    pub fn reaches_root_input(&self, id: &str) -> bool {
        let mut todo = vec![id.to_owned()];
        let mut seen = HashSet::new();
        while let Some(e) = todo.pop() {
            if !seen.insert(e.clone()) {
                continue;
            }
            if self.doc.entity.get(&e).and_then(type_of) == Some("d4r:RootInput") {
                return true;
            }
            todo.extend(self.parents(&e).into_iter().map(str::to_owned));
        }
        false
    }

    /// The chain of entity `id` back to the root inputs, as text.
    pub fn chain(&self, id: &str) -> Result<String, ProvenanceError> {
        let id = self.resolve(id)?;
        let mut out = String::new();
        let mut seen = HashSet::new();
        let mut todo: Vec<(String, usize, String)> = vec![(id, 0, String::new())];
        while let Some((e, depth, how)) = todo.pop() {
            let indent = "  ".repeat(depth);
            if !seen.insert(e.clone()) {
                let _ = writeln!(out, "{indent}{how}{e} (shown above)");
                continue;
            }
            let _ = writeln!(out, "{indent}{how}{e}  {}", self.describe_entity(&e));
            if let Some(a) = self.generated_by.get(&e) {
                let _ = writeln!(out, "{indent}    generated by {a}  {}", self.describe_activity(a));
            }
            let parents = self.derived_from.get(&e).cloned().unwrap_or_default();
            for (parent, count, summary) in parents.into_iter().rev() {
                let how = match (summary, count) {
                    (Some(s), Some(n)) => format!("<- ({s} of {n} from that origin) "),
                    _ => "<- ".to_owned(),
                };
                todo.push((parent, depth + 1, how));
            }
        }
        Ok(out)
    }

    /// The full id of `id` (given with or without the `r:` prefix).
    fn resolve(&self, id: &str) -> Result<String, ProvenanceError> {
        for candidate in [id.to_owned(), format!("r:{id}")] {
            if self.doc.entity.contains_key(&candidate) {
                return Ok(candidate);
            }
        }
        let outputs = self.outputs();
        let hint = if outputs.is_empty() {
            String::new()
        } else {
            let shown: Vec<&str> = outputs.iter().take(5).copied().collect();
            format!(
                "; its {} collected output(s) include {} (run --trace FILE without an id to list them)",
                outputs.len(),
                shown.join(", ")
            )
        };
        Err(ProvenanceError::UnknownId { path: self.path.clone(), id: id.to_owned(), hint })
    }

    fn pe_name(&self, pe: usize, instance: usize) -> String {
        self.doc
            .agent
            .get(&format!("r:i{pe}.{instance}"))
            .and_then(|a| a.get("d4r:pe"))
            .and_then(Json::as_str)
            .map_or_else(|| format!("PE {pe}"), str::to_owned)
    }

    fn describe_entity(&self, e: &str) -> String {
        let attrs = self.doc.entity.get(e);
        let value = attrs.and_then(|a| a.get("d4r:value")).and_then(Json::as_str);
        let Some(id) = UnitId::parse(e) else { return String::new() };
        let (pe, inst) = (id.pe(), id.instance());
        let name = self.pe_name(pe, inst);
        let mut s = match id.kind() {
            EntityKind::Unit(port) => {
                let collected = attrs.and_then(type_of) == Some("d4r:Output");
                format!(
                    "unit #{} written by {name}[{inst}] on output {port}{}",
                    id.seq,
                    if collected { " (collected)" } else { "" }
                )
            }
            EntityKind::RootInput => format!("root input of call {} of {name}[{inst}]", id.seq),
            EntityKind::State => {
                let units = attrs.and_then(|a| a.get("d4r:units")).and_then(Json::as_u64).unwrap_or(0);
                format!("state of {name}[{inst}], from {units} input unit(s)")
            }
        };
        if let Some(v) = value {
            let _ = write!(s, ": {v}");
        }
        s
    }

    fn describe_activity(&self, a: &str) -> String {
        let attrs = self.doc.activity.get(a);
        let time = |k: &str| attrs.and_then(|x| x.get(k)).and_then(Json::as_str).unwrap_or("?").to_owned();
        let mut s = format!("{} .. {}", time("prov:startTime"), time("prov:endTime"));
        if let Some(agent) = self.agent_of.get(a) {
            let info = self.doc.agent.get(agent);
            let field = |k: &str| {
                info.and_then(|x| x.get(k)).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            };
            let _ = write!(
                s,
                " on {agent} ({} instance {}, host {}, pid {})",
                field("d4r:pe").unwrap_or_default(),
                field("d4r:instance").unwrap_or_default(),
                field("d4r:host").unwrap_or_default(),
                field("d4r:pid").unwrap_or_default()
            );
        }
        s
    }
}

fn type_of(attrs: &Attrs) -> Option<&str> {
    match attrs.get("prov:type")? {
        Json::String(s) => Some(s),
        Json::Object(o) => o.get("$").and_then(Json::as_str),
        _ => None,
    }
}

/// The command line `<workflow> --trace FILE [ID]`, if `args` (program name first) is one:
/// prints the chain (or the list of outputs) and returns the exit status.
pub fn run_cli(args: &[std::ffi::OsString]) -> Option<i32> {
    let at = args.iter().position(|a| a == "--trace")?;
    let rest: Vec<String> = args[at + 1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let others = args.len() - rest.len() - 2;
    if others > 0 || rest.is_empty() || rest.len() > 2 {
        eprintln!(
            "error: --trace is used alone: <workflow> --trace FILE [ID] (without ID: list the outputs)"
        );
        return Some(crate::cli::EXIT_BAD_INPUT);
    }
    let result = Trace::open(Path::new(&rest[0])).and_then(|t| match rest.get(1) {
        Some(id) => t.chain(id),
        None => {
            let outputs = t.outputs();
            let mut s = format!("{} collected output(s) in {}:\n", outputs.len(), rest[0]);
            for o in outputs {
                let _ = writeln!(s, "{o}  {}", t.describe_entity(o));
            }
            Ok(s)
        }
    });
    Some(match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_bad_input() {
                crate::cli::EXIT_BAD_INPUT
            } else {
                crate::cli::EXIT_FAILED
            }
        }
    })
}
