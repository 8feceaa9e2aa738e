//! Provenance (`--provenance FILE`) read back by the W3C PROV library `prov` (PyPI, in the
//! venv `scripts/setup.sh` makes): under `simple`, `multi`, `zmq_multi` (worker processes),
//! `dyn_multi`, `dyn_redis` and `hybrid_redis` (a real `redis-server` started here) and
//! `mpi` (when `mpirun` is installed), the document is valid PROV-JSON, every collected
//! output (named in `-o` by its id) has a derivation chain back to a root input, and the
//! counts of entities, activities and agents match the run report. Also: `--provenance-pes`
//! records only the PEs named and keeps chains connected through the others; `--trace`
//! prints the chain; bad input is refused with status 2 naming what is at fault.

mod support;

use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python of the venv `scripts/setup.sh` makes, with `prov` installed.
fn prov_python() -> PathBuf {
    let python = std::env::var_os("DISPEL4RS_PROV_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::manifest_dir().join(".venv-prov/bin/python"));
    let ok =
        Command::new(&python).args(["-c", "import prov.model"]).output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the W3C PROV library is missing: {} cannot import prov. Run scripts/setup.sh, which makes the venv \
         .venv-prov with the `prov` package from PyPI (or set DISPEL4RS_PROV_PYTHON to a Python that has it)",
        python.display()
    );
    python
}

/// What `tests/provenance/check_prov.py` (the `prov` library) read in a document.
fn read_with_prov(doc: &Path) -> Json {
    let script = support::manifest_dir().join("tests/provenance/check_prov.py");
    let out = Command::new(prov_python()).arg(&script).arg(doc).output().expect("python runs");
    assert!(
        out.status.success(),
        "prov could not read {} as PROV-JSON:\n{}",
        doc.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the checker prints JSON")
}

/// A finished run with provenance: the report, the ids of the collected outputs (`-o`), and
/// what `prov` read.
struct Recorded {
    report: Json,
    output_ids: Vec<String>,
    prov: Json,
    doc: PathBuf,
    _dir: tempfile::TempDir,
}

fn record(example: &str, args: &[String]) -> Recorded {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let doc = dir.path().join("prov.json");
    let report = dir.path().join("report.json");
    let out = dir.path().join("out.jsonl");
    let mut all: Vec<String> = args.to_vec();
    for (flag, path) in [("--provenance", &doc), ("--report", &report), ("-o", &out)] {
        all.push(flag.into());
        all.push(path.display().to_string());
    }
    all.push("-q".into());
    support::run(example, &all).assert_success();
    finish(dir, doc, &report, &out)
}

fn finish(dir: tempfile::TempDir, doc: PathBuf, report: &Path, out: &Path) -> Recorded {
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(report).expect("a report")).expect("JSON");
    let output_ids = std::fs::read_to_string(out)
        .expect("the outputs")
        .lines()
        .map(|l| {
            let v: Json = serde_json::from_str(l).expect("a JSON line");
            v["prov"].as_str().unwrap_or_else(|| panic!("-o line without its provenance id: {l}")).to_owned()
        })
        .collect();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("parts"))
        .collect();
    assert!(leftovers.is_empty(), "the parts directory is removed after the merge: {leftovers:?}");
    let prov = read_with_prov(&doc);
    Recorded { report, output_ids, prov, doc, _dir: dir }
}

/// Entities, activities and agents the report says the document must hold, counting only
/// the PEs in `recorded` (all when empty); `roots`: the root PEs.
fn expected_counts(report: &Json, roots: &[&str], recorded: &[&str]) -> (u64, u64, u64) {
    let (mut entities, mut activities, mut agents) = (0, 0, 0);
    for i in report["instances"].as_array().expect("instances") {
        let pe = i["pe"].as_str().unwrap();
        let (units_in, units_out) = (i["units_in"].as_u64().unwrap(), i["units_out"].as_u64().unwrap());
        if roots.contains(&pe) {
            entities += units_in; // root inputs, recorded whatever --provenance-pes says
        }
        if recorded.is_empty() || recorded.contains(&pe) {
            entities += units_out + u64::from(units_in > 0); // units written, the state
            activities += units_in + 1; // invocations, postprocess
            agents += 1;
        }
    }
    (entities, activities + 1, agents) // and the workflow run
}

fn check(r: &Recorded, roots: &[&str], recorded: &[&str], context: &str) {
    let (entities, activities, agents) = expected_counts(&r.report, roots, recorded);
    let p = &r.prov;
    assert_eq!(p["entities"].as_u64(), Some(entities), "{context}: entities against the report");
    assert_eq!(p["activities"].as_u64(), Some(activities), "{context}: activities against the report");
    assert_eq!(p["agents"].as_u64(), Some(agents), "{context}: agents against the report");
    assert_eq!(p["timed_activities"], p["activities"], "{context}: every activity has start and end times");
    assert_eq!(p["associations"].as_u64(), Some(activities - 1 + agents), "{context}: wasAssociatedWith");
    let in_doc: BTreeSet<&str> = p["outputs"].as_array().unwrap().iter().filter_map(Json::as_str).collect();
    let collected: BTreeSet<&str> = r.output_ids.iter().map(String::as_str).collect();
    assert!(!collected.is_empty(), "{context}: the run collected outputs");
    assert_eq!(in_doc, collected, "{context}: the collected outputs are the document's d4r:Output entities");
    assert_eq!(p["unreached"], Json::Array(vec![]), "{context}: outputs with no chain back to a root input");
}

fn wordcount_args(mapping: &str, n: usize) -> Vec<String> {
    let text = support::manifest_dir().join("examples/data/sample.txt");
    vec![
        mapping.into(),
        "-n".into(),
        n.to_string(),
        "-d".into(),
        format!("{{\"read\": [{{\"path\": \"{}\"}}, {{\"path\": \"{}\"}}]}}", text.display(), text.display()),
    ]
}

fn pipeline_args(mapping: &str, n: usize) -> Vec<String> {
    vec![
        mapping.into(),
        "-n".into(),
        n.to_string(),
        "-d".into(),
        r#"{"source": [{"n": 300}, {"n": 200}]}"#.into(),
    ]
}

#[test]
fn simple_and_multi_documents_are_valid_prov_json_with_chains_and_counts_of_the_report() {
    for mapping in ["simple", "multi"] {
        let r = record("wordcount", &wordcount_args(mapping, 3));
        check(&r, &["read"], &[], &format!("wordcount {mapping}"));
        let r = record("pipeline", &pipeline_args(mapping, 4));
        check(&r, &["source"], &[], &format!("pipeline {mapping}"));
        assert_eq!(r.prov["root_inputs"].as_u64(), Some(2), "one root input per -d object");
    }
}

#[test]
#[cfg(feature = "zmq")]
fn a_zmq_multi_run_merges_the_parts_of_every_process_into_one_document() {
    let r = record("wordcount", &wordcount_args("zmq_multi", 3));
    check(&r, &["read"], &[], "wordcount zmq_multi");
    let pids: BTreeSet<u64> = agent_field(&r.doc, "d4r:pid").into_iter().collect();
    assert!(pids.len() >= 2, "instances of several processes are in the document: pids {pids:?}");
}

#[test]
fn a_dynamic_run_records_the_workers_instances() {
    let r = record("pipeline", &pipeline_args("dyn_multi", 3));
    check(&r, &["source"], &[], "pipeline dyn_multi");
}

#[test]
#[cfg(feature = "redis")]
fn redis_runs_merge_the_worker_processes_parts() {
    use dispel4rs_transports::redis_server::PrivateRedis;
    let server = PrivateRedis::start(None).expect("redis-server (scripts/setup.sh installs it)");
    let url = server.url().secret_form().to_owned();
    let mut args = pipeline_args("dyn_redis", 2);
    args.extend(["--redis".into(), url.clone(), "--job".into(), "prov1".into()]);
    let r = record("pipeline", &args);
    check(&r, &["source"], &[], "pipeline dyn_redis");
    let pids: BTreeSet<u64> = agent_field(&r.doc, "d4r:pid").into_iter().collect();
    assert!(pids.len() >= 2, "the coordinator's roots and the worker processes' instances: pids {pids:?}");
    let mut args = wordcount_args("hybrid_redis", 2);
    args.extend(["--redis".into(), url, "--job".into(), "prov2".into()]);
    let r = record("wordcount", &args);
    check(&r, &["read"], &[], "wordcount hybrid_redis");
}

#[test]
#[cfg(feature = "mpi")]
fn an_mpi_run_merges_the_parts_of_every_rank() {
    let Some(mut cmd) = support::mpirun(3) else {
        panic!("mpirun is missing: scripts/setup.sh installs Open MPI");
    };
    let dir = tempfile::tempdir().unwrap();
    let (doc, report, out) =
        (dir.path().join("prov.json"), dir.path().join("report.json"), dir.path().join("o.jsonl"));
    cmd.arg(support::example("wordcount"))
        .args(&wordcount_args("mpi", 3)[..1])
        .args(&wordcount_args("mpi", 3)[3..]);
    cmd.arg("--provenance").arg(&doc).arg("--report").arg(&report).arg("-o").arg(&out).arg("-q");
    support::run_command(cmd, support::DEFAULT_TIMEOUT).assert_success();
    let r = finish(dir, doc, &report, &out);
    check(&r, &["read"], &[], "wordcount mpi");
}

#[test]
fn only_the_pes_named_record_and_chains_stay_connected_through_the_others() {
    let mut args = pipeline_args("multi", 4);
    args.extend(["--provenance-pes".into(), "double,sink".into()]);
    let r = record("pipeline", &args);
    check(&r, &["source"], &["double", "sink"], "pipeline --provenance-pes double,sink");
    assert_eq!(r.prov["agent_pes"], serde_json::json!(["double", "sink"]));
}

#[test]
fn trace_prints_the_chain_of_an_output_back_to_its_root_input() {
    let r = record("pipeline", &pipeline_args("simple", 1));
    let id = &r.output_ids[0];
    let out = support::run("pipeline", &["--trace".into(), r.doc.display().to_string(), id.clone()]);
    out.assert_success();
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(id.as_str()) && first.contains("sink[0]"),
        "starts at the output: {}",
        out.stdout
    );
    for needle in ["generated by r:post", "state of sink[0]", "halve_minus_one[0]", "double[0]", "add_one[0]"]
    {
        assert!(out.stdout.contains(needle), "the chain names {needle:?}:\n{}", out.stdout);
    }
    assert!(out.stdout.contains(r#"root input of call 0 of source[0]: {"n":300}"#), "{}", out.stdout);
    let list = support::run("pipeline", &["--trace".into(), r.doc.display().to_string()]);
    list.assert_success();
    assert!(list.stdout.contains(id.as_str()), "without an id: the outputs: {}", list.stdout);
}

#[test]
fn bad_input_is_refused_naming_what_is_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("p.json").display().to_string();
    let mut args = pipeline_args("simple", 1);
    args.extend(["--provenance".into(), doc.clone(), "--provenance-pes".into(), "double,dubble".into()]);
    support::run("pipeline", &args).assert_code(2).assert_stderr_contains(&["--provenance-pes", "'dubble'"]);
    assert!(!Path::new(&doc).exists(), "nothing is written");
    let missing = dir.path().join("none.json").display().to_string();
    support::run("pipeline", &["--trace".into(), missing.clone(), "r:u0.0.0.0".into()])
        .assert_code(2)
        .assert_stderr_contains(&["--trace", "cannot read", &missing]);
    let r = record("pipeline", &pipeline_args("simple", 1));
    let doc = r.doc.display().to_string();
    support::run("pipeline", &["--trace".into(), doc.clone(), "r:u9.9.9.9".into()])
        .assert_code(2)
        .assert_stderr_contains(&["has no entity 'r:u9.9.9.9'", &r.output_ids[0]]);
    std::fs::write(dir.path().join("bad.json"), "[1,2]").unwrap();
    let bad = dir.path().join("bad.json").display().to_string();
    support::run("pipeline", &["--trace".into(), bad, "x".into()])
        .assert_code(2)
        .assert_stderr_contains(&["is not a PROV-JSON document"]);
}

/// The values of an attribute of every agent in the document.
fn agent_field(doc: &Path, field: &str) -> Vec<u64> {
    let v: Json = serde_json::from_str(&std::fs::read_to_string(doc).unwrap()).unwrap();
    v["agent"].as_object().unwrap().values().filter_map(|a| a[field].as_u64()).collect()
}
