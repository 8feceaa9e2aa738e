//! Worker processes of a multi-process run, whatever carries their data (ZMQ today, Redis
//! next): the [`Manifest`] every worker receives from its coordinator, the host name
//! processes introduce themselves with, and [`WorkerProcesses`], the copies of this program
//! the coordinator starts on its own machine.
//!
//! * **Manifest**: the run's [`RunOptions`] (serialised whole, so a new option reaches
//!   workers without code that mirrors it) and the root inputs. What only makes sense on the
//!   coordinator (its dead-letter file) is left out; what is the worker's own (the interface
//!   its sockets bind to) comes from the worker's command line.
//! * **Output**: a worker's standard output and standard error are piped to the coordinator
//!   and written there line by line, each line whole and prefixed with the worker's name
//!   (`[worker 2] ...`), so a `println!` in a PE reaches the user under every mapping.
//! * **Lifetime**: on Linux a spawned worker gets a parent-death signal (SIGKILL when the
//!   coordinator's spawning thread dies: the main thread, so whatever ends the coordinator —
//!   SIGKILL, SIGTERM, a crash), so no worker outlives its coordinator, even with a PE busy
//!   in its code; a worker started by hand stops by itself once it has not heard from the
//!   coordinator for `--peer-timeout-ms` (heartbeats); a worker that exits early is reported by [`WorkerProcesses::watch`]; at the end
//!   [`WorkerProcesses::finish`] reaps them all, killing those still running after a grace
//!   period.
//! * **Program arguments**: a program whose command line has arguments of its own before the
//!   mapping — the `dispel4rs` command of `dispel4rs-python`, `dispel4rs <graph.py> ...` —
//!   calls [`set_program_args`] once, and every worker it starts gets them first.

use crate::mapping::RunError;
use crate::runtime::inputs::InputSource;
use crate::runtime::options::RunOptions;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Arguments put before a worker's own on the command line of every worker process this
/// program starts (see [`set_program_args`]).
static PROGRAM_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Sets, once per process, the arguments every worker process started by this program gets
/// before its own (`zmq_multi --join ADDR`, `dyn_redis --join JOB`, ...): for a program that
/// needs more than the mapping to know what to run, e.g. the graph file of the `dispel4rs`
/// command, whose workers run `dispel4rs graph.py zmq_multi --join ADDR`. Returns `false`
/// (and changes nothing) if they were already set.
pub fn set_program_args(args: Vec<String>) -> bool {
    PROGRAM_ARGS.set(args).is_ok()
}

/// The arguments set by [`set_program_args`] (none if it was not called).
pub fn program_args() -> &'static [String] {
    PROGRAM_ARGS.get().map_or(&[], Vec::as_slice)
}

/// This machine's host name (for messages naming a process), or `localhost`.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// What a coordinator sends every worker: the options and the root inputs of the run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Manifest {
    options: RunOptions,
    inputs: InputSource,
}

impl Manifest {
    /// The manifest of a run with `options` and `inputs`, without what is the coordinator's
    /// alone.
    pub(crate) fn new(options: &RunOptions, inputs: &InputSource) -> Self {
        let mut options = options.clone();
        // The coordinator writes every dead letter; a worker's path would name a file of
        // another host, or the same file twice.
        options.dead_letter_file = None;
        // The secret is the worker's own business (environment or its --secret-file).
        options.cluster.secret_file = None;
        Manifest { options, inputs: inputs.clone() }
    }

    /// The options for a worker whose sockets bind to `bind_host`.
    pub(crate) fn worker_options(&self, bind_host: &str) -> RunOptions {
        let mut options = self.options.clone();
        options.cluster.bind_host = bind_host.to_owned();
        options
    }

    /// The root inputs.
    pub(crate) fn inputs(&self) -> &InputSource {
        &self.inputs
    }
}

/// Names of workers by pid, for the lines they print (renamed once their rank is known).
type Labels = Arc<Mutex<HashMap<u32, String>>>;

/// The workers this coordinator started: see the [module documentation](self).
pub(crate) struct WorkerProcesses {
    children: Arc<Mutex<Vec<(u32, Child)>>>,
    labels: Labels,
    running: Arc<AtomicBool>,
    forwarders: Vec<JoinHandle<()>>,
}

/// Copies the lines of `pipe` to this process's stdout or stderr, each whole and prefixed.
fn forward(
    pipe: impl Read + Send + 'static,
    pid: u32,
    labels: Labels,
    to_stderr: bool,
) -> Option<JoinHandle<()>> {
    let name = format!("d4r-out-{pid}");
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line.last() != Some(&b'\n') {
                    line.push(b'\n');
                }
                let label = labels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&pid)
                    .cloned()
                    .unwrap_or_else(|| format!("worker pid {pid}"));
                let mut whole = Vec::with_capacity(label.len() + 3 + line.len());
                whole.push(b'[');
                whole.extend_from_slice(label.as_bytes());
                whole.extend_from_slice(b"] ");
                whole.extend_from_slice(&line);
                // One write of the whole line under the lock: lines never interleave; and
                // around the progress line, if one is drawn, never into it.
                let _ = crate::runtime::observe::progress::suspend(|| {
                    if to_stderr {
                        std::io::stderr().lock().write_all(&whole)
                    } else {
                        let mut out = std::io::stdout().lock();
                        out.write_all(&whole).and_then(|()| out.flush())
                    }
                });
            }
        })
        .ok()
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: prctl, getppid and _exit are async-signal-safe and touch no memory of the
    // parent; this runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then no signal would come.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

impl WorkerProcesses {
    /// Starts `count` copies of this program with `args`; `env` is added to their
    /// environment (never to their command line: `ps` shows that to every user).
    pub(crate) fn spawn(count: usize, args: &[String], env: &[(String, String)]) -> Result<Self, RunError> {
        let each: Vec<Vec<String>> = (0..count).map(|_| args.to_vec()).collect();
        WorkerProcesses::spawn_each(&each, env)
    }

    /// Starts one copy of this program per element of `args`, with those arguments (after
    /// the [`program_args`]).
    pub(crate) fn spawn_each(args: &[Vec<String>], env: &[(String, String)]) -> Result<Self, RunError> {
        let exe = std::env::current_exe()
            .map_err(|e| RunError::io("cannot find this program to start workers", e))?;
        let labels: Labels = Arc::new(Mutex::new(HashMap::new()));
        let mut children = Vec::new();
        let mut forwarders = Vec::new();
        for (i, args) in args.iter().enumerate() {
            let mut cmd = Command::new(&exe);
            cmd.args(program_args())
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, v) in env {
                cmd.env(k, v);
            }
            die_with_parent(&mut cmd);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    let started = WorkerProcesses {
                        children: Arc::new(Mutex::new(children)),
                        labels,
                        running: Arc::new(AtomicBool::new(false)),
                        forwarders,
                    };
                    started.finish(Duration::ZERO);
                    return Err(RunError::io(
                        format!("cannot start worker {} ({})", i + 1, exe.display()),
                        e,
                    ));
                }
            };
            let pid = child.id();
            if let Some(out) = child.stdout.take() {
                forwarders.extend(forward(out, pid, labels.clone(), false));
            }
            if let Some(err) = child.stderr.take() {
                forwarders.extend(forward(err, pid, labels.clone(), true));
            }
            children.push((pid, child));
        }
        Ok(WorkerProcesses {
            children: Arc::new(Mutex::new(children)),
            labels,
            running: Arc::new(AtomicBool::new(true)),
            forwarders,
        })
    }

    /// Names the worker with `pid` in the lines it prints and in messages about it.
    pub(crate) fn label(&self, pid: u32, name: impl Into<String>) {
        self.labels.lock().unwrap_or_else(|p| p.into_inner()).insert(pid, name.into());
    }

    /// How messages name the worker with `pid`: its label and its pid.
    fn name_of(labels: &Labels, pid: u32) -> String {
        match labels.lock().unwrap_or_else(|p| p.into_inner()).get(&pid) {
            Some(label) => format!("{label} (pid {pid})"),
            None => format!("worker (pid {pid})"),
        }
    }

    /// A worker that has exited, if any: (pid, exit status in words).
    pub(crate) fn exited(&self) -> Option<(u32, String)> {
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        for (pid, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Some((*pid, status.to_string()));
            }
        }
        None
    }

    /// Starts a thread that reports a worker dying (exiting unsuccessfully) while the run
    /// is on: the message names it.
    pub(crate) fn watch(&self) -> crossbeam_channel::Receiver<String> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (children, running, labels) = (self.children.clone(), self.running.clone(), self.labels.clone());
        let _ = std::thread::Builder::new().name("d4r-watch".into()).spawn(move || {
            while running.load(Ordering::SeqCst) {
                {
                    let mut children = children.lock().unwrap_or_else(|p| p.into_inner());
                    for (pid, child) in children.iter_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            if running.load(Ordering::SeqCst) && !status.success() {
                                let name = WorkerProcesses::name_of(&labels, *pid);
                                let _ = tx.try_send(format!("{name} died ({status})"));
                                return;
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        rx
    }

    /// Starts a thread that reports every worker that exits while the run is on — `(pid,
    /// status in words)` — for runs that go on without it (their work is taken over).
    pub(crate) fn exits(&self) -> crossbeam_channel::Receiver<(u32, String)> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (children, running, labels) = (self.children.clone(), self.running.clone(), self.labels.clone());
        let _ = std::thread::Builder::new().name("d4r-watch".into()).spawn(move || {
            let mut reported = std::collections::HashSet::new();
            while running.load(Ordering::SeqCst) {
                {
                    let mut children = children.lock().unwrap_or_else(|p| p.into_inner());
                    for (pid, child) in children.iter_mut() {
                        if reported.contains(pid) {
                            continue;
                        }
                        if let Ok(Some(status)) = child.try_wait() {
                            reported.insert(*pid);
                            if running.load(Ordering::SeqCst) {
                                let name = WorkerProcesses::name_of(&labels, *pid);
                                let _ = tx.send((*pid, format!("{name} exited ({status})")));
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        rx
    }

    /// Ends the watch and reaps every worker, killing those still running after `grace`;
    /// returns once everything they printed has been forwarded.
    pub(crate) fn finish(self, grace: Duration) {
        self.running.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + grace;
        {
            let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
            for (_, child) in children.iter_mut() {
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) if Instant::now() >= deadline => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break;
                        }
                        Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            }
        }
        for f in self.forwarders {
            let _ = f.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_carries_every_option_but_the_coordinators_own() {
        let mut options = RunOptions { batch_size: 77, max_retries: 5, ..RunOptions::default() };
        options.dead_letter_file = Some("/tmp/dead.jsonl".into());
        options.cluster.peer_timeout = Duration::from_millis(1234);
        options.restart.max_restarts = 9;
        let m = Manifest::new(&options, &InputSource::Iterations(3));
        let bytes = crate::runtime::wire::to_bytes(&m).unwrap();
        let back: Manifest = crate::runtime::wire::from_bytes(&bytes).unwrap();
        let o = back.worker_options("10.0.0.7");
        assert_eq!((o.batch_size, o.max_retries, o.restart.max_restarts), (77, 5, 9));
        assert_eq!(o.cluster.peer_timeout, Duration::from_millis(1234));
        assert_eq!(o.cluster.bind_host, "10.0.0.7");
        assert_eq!(o.dead_letter_file, None);
        assert_eq!(back.inputs(), &InputSource::Iterations(3));
    }

    #[test]
    fn the_host_name_is_never_empty() {
        assert!(!hostname().is_empty());
    }
}
