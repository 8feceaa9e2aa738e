//! Issue 13, finding 7: absurd options panicked or aborted (`--join-timeout-s` and
//! `--mailbox` at u64::MAX exited 101, `--mailbox 100000000` under `zmq_multi` tried a 22 GB
//! allocation, `--batch-size 1000000000000` aborted), and a value nested 200 deep worked under
//! `simple`/`multi` but aborted `zmq_multi`. Every option now has a range, named in `--help`
//! and in the error (exit 2), and one depth limit holds in every mapping.

mod support;

#[test]
fn out_of_range_options_are_refused_naming_the_option_and_its_range() {
    let max = u64::MAX.to_string();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["simple", "--join-timeout-s", &max], "--join-timeout-s", "1..=86400"),
        (vec!["simple", "--mailbox", &max], "--mailbox", "1..=4096"),
        (vec!["zmq_multi", "-n", "2", "--mailbox", "100000000"], "--mailbox", "1..=4096"),
        (vec!["simple", "--batch-size", "1000000000000"], "--batch-size", "1..=1000000"),
        (vec!["simple", "--batch-bytes", "10"], "--batch-bytes", "1024..=33554432"),
        (vec!["simple", "--peer-timeout-ms", "0"], "--peer-timeout-ms", "500..=86400000"),
        (vec!["simple", "--restart-window-ms", "0"], "--restart-window-ms", "1..=86400000"),
        (vec!["simple", "--flush-ms", "99999999999999999999"], "--flush-ms", "0..=3600000"),
        (vec!["simple", "--retries=-1"], "--retries", "0..=1000"),
        (vec!["simple", "--retry-hold", "100000"], "--retry-hold", "0..=1024"),
        (vec!["simple", "--max-restarts", &max], "--max-restarts", "0..=1000000"),
        (vec!["multi", "-n", "100000"], "-n", "1..=65536"),
        (vec!["zmq_multi", "-n", "3", "--spawn", "5"], "--spawn 5", "-n 3"),
        (vec!["zmq_multi", "-n", "3", "--spawn", "3"], "--spawn 3", "at most 2"),
        (vec!["dyn_redis", "-n", "3", "--spawn", "4"], "--spawn 4", "at most 3"),
        (vec!["dyn_auto_multi", "--min-workers", "0"], "--min-workers", "1..=65536"),
        (vec!["dyn_auto_multi", "--scale-interval-ms", &max], "--scale-interval-ms", "1..=3600000"),
        (vec!["dyn_multi", "--task-us", "0"], "--task-us", "1..=60000000"),
        (vec!["dyn_multi", "--queue-units", "0"], "--queue-units", "1..=4294967296"),
        (vec!["dyn_redis", "--workers", "100000"], "--workers", "0..=4096"),
        (vec!["dyn_redis", "--claim-idle-ms", "1"], "--claim-idle-ms", "100..=86400000"),
        (vec!["dyn_redis", "--redis-timeout-ms", &max], "--redis-timeout-ms", "100..=3600000"),
    ];
    for (mut args, flag, range) in cases {
        args.extend(["-i", "1"]);
        let out = support::run("pipeline", &args);
        out.assert_code(2);
        assert!(out.stderr.contains(flag) && out.stderr.contains(range), "{args:?}:\n{}", out.stderr);
    }
}

#[test]
fn help_shows_every_range() {
    let out = support::run("pipeline", &["--help"]);
    out.assert_success();
    for limit in dispel4rs::validate::LIMITS {
        assert!(
            out.stdout.contains(&limit.range_text()),
            "--help lacks {} {}",
            limit.flag,
            limit.range_text()
        );
    }
}

/// A PE writing a unit nested 200 levels deep fails that unit in every mapping alike.
#[test]
fn a_unit_nested_too_deep_fails_the_same_in_every_mapping() {
    let input = r#"{"source": [{"n": 2, "do": "nest:200"}]}"#;
    let mut mappings = vec![vec!["simple"], vec!["multi", "-n", "2"]];
    if cfg!(feature = "zmq") {
        mappings.push(vec!["zmq_multi", "-n", "3"]);
    }
    for m in mappings {
        let mut args = m.clone();
        args.extend(["-d", input]);
        let out = support::run("faults", &args);
        out.assert_code(1);
        assert!(out.stderr.contains("a unit nested 200 levels deep; at most 128"), "{m:?}:\n{}", out.stderr);
    }
    let ok = support::run_collect(
        "faults",
        &["zmq_multi", "-n", "3", "-d", r#"{"source": [{"n": 2, "do": "nest:128"}]}"#],
    );
    assert_eq!(ok, vec![support::record("sink", "output", serde_json::json!({"count": 2, "sum": 0}))]);
}

/// Input JSON holding such a unit is bad input, in every mapping.
#[test]
fn input_nested_too_deep_is_bad_input() {
    let deep = "[".repeat(200) + &"]".repeat(200);
    let input = format!(r#"{{"source": [{{"n": 1, "x": {deep}}}]}}"#);
    for m in ["simple", "multi"] {
        let out = support::run("faults", &[m, "-d", &input]);
        out.assert_code(2);
        assert!(out.stderr.contains("nested deeper than 128 levels"), "{m}:\n{}", out.stderr);
    }
}
