//! Collected outputs: what PEs write to output ports that are connected to nothing.
//! Kept in memory and shown at the end (`Outputs: {pe: {port: [...]}}`, as dispel4py
//! prints them), or streamed to a file as JSON Lines, one
//! `{"pe": NAME, "port": PORT, "data": VALUE}` per data unit (`-o FILE`). With provenance on,
//! units arrive in their envelopes: the collector keeps the data, and each JSON Lines record
//! also names the unit's provenance id (`"prov": "r:u4.0.0.0"`, for `--trace`).

use crate::plan::CollectName;
use crate::value::{write_json_str, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

enum Mode {
    Memory,
    JsonLines { path: PathBuf, file: BufWriter<File> },
}

/// Receives collected units during a run. See the [module documentation](self).
pub struct Collector {
    mode: Mode,
    ports: Vec<(CollectName, Vec<Value>, u64)>,
    total: u64,
    line: String,
    /// Provenance is on: units are envelopes.
    traced: bool,
}

/// The outputs of a finished run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CollectedOutputs {
    /// Per collected port, in order of first appearance: its units (empty when streamed to
    /// a file) and how many there were.
    pub ports: Vec<(CollectName, Vec<Value>, u64)>,
    /// All collected units.
    pub total: u64,
    /// The JSON Lines file they were written to, if any.
    pub file: Option<PathBuf>,
}

/// Formats one JSON Lines record `{"pe": .., "port": .., "data": ..}` (no newline).
pub fn json_line(name: &CollectName, unit: &Value, out: &mut String) {
    out.push_str("{\"pe\":");
    write_json_str(&name.pe, out);
    out.push_str(",\"port\":");
    write_json_str(&name.port, out);
    out.push_str(",\"data\":");
    unit.write_json(out);
    out.push('}');
}

impl Collector {
    /// Keeps everything in memory.
    pub fn memory() -> Self {
        Collector { mode: Mode::Memory, ports: Vec::new(), total: 0, line: String::new(), traced: false }
    }

    /// Streams to a JSON Lines file (created or truncated).
    pub fn json_lines(path: &Path) -> std::io::Result<Self> {
        let file = BufWriter::with_capacity(1 << 16, File::create(path)?);
        Ok(Collector {
            mode: Mode::JsonLines { path: path.to_owned(), file },
            ports: Vec::new(),
            total: 0,
            line: String::new(),
            traced: false,
        })
    }

    /// Units arrive in provenance envelopes (provenance is on).
    pub fn traced(mut self, on: bool) -> Self {
        self.traced = on;
        self
    }

    /// Takes the units written on the collected port `name`; leaves `units` empty.
    pub fn push(&mut self, name: &CollectName, units: &mut Vec<Value>) -> std::io::Result<()> {
        let n = units.len() as u64;
        self.total += n;
        let slot = match self.ports.iter().position(|(c, _, _)| c == name) {
            Some(i) => i,
            None => {
                self.ports.push((name.clone(), Vec::new(), 0));
                self.ports.len() - 1
            }
        };
        self.ports[slot].2 += n;
        match &mut self.mode {
            Mode::Memory if self.traced => {
                let kept = &mut self.ports[slot].1;
                kept.extend(units.drain(..).map(|u| crate::provenance::id::unwrap(u).1));
            }
            Mode::Memory => self.ports[slot].1.append(units),
            Mode::JsonLines { file, .. } => {
                for unit in units.drain(..) {
                    self.line.clear();
                    if self.traced {
                        let (id, data) = crate::provenance::id::unwrap(unit);
                        json_line(name, &data, &mut self.line);
                        if let Some(id) = id {
                            self.line.pop();
                            self.line.push_str(",\"prov\":\"");
                            id.write_qname(&mut self.line);
                            self.line.push_str("\"}");
                        }
                    } else {
                        json_line(name, &unit, &mut self.line);
                    }
                    self.line.push('\n');
                    file.write_all(self.line.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// Ends collection (flushing the file).
    pub fn finish(self) -> std::io::Result<CollectedOutputs> {
        let file = match self.mode {
            Mode::Memory => None,
            Mode::JsonLines { path, mut file } => {
                file.flush()?;
                Some(path)
            }
        };
        Ok(CollectedOutputs { ports: self.ports, total: self.total, file })
    }
}

impl CollectedOutputs {
    /// The units collected from `pe`'s output `port` (in memory mode).
    pub fn get(&self, pe: &str, port: &str) -> Option<&[Value]> {
        self.ports.iter().find(|(c, _, _)| &*c.pe == pe && &*c.port == port).map(|(_, v, _)| v.as_slice())
    }

    /// Every collected unit as `(pe, port, unit)` (in memory mode).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.ports.iter().flat_map(|(c, v, _)| v.iter().map(move |u| (&*c.pe, &*c.port, u)))
    }

    /// dispel4py's summary line: `Outputs: {"pe": {"port": [...]}}`.
    pub fn summary(&self) -> String {
        let mut out = String::from("Outputs: {");
        let mut pes: Vec<&str> = Vec::new();
        for (c, _, _) in &self.ports {
            if !pes.contains(&&*c.pe) {
                pes.push(&c.pe);
            }
        }
        for (i, pe) in pes.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_json_str(pe, &mut out);
            out.push_str(": {");
            for (j, (c, units, _)) in self.ports.iter().filter(|(c, _, _)| &*c.pe == *pe).enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                write_json_str(&c.port, &mut out);
                out.push_str(": ");
                Value::List(units.clone()).write_json(&mut out);
            }
            out.push('}');
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn name(pe: &str, port: &str) -> CollectName {
        CollectName { pe: Arc::from(pe), port: Arc::from(port) }
    }

    #[test]
    fn memory_mode_groups_by_port_in_order_of_appearance() {
        let mut c = Collector::memory();
        c.push(&name("b", "output"), &mut vec![Value::Int(1)]).unwrap();
        c.push(&name("a", "x\"y"), &mut vec![Value::from("s")]).unwrap();
        c.push(&name("b", "output"), &mut vec![Value::Int(2)]).unwrap();
        let out = c.finish().unwrap();
        assert_eq!(out.total, 3);
        assert_eq!(out.get("b", "output").unwrap(), &[Value::Int(1), Value::Int(2)]);
        assert_eq!(out.summary(), r#"Outputs: {"b": {"output": [1,2]}, "a": {"x\"y": ["s"]}}"#);
    }

    #[test]
    fn json_lines_mode_streams_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut c = Collector::json_lines(&path).unwrap();
        c.push(&name("sink", "output"), &mut vec![Value::map([("count", 2)]), Value::Int(3)]).unwrap();
        let out = c.finish().unwrap();
        assert_eq!(out.ports[0].2, 2);
        assert!(out.ports[0].1.is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"pe\":\"sink\",\"port\":\"output\",\"data\":{\"count\":2}}\n{\"pe\":\"sink\",\"port\":\"output\",\"data\":3}\n"
        );
    }
}
