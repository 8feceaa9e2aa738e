//! Output files written whole or not at all: `-o`, `--dead-letters` and `--report` are
//! written to a temporary file beside the target (`.NAME.d4rs-PID.tmp`, same directory, so
//! same file system) and renamed over it when the run has ended. So a file named both as an
//! input and as an output is read intact by the run and replaced only at its end, and a run
//! that aborts leaves the previous file as it was (the temporary file is removed).
//!
//! A target that exists and is not a regular file (`/dev/stdout`, a named pipe) is written
//! directly: there is nothing to rename over.

use std::path::{Path, PathBuf};

/// One output file being written. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct StagedFile {
    target: PathBuf,
    /// Where it is written until [`StagedFile::commit`]; `None` when written directly.
    temp: Option<PathBuf>,
}

impl StagedFile {
    /// An output to `target`, not yet created.
    pub(crate) fn new(target: &Path) -> StagedFile {
        let special = std::fs::metadata(target).is_ok_and(|m| !m.is_file());
        let temp = (!special).then(|| {
            let mut name = std::ffi::OsString::from(".");
            name.push(target.file_name().unwrap_or_else(|| std::ffi::OsStr::new("output")));
            name.push(format!(".d4rs-{}.tmp", std::process::id()));
            target.with_file_name(name)
        });
        StagedFile { target: target.to_owned(), temp }
    }

    /// Where to write now.
    pub(crate) fn path(&self) -> &Path {
        self.temp.as_deref().unwrap_or(&self.target)
    }

    /// The file the output ends up in.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Puts the written file in place of the target.
    pub(crate) fn commit(mut self) -> std::io::Result<()> {
        match self.temp.take() {
            Some(temp) => std::fs::rename(&temp, &self.target).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            }),
            None => Ok(()),
        }
    }

    /// Writes `bytes` as the whole file, staged and committed.
    pub(crate) fn write_whole(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let staged = StagedFile::new(target);
        std::fs::write(staged.path(), bytes)?;
        staged.commit()
    }
}

impl Drop for StagedFile {
    /// Not committed: the run did not end; the target keeps what it had.
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_changes_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        std::fs::write(&target, "previous").unwrap();
        let staged = StagedFile::new(&target);
        std::fs::write(staged.path(), "new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous");
        staged.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        let abandoned = StagedFile::new(&target);
        std::fs::write(abandoned.path(), "half").unwrap();
        let temp = abandoned.path().to_owned();
        drop(abandoned);
        assert!(!temp.exists(), "the temporary file is removed");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn special_files_are_written_directly() {
        let staged = StagedFile::new(Path::new("/dev/null"));
        assert_eq!(staged.path(), Path::new("/dev/null"));
        staged.commit().unwrap();
    }
}
