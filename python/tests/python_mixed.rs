//! Rust PEs and Python PEs in one graph (`RustPE("kind")` from the registry): the same
//! results as the all-Python graph, under the fixed and the multi-process mappings.

mod support;

use support::*;

fn upper(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().map(|r| r.2.to_uppercase()).collect();
    out.sort();
    out
}

#[test]
fn a_rust_counter_between_python_pes_counts_as_the_python_one() {
    let python = ours(&["simple"], &graph("word_count"), &["-i", "40"]);
    python.assert_success("word_count");
    for mapping in [&["simple"][..], &["multi", "-n", "4"], &["zmq_multi", "-n", "3"], &["mpi", "-n", "3"]] {
        let mixed = ours(mapping, &graph("word_count_rust"), &["-i", "40"]);
        let context = format!("word_count_rust under {}", mapping.join(" "));
        mixed.assert_success(&context);
        assert!(mixed.records.iter().all(|r| r.0 == "Shout2"), "{context}: {:?}", mixed.records);
        assert_eq!(upper(&mixed.records), upper(&python.records), "{context}");
    }
}

#[test]
fn the_registry_says_what_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.py");
    std::fs::write(&file, "from dispel4py.workflow_graph import WorkflowGraph\nfrom dispel4rs import RustPE\ngraph = WorkflowGraph()\ngraph.add(RustPE('Nope'))\n").unwrap();
    let run = ours(&["simple"], &file, &[]);
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("no Rust PE kind 'Nope'") && run.stderr.contains("WordCounter"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_binary_of_your_own_registers_your_rust_pes() {
    // python/examples/own_rust_pes.rs, built (or found up to date) for this test's profile
    // and features.
    let exe = std::env::current_exe().unwrap();
    let example = exe.parent().unwrap().parent().unwrap().join("examples/own_rust_pes");
    let mut features = Vec::new();
    for (on, name) in
        [(cfg!(feature = "zmq"), "zmq"), (cfg!(feature = "redis"), "redis"), (cfg!(feature = "mpi"), "mpi")]
    {
        if on {
            features.push(name);
        }
    }
    let mut build = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.args([
        "build",
        "-q",
        "-p",
        "dispel4rs-python",
        "--example",
        "own_rust_pes",
        "--no-default-features",
    ]);
    build.args(["--features", &features.join(",")]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let built = build.status().expect("running cargo build --example own_rust_pes");
    assert!(built.success() && example.is_file(), "cannot build {}", example.display());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.py");
    std::fs::write(
        &file,
        "from dispel4py.base import ProducerPE\nfrom dispel4py.workflow_graph import WorkflowGraph\nfrom dispel4rs import RustPE\n\
         class Words(ProducerPE):\n    def _process(self, inputs):\n        for w in 'to be or not to be'.split():\n            self.write('output', (w, 1))\n\
         counter = RustPE('MyCountWords')\ncounter.numprocesses = 2\ngraph = WorkflowGraph()\ngraph.connect(Words(), 'output', counter, 'input')\n",
    )
    .unwrap();
    let mut cmd = command(&example);
    cmd.args(["multi", "-n", "3"]).arg(&file).args(["-i", "2", "-q"]);
    let run = run_collect(cmd, "own_rust_pes");
    run.assert_success("own_rust_pes");
    let got: Vec<&str> = run.records.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(got, [r#"["be",4]"#, r#"["not",2]"#, r#"["or",2]"#, r#"["to",4]"#]);
}
