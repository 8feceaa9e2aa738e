//! The `int_ext` workflow against a local VO service over real sockets (the VizieR-like
//! server of `examples/common/vo_server.rs`, started on a free loopback port in this test):
//! some galaxies answer slowly, some fail once with HTTP 503, some time out once, two fail
//! with HTTP 500 every time and one gets a VOTable reporting a query error. Every A_i is
//! checked against the extinction formula computed here, independently of the example;
//! the always-failing galaxies must be dead-lettered with their URL and status.

mod support;

#[path = "../examples/common/vo_server.rs"]
mod vo_server;

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use vo_server::{Reply, Request};

const GALAXIES: usize = 40;
/// The client's time-out in the test (the workflow's `timeout_s`).
const TIMEOUT_S: f64 = 0.5;

/// What the service does for a galaxy, by its line index (0-based).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    Normal,
    Slow,
    FailsOnce,
    TimesOutOnce,
    AlwaysFails,
    QueryError,
}

fn behaviour(line: usize) -> Behaviour {
    match line {
        11 | 29 => Behaviour::AlwaysFails,
        17 => Behaviour::QueryError,
        _ => match line % 10 {
            3 => Behaviour::Slow,
            5 => Behaviour::FailsOnce,
            7 => Behaviour::TimesOutOnce,
            _ => Behaviour::Normal,
        },
    }
}

/// The A_i of d4py_workflows' `internal_extinction`, written out again for the test.
fn expected_extinction(mtype: Option<&str>, logr25: f64) -> (f64, f64) {
    let t: f64 = match mtype.unwrap_or("") {
        "E" => -5.0,
        "E-S0" => -3.0,
        "S0" => -2.0,
        "S0a" => 0.0,
        "Sa" | "SBa" => 1.0,
        "Sab" | "SBab" => 2.0,
        "Sb" | "SBb" => 3.0,
        "Sbc" | "SBbc" => 4.0,
        "Sc" | "SBc" => 6.0,
        "Scd" | "SBcd" => 7.0,
        "Sd" | "SBd" => 8.0,
        "Sm" | "SBm" => 9.0,
        _ => -10.0,
    };
    let mut k = 0.754 * 10f64.powf(-0.2 * t);
    if k > 1.0 {
        k = 1.0;
    }
    let k2 = if t < 0.0 { 0.12 - 0.007 * t } else { 0.094 };
    let tmp = 2.0 * 0.04 * (1.0 + 0.2 / k2) - 1.0;
    (t, -2.5 * (k + (1.0 - k) * 10f64.powf(logr25).powf(tmp)).log10())
}

/// Starts the service with the test's behaviours, keyed by RA.
fn start_server(lines: &[(String, String)]) -> vo_server::VoServer {
    let by_ra: HashMap<String, Behaviour> =
        lines.iter().enumerate().map(|(i, (ra, _))| (ra.clone(), behaviour(i))).collect();
    let policy: vo_server::Policy = Arc::new(move |req: &Request| {
        let first = req.attempt == 0;
        match by_ra.get(req.param("RA")).copied().unwrap_or(Behaviour::Normal) {
            Behaviour::Normal => Reply::VoTable(Duration::ZERO),
            Behaviour::Slow => Reply::VoTable(Duration::from_millis(300)),
            Behaviour::FailsOnce if first => Reply::Status(503),
            Behaviour::TimesOutOnce if first => Reply::Hang(Duration::from_secs_f64(TIMEOUT_S * 3.0)),
            Behaviour::FailsOnce | Behaviour::TimesOutOnce => Reply::VoTable(Duration::ZERO),
            Behaviour::AlwaysFails => Reply::Status(500),
            Behaviour::QueryError => {
                Reply::Body(200, vo_server::error_votable("Unknown catalogue (on purpose)"))
            }
        }
    });
    vo_server::VoServer::start("127.0.0.1:0", policy).expect("the VO service listens on a free loopback port")
}

fn read_lines(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// Runs the workflow under `args` (mapping first) and checks outputs and dead letters.
fn run_and_check(args: &[&str], dir: &Path, coordinates: &Path, lines: &[(String, String)]) {
    let server = start_server(lines);
    let out = dir.join(format!("{}-out.jsonl", args[0]));
    let dead = dir.join(format!("{}-dead.jsonl", args[0]));
    let input = serde_json::json!({"read": [{
        "path": coordinates.display().to_string(),
        "vo_url": server.url(),
        "timeout_s": TIMEOUT_S,
        "attempts": 3,
        "backoff_ms": 20,
    }]})
    .to_string();
    let mut all: Vec<&str> = args.to_vec();
    let (out_s, dead_s) = (out.display().to_string(), dead.display().to_string());
    all.extend(["-d", &input, "-o", &out_s, "--dead-letters", &dead_s]);
    let run = support::run("int_ext", &all);
    // Dead letters make the exit status 1.
    run.assert_code(1).assert_stderr_contains(&["dead letter", "has no logR25"]);

    // Every galaxy the service answers, with the catalogue's values and the formula's A_i.
    let mut expected: BTreeMap<i64, (String, String, Option<String>, f64)> = BTreeMap::new();
    for (i, (ra, dec)) in lines.iter().enumerate() {
        if matches!(behaviour(i), Behaviour::AlwaysFails | Behaviour::QueryError) {
            continue;
        }
        if let Some(g) = vo_server::galaxy(ra, dec) {
            if let Some(logr25) = g.logr25 {
                expected.insert(i as i64 + 1, (ra.clone(), dec.clone(), g.mtype, logr25));
            }
        }
    }
    let rows = read_lines(&out);
    assert_eq!(
        rows.len(),
        expected.len(),
        "{args:?}: collected {} rows, expected {}",
        rows.len(),
        expected.len()
    );
    let mut seen = BTreeSet::new();
    for row in &rows {
        assert_eq!(row["pe"], "internal_extinction");
        let d = row["data"].as_array().expect("[count, ra, dec, mtype, logr25, t, ai]");
        assert_eq!(d.len(), 7, "{d:?}");
        let count = d[0].as_i64().expect("count");
        assert!(seen.insert(count), "galaxy {count} twice");
        let (ra, dec, mtype, logr25) =
            expected.get(&count).unwrap_or_else(|| panic!("unexpected galaxy {count}"));
        assert_eq!((d[1].as_str(), d[2].as_str()), (Some(ra.as_str()), Some(dec.as_str())), "galaxy {count}");
        assert_eq!(d[3].as_str(), mtype.as_deref(), "galaxy {count}: MType");
        assert_eq!(d[4].as_f64(), Some(*logr25), "galaxy {count}: logR25");
        let (t, ai) = expected_extinction(mtype.as_deref(), *logr25);
        assert_eq!(d[5].as_f64(), Some(t), "galaxy {count}: type code");
        let got = d[6].as_f64().expect("ai");
        assert!((got - ai).abs() <= 1e-12 * ai.abs().max(1.0), "galaxy {count}: A_i {got}, formula {ai}");
    }

    // The dead letters: the two always-failing galaxies (URL and status) and the query error.
    let letters = read_lines(&dead);
    let mut dead_counts = BTreeSet::new();
    for letter in &letters {
        let count = letter["unit"][0].as_i64().expect("the dead unit is [count, ...]");
        let line = count as usize - 1;
        let error = letter["error"].as_str().unwrap_or("");
        match behaviour(line) {
            Behaviour::AlwaysFails => {
                assert_eq!(letter["pe"], "get_votable", "{letter}");
                let (ra, dec) = &lines[line];
                let url = format!("{}?-source=VII/237&RA={ra}&DEC={dec}&SR=0.001", server.url());
                assert!(error.contains(&url) && error.contains("HTTP 500"), "{error}");
                assert!(error.contains("attempt 3 of 3"), "{error}");
            }
            Behaviour::QueryError => {
                assert_eq!(letter["pe"], "filter_columns", "{letter}");
                assert!(error.contains("query error: Unknown catalogue (on purpose)"), "{error}");
            }
            other => panic!("galaxy {count} ({other:?}) was dead-lettered: {letter}"),
        }
        assert_eq!(letter["attempts"], 2, "one retry after a restart (--retries 1): {letter}");
        dead_counts.insert(count);
    }
    assert_eq!(dead_counts, BTreeSet::from([12, 18, 30]), "dead letters of {args:?}");
    // The failing-once and timing-out-once galaxies were asked again.
    assert!(server.requests() > GALAXIES + 8, "only {} requests", server.requests());
}

/// The coordinates of the test (a seeded sample) written to `dir`.
fn coordinates(dir: &Path) -> (std::path::PathBuf, Vec<(String, String)>) {
    let text = vo_server::coordinates(GALAXIES, 5);
    let lines: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let (ra, dec) = l.split_once(',').expect("ra,dec");
            (ra.to_owned(), dec.to_owned())
        })
        .collect();
    // The sample must cover a galaxy the catalogue lacks or that has no logR25.
    assert!(
        lines.iter().enumerate().any(|(i, (ra, dec))| behaviour(i) == Behaviour::Normal
            && vo_server::galaxy(ra, dec).is_none_or(|g| g.logr25.is_none())),
        "the sample has no galaxy without logR25"
    );
    let path = dir.join("coordinates.txt");
    std::fs::write(&path, text).expect("write the coordinates");
    (path, lines)
}

#[test]
fn extinctions_match_the_formula_and_failing_galaxies_are_dead_lettered() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (path, lines) = coordinates(dir.path());
    run_and_check(&["simple"], dir.path(), &path, &lines);
    run_and_check(&["multi", "-n", "16"], dir.path(), &path, &lines);
    // Stateless from end to end: the dynamic pool spreads the slow queries over its workers.
    run_and_check(&["dyn_multi", "-n", "16"], dir.path(), &path, &lines);
    run_and_check(&["dyn_auto_multi", "-n", "16", "--scale-interval-ms", "20"], dir.path(), &path, &lines);
    // The same through Redis (a private redis-server for the run), in worker processes.
    run_and_check(&["dyn_redis", "-n", "4"], dir.path(), &path, &lines);
    run_and_check(&["hybrid_redis", "-n", "4"], dir.path(), &path, &lines);
    // Worker processes: their dead letters reach the coordinator's --dead-letters file.
    run_and_check(&["zmq_multi", "-n", "4"], dir.path(), &path, &lines);
}

#[test]
fn the_shipped_coordinates_run_against_the_local_service() {
    let server =
        vo_server::VoServer::start("127.0.0.1:0", vo_server::always(Duration::ZERO)).expect("listen");
    let coordinates = support::fixture("examples/data/coordinates.txt");
    let input =
        serde_json::json!({"read": [{"path": coordinates.display().to_string(), "vo_url": server.url()}]});
    let records = support::run_collect("int_ext", &["multi", "-n", "8", "-d", &input.to_string()]);
    let lines = std::fs::read_to_string(&coordinates).expect("the shipped coordinates");
    let with_logr25 = lines
        .lines()
        .filter_map(|l| l.split_once(','))
        .filter(|(ra, dec)| vo_server::galaxy(ra, dec).is_some_and(|g| g.logr25.is_some()))
        .count();
    assert!(with_logr25 > 100, "the shipped file should have many catalogued galaxies");
    assert_eq!(records.len(), with_logr25);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = dir.path().join("none.txt").display().to_string();
    let input = serde_json::json!({"read": [{"path": missing}]}).to_string();
    support::run("int_ext", &["simple", "-d", &input])
        .assert_code(1)
        .assert_stderr_contains(&["read: cannot read"]);

    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "10.0,20.0\nnot a coordinate\n").expect("write");
    let input =
        serde_json::json!({"read": [{"path": bad.display().to_string(), "vo_url": "http://127.0.0.1:9/"}]});
    support::run("int_ext", &["simple", "-d", &input.to_string()])
        .assert_code(1)
        .assert_stderr_contains(&["read: ", "line 2: expected 'ra,dec'"]);

    let input = serde_json::json!({"read": [{"path": missing, "vo_url": "ftp://example.invalid"}]});
    support::run("int_ext", &["simple", "-d", &input.to_string()])
        .assert_code(1)
        .assert_stderr_contains(&["'vo_url' must be an http:// or https:// URL"]);
}
