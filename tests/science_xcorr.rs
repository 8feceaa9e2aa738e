//! The `xcorr` workflow against a known answer: `xcorr_gen` writes 20 stations (600 s at
//! 20 Hz, miniSEED, with gaps and a glitch) whose common noise arrives with planted delays;
//! under every mapping in [`MAPPINGS`] the lag picked for every pair must equal the
//! difference of the planted delays within one sample of the correlated traces (0.2 s at
//! the default 5 Hz), and every mapping must give the same multiset of outputs as `simple`.
//! A mapping that is not built (exit status 3) is skipped with a note on stderr. The pooled
//! dynamic mappings refuse the graph (its `pairs` PE must see every trace: `all_to_one`): checked in
//! [`the_dynamic_mappings_refuse_xcorr_naming_pairs`].
//!
//! Also here: the FFT, filter and peak helpers of `examples/common/dsp.rs` against direct
//! formulas, and a clear error for a missing input directory.

mod support;

#[path = "../examples/common/dsp.rs"]
mod dsp;

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every mapping the known-answer test runs, with `-n` [`PROCESSES`] (under `mpirun` for
/// `mpi`; `hybrid_redis` with a private `redis-server`, its `pairs` PE pinned and the
/// pre-processing and cross-correlation on the shared queue). The pooled mappings refuse the
/// graph ([`the_dynamic_mappings_refuse_xcorr_naming_pairs`]).
const MAPPINGS: &[&str] = &["simple", "multi", "zmq_multi", "mpi", "hybrid_redis"];
const PROCESSES: usize = 4;
const STATIONS: usize = 20;
const SECONDS: u32 = 600;
const RATE: u32 = 20;
/// One sample of the correlated traces (`target_rate` 5 Hz, the workflow's default).
const ONE_SAMPLE_S: f64 = 0.2;

/// Generates the stations into `dir` with the generator binary; returns the planted delays.
fn generate(dir: &Path) -> BTreeMap<String, f64> {
    let args = [
        "--stations".to_owned(),
        STATIONS.to_string(),
        "--seconds".into(),
        SECONDS.to_string(),
        "--rate".into(),
        RATE.to_string(),
        "--seed".into(),
        "7".into(),
        "--out".into(),
        dir.display().to_string(),
    ];
    let out = support::run("xcorr_gen", &args);
    out.assert_success();
    assert!(
        out.stderr.contains("gap of") && out.stderr.contains("glitch at"),
        "no gap or glitch:\n{}",
        out.stderr
    );
    let text = std::fs::read_to_string(dir.join("truth.json")).expect("xcorr_gen wrote truth.json");
    serde_json::from_str(&text).expect("truth.json is {\"STATION\": delay_s}")
}

enum Outcome {
    Ran(Vec<support::Record>),
    Skipped(String),
}

/// Runs `xcorr` under `mapping` on `input` (a `-d` JSON) and collects its outputs, or says
/// why the mapping cannot run here.
fn launch(mapping: &str, input: &str) -> Outcome {
    let n = PROCESSES.to_string();
    // Exit status 3 (before anything runs): the mapping is not available in this build.
    let probe = support::run("xcorr", &[mapping, "-n", &n, "--plan"]);
    if probe.code() == Some(3) {
        return Outcome::Skipped(probe.stderr.lines().next().unwrap_or("exit status 3").to_owned());
    }
    probe.assert_success();
    match mapping {
        "mpi" => {
            if support::mpirun(PROCESSES).is_none() {
                return Outcome::Skipped("mpirun is not installed".into());
            }
            let args = vec!["mpi".to_owned(), "-d".into(), input.to_owned()];
            Outcome::Ran(support::mpirun_collect(PROCESSES, "xcorr", &args))
        }
        _ => Outcome::Ran(support::run_collect("xcorr", &[mapping, "-n", &n, "-d", input])),
    }
}

/// Checks every pair once, `a < b`, and each lag against the planted delays.
fn check_lags(mapping: &str, records: &[support::Record], truth: &BTreeMap<String, f64>) {
    let mut seen = BTreeSet::new();
    let mut worst: (f64, String) = (0.0, String::new());
    for (pe, port, data) in records {
        assert_eq!(
            (pe.as_str(), port.as_str()),
            ("pick", "output"),
            "{mapping}: unexpected output {pe}.{port}"
        );
        let row: Vec<Json> = serde_json::from_str(data).expect("a JSON list");
        let (a, b) = (row[0].as_str().expect("sta_a"), row[1].as_str().expect("sta_b"));
        let (lag, peak) = (row[2].as_f64().expect("lag_s"), row[3].as_f64().expect("peak"));
        assert!(a < b, "{mapping}: pair {a}–{b} is not in name order");
        assert!(seen.insert((a.to_owned(), b.to_owned())), "{mapping}: pair {a}–{b} twice");
        let expected = truth[b] - truth[a];
        let error = (lag - expected).abs();
        assert!(
            error <= ONE_SAMPLE_S + 1e-9,
            "{mapping}: {a}–{b} picked {lag} s, planted delays differ by {expected} s (peak {peak})"
        );
        assert!(
            peak > 0.0 && peak <= 1.0,
            "{mapping}: {a}–{b}: peak {peak} is not a correlation coefficient"
        );
        if error > worst.0 {
            worst = (error, format!("{a}–{b}"));
        }
    }
    assert_eq!(seen.len(), STATIONS * (STATIONS - 1) / 2, "{mapping}: not every pair was picked");
    eprintln!("{mapping}: {} pairs, largest lag error {:.4} s ({})", seen.len(), worst.0, worst.1);
}

#[test]
fn picked_lags_equal_planted_delay_differences_under_every_mapping() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let truth = generate(dir.path());
    assert_eq!(truth.len(), STATIONS);
    let input = serde_json::json!({ "read": [{ "dir": dir.path().display().to_string() }] }).to_string();

    let mut reference: Option<Vec<support::Record>> = None;
    for mapping in MAPPINGS {
        match launch(mapping, &input) {
            Outcome::Skipped(why) => eprintln!("NOTE: skipping mapping {mapping}: {why}"),
            Outcome::Ran(records) => {
                check_lags(mapping, &records, &truth);
                let records = support::round_floats(&records);
                match &reference {
                    None => reference = Some(records),
                    Some(want) => {
                        support::assert_multiset_eq(&records, want, &format!("xcorr under {mapping}"))
                    }
                }
            }
        }
    }
    assert!(reference.is_some(), "no mapping ran");
}

#[test]
fn the_dynamic_mappings_refuse_xcorr_naming_pairs() {
    for mapping in support::POOLED_MAPPINGS {
        let out =
            support::run("xcorr", &[mapping, "-n", "4", "-d", r#"{"read": [{"dir": "/nonexistent"}]}"#]);
        out.assert_code(2).assert_stderr_contains(&["PE 'pairs' is stateful", "all_to_one", "hybrid_redis"]);
    }
}

#[test]
fn a_missing_directory_is_a_clear_error_naming_read() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = dir.path().join("no-such-dir");
    let input = serde_json::json!({ "read": [{ "dir": missing.display().to_string() }] }).to_string();
    let out = support::run("xcorr", &["simple", "-d", &input]);
    out.assert_code(1).assert_stderr_contains(&["read: cannot list", "no-such-dir"]);

    let bad = r#"{"read": [{"dir": "/tmp", "freqmax": 9}]}"#;
    support::run("xcorr", &["simple", "-d", bad])
        .assert_code(1)
        .assert_stderr_contains(&["read: needs 0 < freqmin"]);
}

/// The naive DFT `Σ x[t]·exp(-2πi kt/n)`.
fn dft(x: &[f64], n: usize) -> Vec<(f64, f64)> {
    (0..=n / 2)
        .map(|k| {
            x.iter().enumerate().fold((0.0, 0.0), |(re, im), (t, v)| {
                let phi = -2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                (re + v * phi.cos(), im + v * phi.sin())
            })
        })
        .collect()
}

#[test]
fn real_fft_matches_the_direct_dft_and_inverts() {
    let mut rng = dispel4rs::rng::SplitMix64::new(3);
    for n in [2usize, 6, 30, 64, 90] {
        let x: Vec<f64> = (0..n - 1).map(|_| rng.next_f64() - 0.5).collect();
        let mut fft = dsp::RealFft::new(n).unwrap();
        let mut spec = vec![Default::default(); fft.bins()];
        fft.forward(&x, &mut spec);
        for (got, want) in spec.iter().zip(dft(&x, n)) {
            assert!(
                (got.re - want.0).abs() < 1e-9 && (got.im - want.1).abs() < 1e-9,
                "n {n}: {got} vs {want:?}"
            );
        }
        let mut back = vec![0.0; n];
        fft.inverse(&spec, &mut back);
        for (t, v) in back.iter().enumerate() {
            let want = x.get(t).copied().unwrap_or(0.0);
            assert!((v - want).abs() < 1e-12, "n {n}: inverse at {t}: {v} vs {want}");
        }
    }
    assert!(dsp::RealFft::new(7).is_err());
}

#[test]
fn fast_len_is_the_next_even_5_smooth_length() {
    fn smooth(mut n: usize) -> bool {
        for p in [2, 3, 5] {
            while n % p == 0 {
                n /= p;
            }
        }
        n == 1
    }
    for target in 1..2000 {
        let want = (target.max(2)..).find(|n| n % 2 == 0 && smooth(*n)).unwrap();
        assert_eq!(dsp::fast_len(target), want, "target {target}");
    }
}

#[test]
fn cross_correlation_finds_a_known_shift_and_butterworth_has_its_corner() {
    // b is a delayed by 7 samples: the peak is at lag +7, with coefficient 1 for a circular shift.
    let mut rng = dispel4rs::rng::SplitMix64::new(11);
    let len = 200;
    let a: Vec<f64> = (0..len).map(|_| rng.next_f64() - 0.5).collect();
    let b: Vec<f64> = (0..len).map(|t| if t >= 7 { a[t - 7] } else { 0.0 }).collect();
    let n = dsp::fast_len(len + 20);
    let (sa, sb) = (dsp::spectrum(&a, n).unwrap(), dsp::spectrum(&b, n).unwrap());
    let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let ccf = dsp::Correlator::default().cross_correlate(&sa, &sb, 20, norm(&a) * norm(&b)).unwrap();
    assert_eq!(ccf.len(), 41);
    let (at, peak) = dsp::pick_peak(&ccf).unwrap();
    assert!((at - 27.0).abs() < 0.01, "peak at index {at}, lag {}", at - 20.0);
    assert!(peak > 0.9 && peak <= 1.0, "peak {peak}");

    // A 4-pole Butterworth low-pass passed forward and back: 0.5 (−6 dB) at the corner.
    let (rate, corner) = (100.0, 5.0);
    let sine = |f: f64| {
        (0..4000).map(|t| (2.0 * std::f64::consts::PI * f * t as f64 / rate).sin()).collect::<Vec<_>>()
    };
    let gain = |f: f64| {
        let mut x = sine(f);
        dsp::filtfilt(&dsp::butterworth(dsp::Pass::Low, 4, corner, rate), &mut x);
        let mid = &x[1000..3000];
        (mid.iter().map(|v| v * v).sum::<f64>() / mid.len() as f64 * 2.0).sqrt()
    };
    assert!((gain(corner) - 0.5).abs() < 0.01, "gain at the corner {}", gain(corner));
    assert!(gain(0.5) > 0.999 && gain(25.0) < 1e-3, "pass band {} stop band {}", gain(0.5), gain(25.0));
}
