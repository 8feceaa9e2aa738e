//! Issue 13, finding 5: once one batch of a failed attempt had left, the rest of the attempt
//! was sent too, and its retry sent everything again — 5000 units counted 10,000 times, where
//! docs/SEMANTICS.md promised that what was still buffered is discarded. Now an attempt's
//! full batches are held back until it succeeds (`--retry-hold`, default 8): a retry within
//! a process duplicates nothing.

mod support;

const FAIL_ONCE: &str = r#"{"source": [{"n": 5000, "fail_once": true}]}"#;

fn count(records: &[support::Record]) -> i64 {
    assert_eq!(records.len(), 1, "{records:?}");
    let v: serde_json::Value = serde_json::from_str(&records[0].2).unwrap();
    v["count"].as_i64().unwrap()
}

#[test]
fn a_retried_root_call_delivers_each_unit_once_under_every_mapping() {
    let mut mappings = vec![vec!["simple"], vec!["multi", "-n", "2"]];
    if cfg!(feature = "zmq") {
        mappings.push(vec!["zmq_multi", "-n", "3"]);
    }
    for m in mappings {
        let mut args = m.clone();
        args.extend(["-d", FAIL_ONCE]);
        assert_eq!(count(&support::run_collect("faults", &args)), 5000, "{m:?}");
    }
}

/// Without hold-back, what the documentation says: the four full batches that had left are
/// repeated, the 904 units still buffered are discarded (4096 + 5000), never 10,000.
#[test]
fn without_hold_back_only_the_batches_that_had_left_are_repeated() {
    let got = support::run_collect("faults", &["simple", "--retry-hold", "0", "-d", FAIL_ONCE]);
    assert_eq!(count(&got), 4096 + 5000);
}
