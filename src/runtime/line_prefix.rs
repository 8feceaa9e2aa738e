//! Prefixing everything this process writes on its standard output and error, line by line
//! (`[rank 2] ...`): for the ranks of an MPI job, whose output `mpirun` forwards to the user's
//! terminal as it comes. Each file descriptor (1 and 2) is pointed at a pipe; a thread per
//! pipe writes every whole line, prefix first, to the original descriptor in one `write`, so
//! the lines of several ranks never interleave mid-line (a `write` of a pipe-sized line is
//! atomic) and a PE's `println!` is never lost or mixed with another's.
//!
//! Dropping the [`LinePrefix`] restores the descriptors and
//! waits until everything written before has been forwarded.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::thread::JoinHandle;

/// See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct LinePrefix {
    /// (redirected descriptor, a copy of what it was).
    saved: Vec<(RawFd, RawFd)>,
    readers: Vec<JoinHandle<()>>,
}

fn os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

impl LinePrefix {
    /// Redirects standard output and error through `prefix`.
    pub(crate) fn install(prefix: &str) -> std::io::Result<LinePrefix> {
        let _ = std::io::stdout().flush();
        let mut this = LinePrefix { saved: Vec::new(), readers: Vec::new() };
        for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            let mut ends: [RawFd; 2] = [-1; 2];
            // SAFETY: plain descriptor calls on descriptors this function owns; each result is
            // checked before use.
            unsafe {
                if libc::pipe(ends.as_mut_ptr()) != 0 {
                    return Err(os_error());
                }
                let keep = libc::dup(fd);
                let target = libc::dup(fd);
                if keep < 0 || target < 0 || libc::dup2(ends[1], fd) < 0 {
                    let e = os_error();
                    for d in [keep, target, ends[0], ends[1]] {
                        if d >= 0 {
                            libc::close(d);
                        }
                    }
                    return Err(e);
                }
                libc::close(ends[1]);
                this.saved.push((fd, keep));
                let (reader, target) = (File::from_raw_fd(ends[0]), File::from_raw_fd(target));
                let prefix = prefix.to_owned();
                let thread = std::thread::Builder::new()
                    .name("d4r-output".into())
                    .spawn(move || forward(reader, target, &prefix))?;
                this.readers.push(thread);
            }
        }
        Ok(this)
    }
}

impl Drop for LinePrefix {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        for (fd, keep) in self.saved.drain(..) {
            // SAFETY: `keep` is a descriptor this value owns; restoring closes the pipe's last
            // write end, so its reader sees the end of the file.
            unsafe {
                libc::dup2(keep, fd);
                libc::close(keep);
            }
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

/// Copies `reader` to `target` line by line, each line prefixed and written whole.
fn forward(reader: File, mut target: File, prefix: &str) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        line.extend_from_slice(prefix.as_bytes());
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if line.last() != Some(&b'\n') {
                    line.push(b'\n');
                }
                if target.write_all(&line).is_err() {
                    return;
                }
            }
        }
    }
}
