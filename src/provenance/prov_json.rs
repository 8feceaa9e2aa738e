//! The PROV-JSON document of a run, merged by the coordinator from every process's part.
//!
//! The document is written as a stream — the header (prefixes), then per record kind the
//! coordinator's own records (the workflow run activity) followed by the lines of every
//! part file of that kind — so a run of millions of units is merged in constant memory.
//! It is staged beside its target and renamed over it when complete.

use super::part::{Kind, KINDS};
use super::ProvenanceError;
use crate::runtime::staged::StagedFile;
use crate::value::write_json_str;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The namespace of dispel4rs's own attributes and types (`d4r:`).
pub const D4R_NAMESPACE: &str = "urn:dispel4rs:prov#";

/// The namespace of a run's ids (`r:`).
pub fn run_namespace(run_id: &str) -> String {
    format!("urn:dispel4rs:run:{run_id}:")
}

/// The workflow run, as the coordinator describes it.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    /// The run's id.
    pub run_id: String,
    /// The graph's name.
    pub graph: String,
    /// The mapping's name.
    pub mapping: String,
    /// The run options, as JSON.
    pub options_json: String,
    /// The root inputs (`-i`, `-d` or `-f`), as text.
    pub inputs: String,
    /// Start and end, microseconds since the epoch.
    pub start_us: i64,
    /// End.
    pub end_us: i64,
    /// Host of the coordinator.
    pub host: String,
    /// The user who ran it.
    pub user: String,
    /// dispel4rs's version.
    pub version: String,
    /// The PEs recorded (empty: all).
    pub recorded_pes: Vec<String>,
}

/// How many records of each kind the document holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentCounts {
    /// Per kind, in [`KINDS`] order.
    pub per_kind: [u64; 7],
    /// Part files merged.
    pub parts: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Last lines of parts that were cut short (a process died while writing) and skipped.
    pub skipped_lines: u64,
}

impl DocumentCounts {
    /// Records of `kind`.
    pub fn of(&self, kind: Kind) -> u64 {
        self.per_kind[kind as usize]
    }
}

/// Writes the document to `target` from the part files in `parts_dir` (removed afterwards).
pub fn write_document(
    target: &Path,
    parts_dir: &Path,
    run: &RunRecord,
) -> Result<DocumentCounts, ProvenanceError> {
    let io = |e: std::io::Error| ProvenanceError::Write { path: target.to_owned(), source: e };
    let mut parts: Vec<(Kind, PathBuf)> = match std::fs::read_dir(parts_dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                Some((Kind::from_part_name(&name)?, e.path()))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ProvenanceError::Write { path: parts_dir.to_owned(), source: e }),
    };
    parts.sort_by(|a, b| a.1.cmp(&b.1));
    let staged = StagedFile::new(target);
    let file = File::create(staged.path()).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut counts = DocumentCounts { parts: parts.len(), ..DocumentCounts::default() };
    let mut header = String::from("{\"prefix\":{\"r\":");
    write_json_str(&run_namespace(&run.run_id), &mut header);
    header.push_str(",\"d4r\":");
    write_json_str(D4R_NAMESPACE, &mut header);
    header.push('}');
    out.write_all(header.as_bytes()).map_err(io)?;
    counts.bytes += header.len() as u64;
    let mut line = Vec::with_capacity(512);
    for kind in KINDS {
        let opening = format!(",\n\"{}\":{{", kind.key());
        out.write_all(opening.as_bytes()).map_err(io)?;
        counts.bytes += opening.len() as u64;
        let mut first = true;
        if kind == Kind::Activity {
            let own = run_activity(run);
            out.write_all(own.as_bytes()).map_err(io)?;
            counts.bytes += own.len() as u64;
            counts.per_kind[kind as usize] += 1;
            first = false;
        }
        for (_, path) in parts.iter().filter(|(k, _)| *k == kind) {
            let f = File::open(path).map_err(|e| ProvenanceError::Write { path: path.clone(), source: e })?;
            let mut reader = BufReader::with_capacity(1 << 20, f);
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| ProvenanceError::Write { path: path.clone(), source: e })?;
                if n == 0 {
                    break;
                }
                if line.last() != Some(&b'\n') {
                    counts.skipped_lines += 1;
                    break;
                }
                line.pop();
                if !first {
                    out.write_all(b",\n").map_err(io)?;
                    counts.bytes += 2;
                }
                first = false;
                out.write_all(&line).map_err(io)?;
                counts.bytes += line.len() as u64;
                counts.per_kind[kind as usize] += 1;
            }
        }
        out.write_all(b"}").map_err(io)?;
        counts.bytes += 1;
    }
    out.write_all(b"}\n").map_err(io)?;
    counts.bytes += 2;
    out.flush().map_err(io)?;
    drop(out);
    staged.commit().map_err(io)?;
    if counts.skipped_lines > 0 {
        tracing::warn!(
            "provenance: {} record line(s) cut short by a process that died were skipped",
            counts.skipped_lines
        );
    }
    let _ = std::fs::remove_dir_all(parts_dir);
    Ok(counts)
}

/// The workflow run activity `r:run`.
fn run_activity(run: &RunRecord) -> String {
    let mut s =
        String::from("\"r:run\":{\"prov:type\":{\"$\":\"d4r:WorkflowRun\",\"type\":\"prov:QUALIFIED_NAME\"}");
    let mut clock = super::time::Clock::new();
    s.push_str(",\"prov:startTime\":\"");
    clock.write(run.start_us, &mut s);
    s.push_str("\",\"prov:endTime\":\"");
    clock.write(run.end_us, &mut s);
    s.push('"');
    let text = [
        ("d4r:runId", &run.run_id),
        ("d4r:graph", &run.graph),
        ("d4r:mapping", &run.mapping),
        ("d4r:options", &run.options_json),
        ("d4r:inputs", &run.inputs),
        ("d4r:host", &run.host),
        ("d4r:user", &run.user),
        ("d4r:version", &run.version),
    ];
    for (key, value) in text {
        s.push_str(",\"");
        s.push_str(key);
        s.push_str("\":");
        write_json_str(value, &mut s);
    }
    s.push_str(",\"d4r:recordedPes\":");
    let pes = if run.recorded_pes.is_empty() { "*".to_owned() } else { run.recorded_pes.join(",") };
    write_json_str(&pes, &mut s);
    s.push('}');
    s
}
