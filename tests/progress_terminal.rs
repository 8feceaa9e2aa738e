//! Issue 11: the progress line, seen as a person sees it. Each run happens under a
//! pseudo-terminal (`script` from util-linux, which scripts/setup.sh's Debian has), so that
//! standard error is a terminal; what the terminal received is read back. The line shows the
//! units through the sink-side PE and their rate, the time elapsed, and the pool's size
//! under a dynamic mapping; it moves while the run goes on; it is never drawn when standard
//! error is not a terminal, nor with `--quiet` or `--no-progress`; it never reaches `-o`;
//! a log line written while it is shown starts on a clean line.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `faults` with `stage` sleeping 20 ms per unit in batches of 5: about 2 s, longer than the
/// second the line waits before it appears.
fn input() -> String {
    r#"{"source": [{"n": 100, "do": "sleep:20"}]}"#.to_owned()
}

fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Runs `faults ARGS -o FILE` under a pseudo-terminal: what the terminal showed, and the
/// `-o` file's text.
fn on_a_terminal(args: &[&str]) -> (String, String) {
    let script = Command::new("script").arg("--version").output();
    assert!(
        script.is_ok_and(|o| o.status.success()),
        "this test needs `script` (Debian package util-linux, see scripts/setup.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let program = support::example("faults");
    let mut line = vec![quote(&program.display().to_string())];
    line.extend(args.iter().map(|a| quote(a)));
    line.extend(["-o".to_owned(), quote(&out.display().to_string())]);
    let mut cmd = Command::new("script");
    // -q: no banner; -e: the child's exit status; -f: flush as it goes; no typescript file.
    cmd.args(["-qefc", &line.join(" "), "/dev/null"]).env_remove("RUST_LOG").env("TERM", "xterm");
    let output = support::run_command(cmd, Duration::from_secs(120));
    output.assert_success();
    let collected = std::fs::read_to_string(Path::new(&out)).unwrap_or_default();
    (output.stdout, collected)
}

/// The frames of the progress line the terminal received (each redraw ends with a `\r` or
/// starts after an erase).
fn frames(terminal: &str) -> Vec<String> {
    terminal
        .split(['\r', '\n'])
        .map(|f| f.trim_start_matches("\x1b[2K").trim().to_owned())
        .filter(|f| f.contains(" units (") && f.contains("/s)"))
        .collect()
}

/// The count of units in a frame `⠙ 00:00:01  sink 45 units (50/s)`.
fn units_of(frame: &str, pe: &str) -> u64 {
    let at = frame.find(&format!("{pe} ")).unwrap_or_else(|| panic!("no {pe} in {frame:?}")) + pe.len() + 1;
    frame[at..].split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{frame:?}"))
}

fn assert_clean_output(collected: &str) {
    // One `{"count", "sum"}` per sink instance (one per worker under a dynamic mapping).
    let mut count = 0;
    for line in collected.lines() {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("-o holds something else ({e}): {line:?}"));
        assert_eq!(record["pe"], "sink", "{line}");
        count += record["data"]["count"].as_u64().unwrap_or_else(|| panic!("{line}"));
    }
    assert_eq!(count, 100, "{collected:?}");
}

#[test]
fn a_terminal_sees_the_line_move_then_vanish_before_the_report() {
    let (terminal, collected) = on_a_terminal(&["multi", "-n", "2", "--batch-size", "5", "-d", &input()]);
    let frames = frames(&terminal);
    assert!(frames.len() >= 2, "no progress line on the terminal:\n{terminal:?}");
    for f in &frames {
        assert!(f.contains("00:00:0"), "elapsed time missing from {f:?}");
        assert!(f.contains("sink "), "the sink-side PE is named in {f:?}");
    }
    let counts: Vec<u64> = frames.iter().map(|f| units_of(f, "sink")).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "units only grow: {counts:?}");
    assert!(counts.first() < counts.last(), "the line moves: {counts:?}");
    assert!(*counts.last().unwrap() <= 100, "{counts:?}");
    // Erased at the end: the run's summary follows an erase of the line, on a clean line.
    let summary = terminal.find("run of 'faults'").expect("the run's summary");
    let last_frame = terminal.rfind(" units (").unwrap();
    assert!(last_frame < summary, "the line is drawn before the summary only");
    assert!(terminal[last_frame..summary].contains("\x1b[2K"), "the line is erased before the summary");
    // A log line (the advice about a busy slot, here) never lands inside the line.
    for line in terminal.split('\n').filter(|l| l.contains("WARN")) {
        let before = &line[..line.find("WARN").unwrap()];
        let current = before.rsplit('\r').next().unwrap_or(before);
        assert!(!current.contains("units ("), "a log line was drawn into the progress line: {line:?}");
    }
    assert_clean_output(&collected);
}

#[test]
fn a_dynamic_run_shows_its_pool() {
    let (terminal, collected) = on_a_terminal(&["dyn_multi", "-n", "2", "--batch-size", "5", "-d", &input()]);
    let frames = frames(&terminal);
    assert!(!frames.is_empty(), "no progress line on the terminal:\n{terminal:?}");
    assert!(frames.iter().any(|f| f.contains("pool 2 worker(s)")), "the pool's size: {frames:?}");
    assert_clean_output(&collected);
}

#[test]
fn quiet_or_no_progress_draws_nothing_even_on_a_terminal() {
    for flag in ["--quiet", "--no-progress"] {
        let (terminal, collected) =
            on_a_terminal(&["multi", "-n", "2", "--batch-size", "5", flag, "-d", &input()]);
        assert!(frames(&terminal).is_empty(), "{flag}: a progress line was drawn:\n{terminal:?}");
        assert_clean_output(&collected);
    }
}

#[test]
fn no_line_when_standard_error_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let o = out.display().to_string();
    let run = support::run("faults", &["multi", "-n", "2", "--batch-size", "5", "-d", &input(), "-o", &o]);
    run.assert_success();
    assert!(!run.stderr.contains(" units (") && !run.stderr.contains("\x1b[2K"), "{}", run.stderr);
    assert_clean_output(&std::fs::read_to_string(&out).unwrap());
}
