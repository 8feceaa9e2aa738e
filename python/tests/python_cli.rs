//! The `dispel4rs` command: dispel4py's module and file rules, `-a`, `-d` keyed by PE name,
//! and clear errors (exit status 2) for everything a user can get wrong.

mod support;

use std::path::Path;
use support::*;

fn run(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = command(dispel4rs());
    cmd.args(args).arg("-q").current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_collect(cmd, &format!("dispel4rs {}", args.join(" ")))
}

fn graphs() -> std::path::PathBuf {
    graph("pipeline_test").parent().unwrap().to_path_buf()
}

#[test]
fn a_dotted_module_from_the_current_directory_or_a_file() {
    let dir = graphs();
    let by_module = run(&["simple", "pipeline_test", "-i", "3"], &dir, &[]);
    by_module.assert_success("by module name");
    let by_file = run(&["simple", "pipeline_test.py", "-i", "3"], &dir, &[]);
    by_file.assert_success("by file");
    assert_eq!(by_module.records, by_file.records);
    assert_eq!(by_module.records.len(), 3);
    // The module first, as workers are called.
    let swapped = run(&["pipeline_test.py", "simple", "-i", "3"], &dir, &[]);
    assert_eq!(swapped.records, by_file.records);
}

#[test]
fn the_last_graph_of_the_module_unless_attr_names_one() {
    let dir = graphs();
    let last = run(&["simple", "pkg.two_graphs", "-i", "2"], &dir, &[]);
    last.assert_success("pkg.two_graphs");
    assert_eq!(counts(&last.records), [("TestProducer2".to_owned(), 2)].into_iter().collect());
    let named = run(&["simple", "pkg.two_graphs", "-a", "first", "-i", "2"], &dir, &[]);
    named.assert_success("-a first");
    assert_eq!(counts(&named.records), [("TestOneInOneOut1".to_owned(), 2)].into_iter().collect());
}

#[test]
fn roots_get_d_objects_by_pe_name_or_id() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "quake, wave\nwave\n").unwrap();
    let data = format!(r#"{{"ReadCSV": [{{"input": "{}"}}]}}"#, csv.display());
    let by_name =
        run(&["multi", "-n", "3", &graph("read_csv").to_string_lossy(), "-d", &data], dir.path(), &[]);
    by_name.assert_success("-d by name");
    let got: Vec<&str> = by_name.records.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(got, [r#"["quake",1]"#, r#"["wave",1]"#, r#"["wave",2]"#]);
    let by_id = run(
        &["simple", &graph("read_csv").to_string_lossy(), "-d", &data.replace("ReadCSV", "ReadCSV0")],
        dir.path(),
        &[],
    );
    assert_eq!(by_id.records, by_name.records);
    let file = dir.path().join("inputs.json");
    std::fs::write(&file, &data).unwrap();
    let by_file = run(
        &["simple", &graph("read_csv").to_string_lossy(), "-f", &file.to_string_lossy()],
        dir.path(),
        &[],
    );
    assert_eq!(by_file.records, by_name.records);
}

fn assert_bad_input(run: &Run, needles: &[&str]) {
    assert_eq!(run.status, Some(2), "exit status 2 expected:\n{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for n in needles {
        assert!(run.stderr.contains(n), "stderr lacks {n:?}:\n{}", run.stderr);
    }
}

#[test]
fn mistakes_are_named_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let cwd = dir.path();
    assert_bad_input(
        &run(&["simple", "no_such_module"], cwd, &[]),
        &["no module \"no_such_module\"", "no file"],
    );
    assert_bad_input(&run(&["simple", "missing.py"], cwd, &[]), &["no file \"missing.py\""]);
    let raises = write(
        "raises.py",
        "from dispel4py.workflow_graph import WorkflowGraph\nraise RuntimeError('broken module')\n",
    );
    assert_bad_input(
        &run(&["simple", &raises], cwd, &[]),
        &["raised an exception", "Traceback", "raises.py", "RuntimeError: broken module"],
    );
    let empty = write("empty.py", "x = 1\n");
    assert_bad_input(&run(&["simple", &empty], cwd, &[]), &["no WorkflowGraph found"]);
    let g = graph("pipeline_test").to_string_lossy().into_owned();
    assert_bad_input(&run(&["simple", &g, "-a", "nope"], cwd, &[]), &["has no attribute \"nope\""]);
    assert_bad_input(&run(&["simpel", &g], cwd, &[]), &["'simpel' is not a mapping"]);
    assert_bad_input(&run(&["simple"], cwd, &[]), &["which graph"]);
    assert_bad_input(&run(&["simple", &g, "-d", "{not json"], cwd, &[]), &["-d"]);
    let bad_port = write(
        "bad_port.py",
        "from dispel4py.workflow_graph import WorkflowGraph\nfrom dispel4py.base import IterativePE, ProducerPE\n\
         class P(ProducerPE):\n    pass\ngraph = WorkflowGraph()\ngraph.connect(P(), 'out', IterativePE(), 'input')\n",
    );
    assert_bad_input(
        &run(&["simple", &bad_port], cwd, &[]),
        &["PE 'P0' has no output port 'out'", "outputs: output"],
    );
    let bad_group = write(
        "bad_group.py",
        "from dispel4py.workflow_graph import WorkflowGraph\nfrom dispel4py.base import IterativePE, ProducerPE\n\
         c = IterativePE()\nc._add_input('input', grouping=[-1])\ngraph = WorkflowGraph()\ngraph.connect(ProducerPE(), 'output', c, 'input')\n",
    );
    assert_bad_input(
        &run(&["simple", &bad_group], cwd, &[]),
        &["PE IterativePE1", "group-by index -1 is negative"],
    );
    let uncopyable = write(
        "uncopyable.py",
        "import threading\nfrom dispel4py.workflow_graph import WorkflowGraph\nfrom dispel4py.base import ProducerPE\n\
         class P(ProducerPE):\n    def __init__(self):\n        ProducerPE.__init__(self)\n        self.lock = threading.Lock()\n\
         graph = WorkflowGraph()\ngraph.add(P())\n",
    );
    assert_bad_input(&run(&["simple", &uncopyable], cwd, &[]), &["PE P0", "copy.deepcopy", "preprocess"]);
    assert_bad_input(
        &run(&["dyn_multi", &graph("word_count").to_string_lossy()], cwd, &[]),
        &["stateless PEs only", "WordCounter1"],
    );
}

#[test]
fn help_version_and_the_rust_pes() {
    let dir = graphs();
    let help = run(&["--help"], &dir, &[]);
    assert_eq!(help.status, Some(0));
    assert!(help.stdout.contains("usage: dispel4rs <mapping> MODULE_OR_FILE"), "{}", help.stdout);
    let list = run(&["--list-rust-pes"], &dir, &[]);
    assert!(list.stdout.contains("WordCounter") && list.stdout.contains("Identity"), "{}", list.stdout);
    let shared = run(&["simple", "pipeline_test", "--help"], &dir, &[]);
    assert_eq!(shared.status, Some(0));
    assert!(shared.stdout.contains("--batch-size"), "the shared options are listed: {}", shared.stdout);
}

#[test]
fn pictures_and_plans_of_a_python_graph() {
    let dir = graphs();
    let plan = run(&["multi", "-n", "4", "word_count", "--plan"], &dir, &[]);
    plan.assert_success("--plan");
    assert!(plan.stdout.contains("WordCounter1"), "{}", plan.stdout);
    let dot = run(&["simple", "split_merge", "--graph", "dot"], &dir, &[]);
    dot.assert_success("--graph dot");
    assert!(dot.stdout.contains("TestTwoInOneOut3"), "{}", dot.stdout);
}
