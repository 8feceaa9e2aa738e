//! Helpers shared by the integration tests that run workflow binaries (the examples) the
//! way a user does, and by the per-mapping test files (`simple`, and later `multi`,
//! `zmq_multi`, `mpi`).
//!
//! * [`example`] finds a built example binary next to the test binary
//!   (`target/<profile>/examples/<name>`) and builds it with `cargo build --example` when it
//!   is missing or older than one of its sources (as listed in the dep-info file cargo
//!   writes next to it), so `cargo test --test <file>` alone never runs a stale example.
//!   Each example is checked once per process and builds run one at a time; a build is
//!   announced on stderr.
//! * [`run`] / [`run_with_timeout`] run it with arguments, killing it on time-out and
//!   failing the test with its stderr.
//! * [`run_collect`] runs it with `-o FILE` into a temporary directory and reads the JSON
//!   Lines back into a sorted multiset of [`Record`]s; [`assert_multiset_eq`] compares two
//!   multisets with a readable diff.
//! * [`plan_counts`] reads the instance counts from `--plan`; [`run_report`] runs with
//!   `--report FILE` and returns the JSON report.
//!
//! Include it with `mod support;` from a test file.

// Every test file uses only some of these helpers.
#![allow(dead_code)]

use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// The time-out of [`run`]: generous, since a run that hangs is what it is there to catch.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One collected data unit: `(pe, port, data as canonical JSON)`.
pub type Record = (String, String, String);

/// Where cargo put the test binary: the profile directory (`target/debug`, ...).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    // target/<profile>/deps/<test>-<hash>
    let deps = exe.parent().expect("the test binary lives in a directory");
    deps.parent().expect("the deps directory lives in a profile directory").to_path_buf()
}

/// The directory of the package's sources (to build examples and find fixtures).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture file of the package, e.g. `examples/data/sample.txt`.
pub fn fixture(relative: &str) -> PathBuf {
    manifest_dir().join(relative)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The sources a built binary depends on, from the dep-info file cargo writes next to it
/// (`<name>.d`: `binary: source source ...`, spaces in paths escaped as `\ `).
fn dep_info_sources(binary: &Path) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(binary.with_extension("d")).ok()?;
    let line = text.lines().next()?;
    // The target ends at the first unescaped ": ".
    let mut rest = None;
    let bytes = line.as_bytes();
    for i in 0..bytes.len().saturating_sub(1) {
        if bytes[i] == b':' && bytes[i + 1] == b' ' && (i == 0 || bytes[i - 1] != b'\\') {
            rest = Some(&line[i + 2..]);
            break;
        }
    }
    let mut sources = Vec::new();
    let mut current = String::new();
    let mut chars = rest?.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    sources.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        sources.push(PathBuf::from(current));
    }
    Some(sources)
}

/// True if a source of `binary` changed after it was built: the sources listed in its
/// dep-info file, or, without one, every Rust file of the package.
fn is_stale(binary: &Path, built: SystemTime) -> bool {
    let newer = |p: &Path| modified(p).is_none_or(|m| m > built);
    if let Some(sources) = dep_info_sources(binary) {
        return sources.iter().any(|s| newer(s));
    }
    fn walk(dir: &Path, newer: &dyn Fn(&Path) -> bool) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else { return false };
        entries.flatten().any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newer)
            } else {
                path.extension() == Some(OsStr::new("rs")) && newer(&path)
            }
        })
    }
    let root = manifest_dir();
    ["src", "examples", "actors/src", "transports/src"].iter().any(|dir| walk(&root.join(dir), &newer))
}

/// Builds example `name` for the profile (and target triple) the tests were built with.
fn build_example(name: &str, profile_dir: &Path, why: &str) {
    eprintln!("support: example binary '{name}' is {why}; building it with `cargo build --example {name}`");
    let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // The same features as the tests were built with (an MPI test needs an MPI-enabled binary).
    let features: Vec<&str> =
        [("zmq", cfg!(feature = "zmq")), ("mpi", cfg!(feature = "mpi")), ("redis", cfg!(feature = "redis"))]
            .iter()
            .filter(|f| f.1)
            .map(|f| f.0)
            .collect();
    cmd.arg("build").arg("--no-default-features");
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    cmd.arg("--example")
        .arg(name)
        .arg("--profile")
        .arg(&profile)
        .arg("--manifest-path")
        .arg(manifest_dir().join("Cargo.toml"));
    // target/<profile> or target/<triple>/<profile>: CACHEDIR.TAG marks the target root.
    if let Some(parent) = profile_dir.parent() {
        if parent.join("CACHEDIR.TAG").exists() {
            cmd.arg("--target-dir").arg(parent);
        } else if let (Some(root), Some(triple)) = (parent.parent(), parent.file_name()) {
            if root.join("CACHEDIR.TAG").exists() {
                cmd.arg("--target-dir").arg(root).arg("--target").arg(triple);
            }
        }
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build example '{name}': {e}"));
    assert!(status.success(), "`cargo build --example {name}` failed ({status})");
}

/// The path of the built example `name`, building it first if it is missing or older than
/// the sources. Each name is checked once per process; builds run one at a time.
pub fn example(name: &str) -> PathBuf {
    static CHECKED: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| Mutex::new(HashMap::new()));
    // Holding the lock while building keeps to one cargo build at a time.
    let mut checked = checked.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(path) = checked.get(name) {
        return path.clone();
    }
    let dir = profile_dir();
    let path = dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    match modified(&path) {
        None => build_example(name, &dir, "missing"),
        Some(built) if is_stale(&path, built) => build_example(name, &dir, "older than the sources"),
        Some(_) => {}
    }
    assert!(path.exists(), "example binary {} not found after building it", path.display());
    checked.insert(name.to_owned(), path.clone());
    path
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Output {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Fails the test unless the run exited with `code`; also fails it on any panic.
    pub fn assert_code(&self, code: i32) -> &Self {
        self.assert_no_panic();
        assert_eq!(
            self.code(),
            Some(code),
            "`{}` exited with {} instead of {code}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.command,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Fails the test unless the run succeeded.
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    /// Fails the test if the program panicked.
    pub fn assert_no_panic(&self) -> &Self {
        assert!(!self.stderr.contains("panicked"), "`{}` panicked:\n{}", self.command, self.stderr);
        self
    }

    /// Fails the test unless stderr contains every one of `needles`.
    pub fn assert_stderr_contains(&self, needles: &[&str]) -> &Self {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr of `{}` does not contain {needle:?}:\n{}",
                self.command,
                self.stderr
            );
        }
        self
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs example `name` with `args`; kills it and fails the test if it takes longer than
/// `timeout`.
pub fn run_with_timeout<S: AsRef<OsStr>>(name: &str, args: &[S], timeout: Duration) -> Output {
    let path = example(name);
    let command = std::iter::once(name.to_owned())
        .chain(args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let child = Command::new(&path)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    wait_with_timeout(child, command, timeout)
}

/// Waits for a started child (stdout and stderr piped); kills it and fails the test after
/// `timeout`.
pub fn wait_with_timeout(mut child: std::process::Child, command: String, timeout: Duration) -> Output {
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let text = |h: Option<std::thread::JoinHandle<String>>| {
        h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let err = text(stderr);
                panic!("`{command}` did not finish within {timeout:?}; killed it. stderr:\n{err}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("cannot wait for `{command}`: {e}"),
        }
    };
    Output { command, status, stdout: text(stdout), stderr: text(stderr) }
}

/// Runs example `name` with `args` under [`DEFAULT_TIMEOUT`].
pub fn run<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Output {
    run_with_timeout(name, args, DEFAULT_TIMEOUT)
}

/// Canonical JSON text: object keys sorted, no spaces; integers and floats keep their
/// form (`5` and `5.0` differ).
pub fn canonical_json(v: &Json) -> String {
    fn write(v: &Json, out: &mut String) {
        match v {
            Json::Object(map) => {
                let mut entries: Vec<(&String, &Json)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Json::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// A record for `pe.port` with `data`.
pub fn record(pe: &str, port: &str, data: Json) -> Record {
    (pe.to_owned(), port.to_owned(), canonical_json(&data))
}

/// Sorts records into the multiset representation.
pub fn multiset(mut records: Vec<Record>) -> Vec<Record> {
    records.sort();
    records
}

/// Reads a `-o FILE` JSON Lines file (`{"pe", "port", "data"}` per line) into a sorted
/// multiset; fails the test on a malformed line.
pub fn read_jsonl(path: &Path) -> Vec<Record> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let v: Json = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{} line {}: not JSON ({e}): {line}", path.display(), n + 1));
        let obj = v.as_object().unwrap_or_else(|| panic!("line {}: not an object: {line}", n + 1));
        assert_eq!(obj.len(), 3, "line {}: expected exactly pe, port, data: {line}", n + 1);
        let field = |k: &str| {
            obj.get(k)
                .and_then(Json::as_str)
                .unwrap_or_else(|| panic!("line {}: no string '{k}': {line}", n + 1))
                .to_owned()
        };
        let data = obj.get("data").unwrap_or_else(|| panic!("line {}: no 'data': {line}", n + 1));
        records.push((field("pe"), field("port"), canonical_json(data)));
    }
    multiset(records)
}

/// Runs example `name` with `args` plus `-o FILE` (in a temporary directory, removed
/// afterwards), requires success, and returns the collected records as a sorted multiset.
pub fn run_collect<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Vec<Record> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("out.jsonl");
    let mut all: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    all.extend([OsStr::new("-o"), out.as_os_str()]);
    run(name, &all).assert_success();
    read_jsonl(&out)
}

/// Runs example `name` with `args` plus `-o FILE --report FILE -q` (in a temporary
/// directory, removed afterwards), requires success, and returns the collected records as a
/// sorted multiset and the JSON run report.
pub fn run_collect_report<S: AsRef<OsStr>>(name: &str, args: &[S]) -> (Vec<Record>, Json) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let report = dir.path().join("report.json");
    let out = dir.path().join("out.jsonl");
    let mut all: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    all.extend([
        OsStr::new("--report"),
        report.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("-q"),
    ]);
    run(name, &all).assert_success();
    let text = std::fs::read_to_string(&report).expect("the run wrote its report");
    let report =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the report is not JSON ({e}): {text}"));
    (read_jsonl(&out), report)
}

/// As [`run_collect_report`], returning only the run report.
pub fn run_report<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Json {
    run_collect_report(name, args).1
}

/// The number of instances per PE in the plan of example `name` under `args` (which should
/// name the mapping and `-n`), read from `--plan`.
pub fn plan_counts<S: AsRef<OsStr>>(name: &str, args: &[S]) -> BTreeMap<String, usize> {
    let mut all: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    all.push(OsStr::new("--plan"));
    let out = run(name, &all);
    out.assert_success();
    let mut counts = BTreeMap::new();
    // "  <name>   <k> instance(s)[ (root)] on slot(s) ..."
    for line in out.stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(pos) = words.iter().position(|w| *w == "instance(s)" || w.starts_with("instance(s)")) {
            if pos >= 2 {
                if let Ok(k) = words[pos - 1].parse::<usize>() {
                    counts.insert(words[..pos - 1].join(" "), k);
                }
            }
        }
    }
    assert!(!counts.is_empty(), "no PE found in the plan of `{}`:\n{}", out.command, out.stdout);
    counts
}

/// Fails the test unless `actual` and `expected` hold the same records the same number of
/// times; the message lists what is missing and what is unexpected (with multiplicities).
pub fn assert_multiset_eq(actual: &[Record], expected: &[Record], context: &str) {
    let mut balance: BTreeMap<&Record, i64> = BTreeMap::new();
    for r in expected {
        *balance.entry(r).or_default() += 1;
    }
    for r in actual {
        *balance.entry(r).or_default() -= 1;
    }
    let missing: Vec<(&Record, i64)> =
        balance.iter().filter(|(_, n)| **n > 0).map(|(r, n)| (*r, *n)).collect();
    let extra: Vec<(&Record, i64)> =
        balance.iter().filter(|(_, n)| **n < 0).map(|(r, n)| (*r, -*n)).collect();
    if missing.is_empty() && extra.is_empty() {
        return;
    }
    const SHOWN: usize = 20;
    let show = |items: &[(&Record, i64)]| {
        let mut s = String::new();
        for ((pe, port, data), n) in items.iter().take(SHOWN) {
            s.push_str(&format!("    {n} × {pe}.{port} {data}\n"));
        }
        if items.len() > SHOWN {
            s.push_str(&format!("    ... and {} more\n", items.len() - SHOWN));
        }
        s
    };
    panic!(
        "{context}: outputs differ ({} expected, {} produced)\n  missing (expected, not produced):\n{}  unexpected (produced, not expected):\n{}",
        expected.len(),
        actual.len(),
        show(&missing),
        show(&extra)
    );
}

/// The reference examples, with arguments giving each a non-trivial stream; the mapping and
/// `-n` come first on every command line built from these.
pub fn example_workloads() -> Vec<(&'static str, Vec<String>)> {
    let sample = fixture("examples/data/sample.txt");
    let iter = |n: u64| vec!["-i".to_owned(), n.to_string()];
    vec![
        ("pipeline", vec!["-d".into(), r#"{"source": [{"n": 3000}]}"#.into()]),
        (
            "wordcount",
            vec!["-d".into(), format!(r#"{{"read": [{{"path": {:?}}}]}}"#, sample.display().to_string())],
        ),
        ("pipeline_test", iter(40)),
        ("split_merge", iter(40)),
        ("teecopy", iter(40)),
        ("producer_tee", iter(40)),
        ("unconnected_pipeline", iter(40)),
        ("parallel_pipeline", iter(40)),
        ("pipeline_composite", iter(40)),
        ("grouping_onetoall", iter(40)),
        ("grouping_alltoone", iter(40)),
        ("word_count", iter(200)),
        ("aggregates", iter(3)),
    ]
}

/// The dynamic mappings that run in one process (a pool of worker actors).
pub const POOLED_MAPPINGS: [&str; 2] = ["dyn_multi", "dyn_auto_multi"];

/// The dynamic mappings whose tasks go through Redis (worker processes).
pub const REDIS_MAPPINGS: [&str; 2] = ["dyn_redis", "dyn_auto_redis"];

/// The mapping that runs every graph through Redis, stateful PEs pinned.
pub const HYBRID_MAPPING: &str = "hybrid_redis";

/// The reference examples whose PEs are all stateless (the dynamic mappings run them), with
/// their arguments as in [`example_workloads`]; `bursty` included, on a small input.
pub fn stateless_workloads() -> Vec<(&'static str, Vec<String>)> {
    let mut w: Vec<(&'static str, Vec<String>)> = example_workloads()
        .into_iter()
        .filter(|(name, _)| !STATEFUL_EXAMPLES.iter().any(|(s, _)| s == name))
        .collect();
    w.push((
        "bursty",
        vec![
            "-d".into(),
            r#"{"source": [{"phases": [[200, 0], [20, 500], [200, 0]], "work_ms": 1}]}"#.into(),
        ],
    ));
    w
}

/// The reference examples with a stateful PE, and that PE (the dynamic mappings refuse them,
/// naming it).
pub const STATEFUL_EXAMPLES: [(&str, &str); 5] = [
    ("wordcount", "count"),
    ("word_count", "count"),
    ("grouping_onetoall", "cons"),
    ("grouping_alltoone", "cons2"),
    ("aggregates", "partial"),
];

/// The records with every per-instance aggregate `{"count": c, "sum": s}` of one PE port
/// merged into one (the totals): how many instances write one depends on the mapping (one
/// per worker that ran the PE, under the dynamic mappings), the totals do not.
pub fn merge_count_sums(records: &[Record]) -> Vec<Record> {
    let mut totals: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut out = Vec::new();
    for (pe, port, data) in records {
        let v: Json = serde_json::from_str(data).unwrap_or(Json::Null);
        match (v.as_object(), v.get("count").and_then(Json::as_i64), v.get("sum").and_then(Json::as_i64)) {
            (Some(o), Some(c), Some(s)) if o.len() == 2 => {
                let t = totals.entry((pe.clone(), port.clone())).or_default();
                t.0 += c;
                t.1 += s;
            }
            _ => out.push((pe.clone(), port.clone(), data.clone())),
        }
    }
    for ((pe, port), (c, s)) in totals {
        out.push(record(&pe, &port, serde_json::json!({"count": c, "sum": s})));
    }
    multiset(out)
}

/// Runs every stateless workload under `mapping` (through `launch`, as for
/// [`assert_same_as_simple`]) for each `-n`, and checks its outputs equal `simple`'s with the
/// same `-n`, per-instance aggregates compared by their totals ([`merge_count_sums`]).
pub fn assert_stateless_same_as_simple(
    mapping: &str,
    processes: &[usize],
    launch: impl FnMut(&str, &[String]) -> Vec<Record>,
) {
    assert_workloads_same_as_simple(stateless_workloads(), mapping, processes, launch)
}

/// Every reference workload, the stateful ones included, and `bursty`.
pub fn all_workloads() -> Vec<(&'static str, Vec<String>)> {
    let mut w = example_workloads();
    w.extend(stateless_workloads().into_iter().filter(|(name, _)| *name == "bursty"));
    w
}

/// As [`assert_stateless_same_as_simple`], for the given workloads.
pub fn assert_workloads_same_as_simple(
    workloads: Vec<(&'static str, Vec<String>)>,
    mapping: &str,
    processes: &[usize],
    mut launch: impl FnMut(&str, &[String]) -> Vec<Record>,
) {
    for (example, extra) in workloads {
        for n in processes {
            let mut args = vec!["-n".to_owned(), n.to_string()];
            args.extend(extra.iter().cloned());
            let mut simple_args = vec!["simple".to_owned()];
            simple_args.extend(args.iter().cloned());
            let want = merge_count_sums(&round_floats(&run_collect(example, &simple_args)));
            assert!(!want.is_empty(), "{example}: simple collected nothing");
            let got = merge_count_sums(&round_floats(&launch(example, &args)));
            assert_multiset_eq(&got, &want, &format!("{example} under {mapping} -n {n} vs simple -n {n}"));
        }
    }
}

/// The records with every float rounded to 10 significant digits: reductions that merge
/// partial results in arrival order (e.g. a mean) may differ in the last bits between
/// mappings, and nowhere else.
pub fn round_floats(records: &[Record]) -> Vec<Record> {
    fn round(v: &mut Json) {
        match v {
            Json::Number(n) if n.is_f64() => {
                if let Some(x) = n.as_f64() {
                    let rounded: f64 = format!("{x:.9e}").parse().unwrap_or(x);
                    if let Some(r) = serde_json::Number::from_f64(rounded) {
                        *n = r;
                    }
                }
            }
            Json::Array(items) => items.iter_mut().for_each(round),
            Json::Object(map) => map.values_mut().for_each(round),
            _ => {}
        }
    }
    multiset(
        records
            .iter()
            .map(|(pe, port, data)| {
                let mut v: Json = serde_json::from_str(data).unwrap_or(Json::Null);
                round(&mut v);
                (pe.clone(), port.clone(), canonical_json(&v))
            })
            .collect(),
    )
}

/// Runs every reference workload under `mapping` (through `launch`, which gets the full
/// argument list after the mapping name and returns the collected records) for each `-n`,
/// and checks the multiset of outputs equals `simple`'s with the same `-n`.
pub fn assert_same_as_simple(
    mapping: &str,
    processes: &[usize],
    mut launch: impl FnMut(&str, &[String]) -> Vec<Record>,
) {
    for (example, extra) in example_workloads() {
        for n in processes {
            let mut args = vec!["-n".to_owned(), n.to_string()];
            args.extend(extra.iter().cloned());
            let mut simple_args = vec!["simple".to_owned()];
            simple_args.extend(args.iter().cloned());
            let want = round_floats(&run_collect(example, &simple_args));
            assert!(!want.is_empty(), "{example}: simple collected nothing");
            let got = round_floats(&launch(example, &args));
            assert_multiset_eq(&got, &want, &format!("{example} under {mapping} -n {n} vs simple -n {n}"));
        }
    }
}

/// The `mpirun` command for `ranks` ranks (with `--oversubscribe` and the root permission
/// variables for Open MPI), or `None` if no `mpirun` is installed.
pub fn mpirun(ranks: usize) -> Option<Command> {
    let version = Command::new("mpirun").arg("--version").output().ok()?;
    let text =
        String::from_utf8_lossy(&version.stdout).to_string() + &String::from_utf8_lossy(&version.stderr);
    let mut cmd = Command::new("mpirun");
    cmd.arg("-n").arg(ranks.to_string());
    if text.contains("Open MPI") || text.contains("OpenRTE") {
        cmd.arg("--oversubscribe");
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        // Shared memory between ranks; no network interfaces needed.
        cmd.env("OMPI_MCA_btl", "self,vader");
    }
    Some(cmd)
}

/// Runs example `name` under `mpirun -n ranks` with `args` (the mapping included) plus
/// `-o FILE`, requires success, and returns the collected records (written by rank 0).
pub fn mpirun_collect(ranks: usize, name: &str, args: &[String]) -> Vec<Record> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("out.jsonl");
    let mut cmd = mpirun(ranks).expect("mpirun is installed (scripts/setup.sh installs it)");
    cmd.arg(example(name)).args(args).arg("-o").arg(&out);
    let output = run_command(cmd, DEFAULT_TIMEOUT);
    output.assert_success();
    read_jsonl(&out)
}

/// Runs a prepared command with a timeout (killed on expiry, failing the test).
pub fn run_command(mut cmd: Command, timeout: Duration) -> Output {
    let command = format!("{cmd:?}");
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    wait_with_timeout(child, command, timeout)
}

/// The direct children of process `pid` (Linux).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Waits until `path` exists (a file another process writes), failing the test after
/// `timeout`.
pub fn wait_for_file(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} did not appear within {timeout:?}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A started child whose stderr is read line by line while it runs (to learn the addresses
/// a `zmq_multi` run logs, to wait for a message), and kept whole for the end.
pub struct Watched {
    /// The child (stdout and stderr piped).
    pub child: std::process::Child,
    command: String,
    lines: std::sync::mpsc::Receiver<String>,
    log: std::sync::Arc<Mutex<String>>,
    stderr_done: Option<std::thread::JoinHandle<()>>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Watched {
    /// Starts `cmd` (its stdin closed, stdout and stderr piped).
    pub fn spawn(mut cmd: Command) -> Watched {
        let command = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(Mutex::new(String::new()));
        let log_in = log.clone();
        let stderr_done = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                log_in.lock().unwrap().push_str(&(line.clone() + "\n"));
                let _ = tx.send(line);
            }
        });
        Watched { child, command, lines, log, stderr_done: Some(stderr_done), stdout }
    }

    /// The pid of the child.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line of stderr containing `needle` and returns it; fails the test after
    /// `timeout` or if the child ends first.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("`{}` ended before printing {needle:?}:\n{}", self.command, self.log())
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if left.is_zero() => {
                    panic!("`{}` did not print {needle:?} within {timeout:?}:\n{}", self.command, self.log())
                }
                Err(_) => {}
            }
        }
    }

    /// Everything it printed on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for it to end (killing it and failing the test after `timeout`).
    pub fn finish(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "`{}` did not finish within {timeout:?}; killed it. stderr:\n{}",
                        self.command,
                        self.log()
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("cannot wait for `{}`: {e}", self.command),
            }
        };
        if let Some(h) = self.stderr_done.take() {
            let _ = h.join();
        }
        let stdout = self.stdout.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        Output { command: self.command.clone(), status, stdout, stderr: self.log() }
    }
}

impl Drop for Watched {
    /// A test that fails half-way leaves no process behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address after "data socket at " in a log line (colours and all).
pub fn data_socket_in(line: &str) -> String {
    let at = line.find("data socket at ").expect("a data socket line") + "data socket at ".len();
    line[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || ":/.-_".contains(*c)).collect()
}

/// The data socket of every process of a `zmq_multi` run started with `RUST_LOG=info`
/// and `processes` − 1 spawned workers: the coordinator's first, then the workers' by rank.
pub fn data_sockets(run: &mut Watched, processes: usize) -> Vec<String> {
    let mut sockets = vec![String::new(); processes];
    sockets[0] =
        data_socket_in(&run.wait_for("zmq_multi coordinator: rendezvous at", Duration::from_secs(60)));
    for _ in 1..processes {
        let line = run.wait_for("data socket at", Duration::from_secs(60));
        let rank: usize = line
            .split("zmq_multi worker ")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or_else(|| panic!("no rank in {line:?}"));
        sockets[rank] = data_socket_in(&line);
    }
    sockets
}

/// A well-formed frame (valid header and CRC) as a stranger can make one.
pub fn forged_frame(kind: u8, flags: u8, channel: u32, source: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    dispel4rs_transports::frame::encode_parts(&mut out, kind, flags, channel, source, payload)
        .expect("a small frame encodes");
    out
}
