//! Shared by the dispel4rs-python integration tests: the `dispel4rs` binary, the graph
//! files of `tests/graphs`, the Python venv with the real dispel4py (made by
//! `scripts/python_venv.sh` on first use), runs under `mpirun` and with a private
//! `redis-server`, and collected outputs as sorted multisets.
//!
//! A tool that is missing (python3 with venv, mpirun, redis-server) fails the test that
//! needs it with a message naming it and how to install it: nothing passes by skipping.

#![allow(dead_code)]

use serde_json::Value as Json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One collected data unit: (pe, port, data as canonical JSON).
pub type Record = (String, String, String);

/// The `dispel4rs` binary of this build.
pub fn dispel4rs() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dispel4rs"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("python/ is in the repository").to_path_buf()
}

/// A graph file of `tests/graphs`.
pub fn graph(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graphs").join(format!("{name}.py"))
}

/// The venv with stream-d4py, mpi4py and numpy (created once, see `scripts/python_venv.sh`).
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = std::env::var_os("D4R_PYTHON_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target/python-venv"));
        let out = Command::new(repo().join("scripts/python_venv.sh"))
            .env("D4R_PYTHON_VENV", &dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/python_venv.sh: {e}"));
        assert!(
            out.status.success(),
            "the Python venv with dispel4py (stream-d4py) could not be made by scripts/python_venv.sh \
             (needs python3 with venv and pip, and PyPI): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// Fails the test if `tool` is not on PATH, saying how to get it.
pub fn require(tool: &str, how: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "{tool} is not installed: {how} (scripts/setup.sh installs it)");
}

/// What a run printed and collected.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub records: Vec<Record>,
}

impl Run {
    pub fn assert_success(&self, context: &str) -> &Self {
        assert_eq!(
            self.status,
            Some(0),
            "{context} failed ({:?}):\n{}\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Waits for `child`, killing it after `timeout`.
pub fn wait(mut child: Child, timeout: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => {
                return child.wait_with_output().expect("collecting the output of a finished child")
            }
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collecting the output of a killed child");
                panic!(
                    "{what} did not finish within {timeout:?}:\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// A command with piped output and the environment the tests share (the venv active, MPI
/// allowed as root).
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env("VIRTUAL_ENV", venv())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    cmd
}

/// `mpirun -n ranks` (oversubscribed: there are more ranks than cores in the tests).
pub fn mpirun(ranks: usize) -> Command {
    require("mpirun", "apt-get install openmpi-bin libopenmpi-dev");
    let mut cmd = command("mpirun");
    cmd.args(["--oversubscribe", "-n", &ranks.to_string()]);
    cmd
}

/// Runs `cmd` with `-o FILE` (appended) and reads the collected records.
pub fn run_collect(mut cmd: Command, what: &str) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("out.jsonl");
    cmd.arg("-o").arg(&file);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let out = wait(child, Duration::from_secs(180), what);
    let records = if file.exists() { read_jsonl(&file) } else { Vec::new() };
    Run {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        records,
    }
}

/// `dispel4rs <mapping args> <graph> <args>` (under mpirun for `mpi`), collecting outputs.
pub fn ours(mapping: &[&str], graph_file: &Path, args: &[&str]) -> Run {
    let what = format!("dispel4rs {} {} {}", mapping.join(" "), graph_file.display(), args.join(" "));
    let mut cmd = if mapping[0] == "mpi" {
        let ranks = mapping
            .iter()
            .position(|a| *a == "-n")
            .and_then(|i| mapping.get(i + 1))
            .map_or(2, |n| n.parse().unwrap_or(2));
        let mut cmd = mpirun(ranks);
        cmd.arg(dispel4rs()).arg("mpi");
        cmd
    } else {
        let mut cmd = command(dispel4rs());
        cmd.args(mapping);
        cmd
    };
    cmd.arg(graph_file).args(args).arg("-q");
    run_collect(cmd, &what)
}

/// The real dispel4py (from the venv) running `graph_file` under its `mapping`, with the
/// unconnected outputs recorded by `tests/reference/d4py_outputs.py`.
pub fn dispel4py(
    mapping: &str,
    graph_file: &Path,
    iterations: u64,
    processes: usize,
    env: &[(&str, String)],
) -> Vec<Record> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let python = venv().join("bin/python");
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/d4py_outputs.py");
    let mut cmd = if mapping == "mpi" { mpirun(processes) } else { command(&python) };
    if mapping == "mpi" {
        cmd.arg(&python);
    }
    cmd.arg(&harness).arg(mapping).arg(graph_file).arg(dir.path());
    cmd.args(["-i", &iterations.to_string(), "-n", &processes.to_string()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let what = format!("dispel4py {mapping} {}", graph_file.display());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let out = wait(child, Duration::from_secs(180), &what);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("the harness's output directory") {
        records.extend(read_jsonl(&entry.expect("a directory entry").path()));
    }
    records.sort();
    records
}

/// The records of a JSON Lines file `{"pe", "port", "data"}`, sorted.
pub fn read_jsonl(path: &Path) -> Vec<Record> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut records: Vec<Record> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Json = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            let field = |k: &str| {
                v.get(k).and_then(Json::as_str).unwrap_or_else(|| panic!("no {k} in {l}")).to_owned()
            };
            (field("pe"), field("port"), canonical(v.get("data").unwrap_or(&Json::Null)))
        })
        .collect();
    records.sort();
    records
}

/// JSON with object keys sorted at every level.
pub fn canonical(v: &Json) -> String {
    match v {
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let body: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Json::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Json::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Fails with a readable difference if the two sorted multisets differ.
pub fn assert_same(actual: &[Record], expected: &[Record], context: &str) {
    if actual == expected {
        return;
    }
    let (mut missing, mut extra) = (expected.to_vec(), Vec::new());
    for r in actual {
        match missing.iter().position(|m| m == r) {
            Some(i) => {
                missing.remove(i);
            }
            None => extra.push(r.clone()),
        }
    }
    panic!(
        "{context}: {} record(s) expected, {} collected\n  missing: {:?}\n  unexpected: {:?}",
        expected.len(),
        actual.len(),
        &missing[..missing.len().min(10)],
        &extra[..extra.len().min(10)]
    );
}

/// True if every record of `small` is in `big` (as many times).
pub fn is_submultiset(small: &[Record], big: &[Record]) -> bool {
    let mut rest = big.to_vec();
    small.iter().all(|r| match rest.iter().position(|b| b == r) {
        Some(i) => {
            rest.remove(i);
            true
        }
        None => false,
    })
}

/// How many records each PE collected.
pub fn counts(records: &[Record]) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for (pe, _, _) in records {
        *out.entry(pe.clone()).or_default() += 1;
    }
    out
}

/// A private `redis-server` on a free loopback port, stopped when dropped.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        require("redis-server", "apt-get install redis-server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
