//! One process's part of a run's provenance: a file per record kind in the run's parts
//! directory, to which the instances of the process append whole lines, each line one
//! member of the PROV-JSON object of its kind (`"id":{...}`). The coordinator merges every
//! process's part into the document at the end ([`super::prov_json`]).
//!
//! Lines are written whole (an instance appends its buffer under the lock), so a process
//! that dies leaves at worst a last line without its newline, which the merge skips.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// The kinds of records, in the order the document lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `entity`: data units, root inputs, states.
    Entity = 0,
    /// `activity`: invocations, `postprocess`, the workflow run.
    Activity,
    /// `agent`: PE instances.
    Agent,
    /// `used`.
    Used,
    /// `wasGeneratedBy`.
    Generation,
    /// `wasDerivedFrom`.
    Derivation,
    /// `wasAssociatedWith`.
    Association,
}

/// Every kind, in document order.
pub const KINDS: [Kind; 7] = [
    Kind::Entity,
    Kind::Activity,
    Kind::Agent,
    Kind::Used,
    Kind::Generation,
    Kind::Derivation,
    Kind::Association,
];

impl Kind {
    /// The PROV-JSON key of the kind.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Entity => "entity",
            Kind::Activity => "activity",
            Kind::Agent => "agent",
            Kind::Used => "used",
            Kind::Generation => "wasGeneratedBy",
            Kind::Derivation => "wasDerivedFrom",
            Kind::Association => "wasAssociatedWith",
        }
    }

    /// The kind whose part files end in `.<key>.part`.
    pub fn from_part_name(name: &str) -> Option<Kind> {
        let stem = name.strip_suffix(".part")?;
        KINDS.into_iter().find(|k| stem.ends_with(&format!(".{}", k.key())))
    }
}

/// Record lines buffered per kind (by an instance, between appends).
pub type Lines = [String; 7];

/// The logs of this process, by parts directory.
type Registry = Vec<(PathBuf, Weak<ProcessLog>)>;

/// The part of one process. Shared by the instances of the process that record.
#[derive(Debug)]
pub struct ProcessLog {
    dir: PathBuf,
    tag: String,
    files: Mutex<[Option<File>; 7]>,
    error: Mutex<Option<String>>,
}

impl ProcessLog {
    /// The log of this process for the parts directory `dir` (one per directory and
    /// process, made on first use).
    pub fn for_dir(dir: &Path) -> Arc<ProcessLog> {
        static LOGS: OnceLock<Mutex<Registry>> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut logs = LOGS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        logs.retain(|(_, w)| w.strong_count() > 0);
        if let Some(log) = logs.iter().find(|(d, _)| d == dir).and_then(|(_, w)| w.upgrade()) {
            return log;
        }
        let tag = format!("p{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let log = Arc::new(ProcessLog {
            dir: dir.to_owned(),
            tag,
            files: Mutex::new(Default::default()),
            error: Mutex::new(None),
        });
        logs.push((dir.to_owned(), Arc::downgrade(&log)));
        log
    }

    /// Appends the buffered lines and empties the buffers. A failure is kept (the first
    /// one) and logged; the records are lost.
    pub fn append(&self, lines: &mut Lines) {
        if lines.iter().all(String::is_empty) {
            return;
        }
        let result = {
            let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            self.write_all(&mut files, lines)
        };
        for l in lines.iter_mut() {
            l.clear();
        }
        if let Err(e) = result {
            let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
            if error.is_none() {
                tracing::error!("provenance: cannot write to {}: {e}", self.dir.display());
                *error = Some(format!("cannot write the provenance part in {}: {e}", self.dir.display()));
            }
        }
    }

    fn write_all(&self, files: &mut [Option<File>; 7], lines: &Lines) -> std::io::Result<()> {
        for kind in KINDS {
            let text = &lines[kind as usize];
            if text.is_empty() {
                continue;
            }
            let slot = &mut files[kind as usize];
            if slot.is_none() {
                std::fs::create_dir_all(&self.dir)?;
                let path = self.dir.join(format!("{}.{}.part", self.tag, kind.key()));
                *slot = Some(OpenOptions::new().create(true).append(true).open(path)?);
            }
            if let Some(file) = slot {
                file.write_all(text.as_bytes())?;
            }
        }
        Ok(())
    }

    /// The first write error of this process, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_log_per_directory_and_lines_land_in_a_file_per_kind() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProcessLog::for_dir(dir.path());
        let b = ProcessLog::for_dir(dir.path());
        assert!(Arc::ptr_eq(&a, &b));
        let mut lines: Lines = Default::default();
        lines[Kind::Entity as usize].push_str("\"r:u0.0.0.0\":{}\n");
        lines[Kind::Used as usize].push_str("\"_:u\":{}\n");
        a.append(&mut lines);
        assert!(lines.iter().all(String::is_empty));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let kinds: Vec<Option<Kind>> = names.iter().map(|n| Kind::from_part_name(n)).collect();
        assert_eq!(kinds, vec![Some(Kind::Entity), Some(Kind::Used)]);
        assert!(a.error().is_none());
    }
}
