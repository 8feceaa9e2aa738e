//! Issue 13, finding 6: one ERROR line per dead-lettered unit (a given-up instance fed 2 M
//! units wrote 750 MB of stderr and took 90 s instead of 4), one WARN line per rejected
//! frame (100 KB of random bytes on a port gave 3,759 lines), and every supervised panic
//! printed with a backtrace by `zmq_multi` workers. Logs now show the first few of a kind
//! in full, then a count per PE (or socket) per second; the counts stay exact in the report.

mod support;

fn log_lines(stderr: &str, needle: &str) -> usize {
    stderr.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn dead_letters_are_logged_a_few_in_full_then_counted() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = support::run(
        "faults",
        &[
            "simple",
            "-d",
            r#"{"source": [{"n": 20000, "do": "fail"}]}"#,
            "--report",
            report.to_str().unwrap(),
        ],
    );
    out.assert_code(1);
    assert!(out.stderr.lines().count() < 60, "{} lines of stderr", out.stderr.lines().count());
    assert!(log_lines(&out.stderr, "dead letter after") <= 5, "{}", out.stderr);
    assert!(out.stderr.contains("more dead letters (PE stage)"), "the rest is counted:\n{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["dead_letters_total"], 20000, "the count is exact");
}

/// Supervised panics are not printed by any process (the quiet panic hook is installed in
/// workers too); the dead letters say what happened.
#[cfg(feature = "zmq")]
#[test]
fn workers_do_not_print_supervised_panics() {
    let out =
        support::run("faults", &["zmq_multi", "-n", "3", "-d", r#"{"source": [{"n": 30, "do": "panic"}]}"#]);
    // (The dead letters' errors say "panicked: …", so not `assert_code`, which refuses that.)
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked at") && !out.stderr.contains("backtrace"), "{}", out.stderr);
    assert!(out.stderr.contains("stage panics on purpose"), "{}", out.stderr);
}

/// Garbage on a data socket: each message rejected and counted, a few logged.
#[cfg(feature = "zmq")]
#[test]
fn garbage_on_a_data_socket_is_counted_not_logged_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(support::example("pipeline"));
    cmd.args(["zmq_multi", "-n", "2", "-q", "-d", r#"{"source": [{"n": 2000000}]}"#, "--report"])
        .arg(dir.path().join("report.json"))
        .env("RUST_LOG", "info");
    let mut run = support::Watched::spawn(cmd);
    let sockets = support::data_sockets(&mut run, 2);
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(2000).unwrap();
    push.connect(&sockets[0]).unwrap();
    let mut rng = dispel4rs::rng::SplitMix64::new(13);
    let messages = 2000;
    for _ in 0..messages {
        let garbage: Vec<u8> = (0..50).map(|_| rng.next_u64() as u8).collect();
        push.send(garbage, 0).unwrap();
    }
    let out = run.finish(std::time::Duration::from_secs(300));
    out.assert_success();
    assert!(log_lines(&out.stderr, "rejected a frame") <= 5, "{}", out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["rejected_frames"], messages);
}
