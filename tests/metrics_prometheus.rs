//! Issue 11: `--metrics HOST:PORT` serves the run's metrics in the Prometheus text format
//! while it runs, under every mapping. Each test starts a real run of `faults` (`stage`
//! sleeps 20 ms per unit, batches of 5, so the run lasts a few seconds), scrapes
//! `http://HOST:PORT/metrics` over a real TCP connection, parses every line of the text, and
//! requires `dispel4rs_units_in_total` of `stage` to grow between two scrapes. In
//! multi-process runs the coordinator serves the whole run: the workers' instances appear
//! with their `process` label.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const UNITS: u64 = 200;

/// One sample line: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape.
#[derive(Debug, Default)]
struct Scrape {
    samples: Vec<Sample>,
    /// `# TYPE` of each metric family.
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// The sum of `name` over the samples whose labels include every pair of `with`.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.matching(name, with).map(|s| s.value).sum()
    }

    fn matching<'a>(&'a self, name: &'a str, with: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| {
            s.name == name && with.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

/// Parses the Prometheus text exposition format (0.0.4); fails the test on any line that is
/// not a comment, a blank line or a well-formed sample.
fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with("# HELP ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) =
                (parts.next().expect("a TYPE names a metric"), parts.next().expect("and a kind"));
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "unknown type in {line:?}"
            );
            scrape.types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let close = line.rfind('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (&line[..open], parse_labels(&line[open + 1..close], line), &line[close + 1..])
            }
            None => {
                let space = line.find(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
                (&line[..space], BTreeMap::new(), &line[space..])
            }
        };
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let value = rest.split_whitespace().next().unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        scrape.samples.push(Sample { name: name.to_owned(), labels, value });
    }
    scrape
}

/// `k="v",k2="v2"` (values with `\"`, `\\` and `\n` escapes).
fn parse_labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label {key} unquoted in {line:?}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape in {line:?}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// One real HTTP GET of `url` (`http://HOST:PORT/PATH`): the status line and the body.
fn get(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("cannot read the answer of {url}: {e}"));
    let (head, body) =
        response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head: {response:?}"));
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, head.to_owned(), body.to_owned())
}

fn scrape(url: &str) -> Scrape {
    let (status, head, body) = get(url);
    assert!(status.starts_with("HTTP/1.1 200"), "GET {url}: {status}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain"), "GET {url}: {head}");
    parse(&body)
}

const STAGE_IN: &str = "dispel4rs_units_in_total";

/// Scrapes until `stage` has taken in more than `above` units; that scrape.
fn scrape_until_above(url: &str, above: f64, run: &support::Watched) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = scrape(url);
        if s.sum(STAGE_IN, &[("pe", "stage")]) > above {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{STAGE_IN} of stage stayed at {above} for 60 s; last scrape: {:?}\nstderr:\n{}",
            s.matching(STAGE_IN, &[]).collect::<Vec<_>>(),
            run.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a mapping's run must show beyond a growing counter.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// One process.
    Local,
    /// `stage` runs in a worker process: its samples carry a `process` label other than 0.
    WorkerProcess,
    /// A dynamic mapping: the pool's size and the queues are gauges.
    Pool,
    /// A dynamic mapping with worker processes (Redis).
    PoolOfProcesses,
}

/// Runs `faults` with `mapping` (started by `launcher`, e.g. `mpirun -n 3`, or directly)
/// serving its metrics; scrapes twice while it runs and checks what it served.
fn scrape_a_run(launcher: Option<Command>, mapping: &[&str], expect: Expect) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let input = format!(r#"{{"source": [{{"n": {UNITS}, "do": "sleep:20"}}]}}"#);
    let program = support::example("faults");
    let mut cmd = match launcher {
        Some(mut l) => {
            l.arg(&program);
            l
        }
        None => Command::new(&program),
    };
    cmd.args(mapping)
        .args(["-d", &input, "--batch-size", "5", "--metrics", "127.0.0.1:0", "-o"])
        .arg(&out)
        .env_remove("RUST_LOG");
    let mut run = support::Watched::spawn(cmd);
    let line = run.wait_for("metrics: Prometheus text at", Duration::from_secs(60));
    let url = line[line.find("http://").expect("the line gives the URL")..].trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"), "{line}");

    // First scrape: stage has started; second: it has taken in more (a counter grows).
    let first = scrape_until_above(&url, 0.0, &run);
    let before = first.sum(STAGE_IN, &[("pe", "stage")]);
    std::thread::sleep(Duration::from_millis(300));
    let second = scrape_until_above(&url, before, &run);
    let after = second.sum(STAGE_IN, &[("pe", "stage")]);
    assert!(after > before && after <= UNITS as f64, "{before} -> {after}");

    // The families, their types, their labels.
    for (name, kind) in [
        ("dispel4rs_units_in_total", "counter"),
        ("dispel4rs_units_out_total", "counter"),
        ("dispel4rs_restarts_total", "counter"),
        ("dispel4rs_dead_letters_total", "counter"),
        ("dispel4rs_process_seconds", "histogram"),
        ("dispel4rs_elapsed_seconds", "gauge"),
    ] {
        assert_eq!(
            second.types.get(name).map(String::as_str),
            Some(kind),
            "# TYPE of {name}: {:?}",
            second.types
        );
    }
    for s in second.matching(STAGE_IN, &[]) {
        for label in ["pe", "instance", "process"] {
            assert!(s.labels.contains_key(label), "{s:?} has no {label} label");
        }
    }
    let buckets: Vec<&Sample> =
        second.matching("dispel4rs_process_seconds_bucket", &[("pe", "stage")]).collect();
    assert!(!buckets.is_empty(), "no histogram buckets for stage");
    assert!(buckets.iter().all(|b| b.labels.contains_key("le")), "{buckets:?}");
    assert!(second.sum("dispel4rs_process_seconds_count", &[("pe", "stage")]) >= 1.0);
    assert!(second.sum("dispel4rs_elapsed_seconds", &[]) > 0.0);

    match expect {
        Expect::Local => {
            assert!(
                second.matching(STAGE_IN, &[]).all(|s| s.labels["process"] == "0"),
                "one process: process 0"
            );
        }
        Expect::WorkerProcess => {
            let stage: Vec<&Sample> = second.matching(STAGE_IN, &[("pe", "stage")]).collect();
            assert!(
                stage.iter().any(|s| s.labels["process"] != "0"),
                "stage runs on a worker: its process label is not 0: {stage:?}"
            );
        }
        Expect::Pool | Expect::PoolOfProcesses => {
            assert!(second.sum("dispel4rs_pool_workers", &[]) >= 1.0, "no pool gauge");
            assert_eq!(second.types.get("dispel4rs_queue_units").map(String::as_str), Some("gauge"));
            if expect == Expect::PoolOfProcesses {
                let stage: Vec<&Sample> = second.matching(STAGE_IN, &[("pe", "stage")]).collect();
                assert!(stage.iter().any(|s| s.labels["process"] != "0"), "{stage:?}");
            }
        }
    }

    // A wrong path is refused, the run carries on.
    let (status, _, _) = get(&url.replace("/metrics", "/nothing"));
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");

    run.finish(Duration::from_secs(120)).assert_success();
    // One `{"count", "sum"}` per sink instance (one per worker under a dynamic mapping).
    let records = support::read_jsonl(Path::new(&out));
    let count: u64 = records
        .iter()
        .map(|(_, _, data)| {
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            v["count"].as_u64().unwrap_or_else(|| panic!("{records:?}"))
        })
        .sum();
    assert_eq!(count, UNITS, "{records:?}");
}

#[test]
fn simple_serves_its_metrics_while_it_runs() {
    scrape_a_run(None, &["simple"], Expect::Local);
}

#[test]
fn multi_serves_its_metrics_while_it_runs() {
    scrape_a_run(None, &["multi", "-n", "3"], Expect::Local);
}

#[test]
fn dyn_multi_serves_its_metrics_and_pool_while_it_runs() {
    scrape_a_run(None, &["dyn_multi", "-n", "2"], Expect::Pool);
}

#[test]
fn dyn_auto_multi_serves_its_metrics_and_pool_while_it_runs() {
    scrape_a_run(None, &["dyn_auto_multi", "-n", "3"], Expect::Pool);
}

#[cfg(feature = "zmq")]
#[test]
fn zmq_multi_coordinator_serves_the_workers_metrics_with_their_process() {
    scrape_a_run(None, &["zmq_multi", "-n", "3"], Expect::WorkerProcess);
}

#[cfg(feature = "mpi")]
#[test]
fn mpi_rank_0_serves_every_ranks_metrics_with_its_process() {
    let mpirun = support::mpirun(3).expect("mpirun is installed (scripts/setup.sh installs it)");
    scrape_a_run(Some(mpirun), &["mpi"], Expect::WorkerProcess);
}

#[cfg(feature = "redis")]
#[test]
fn dyn_redis_coordinator_serves_its_workers_metrics() {
    scrape_a_run(None, &["dyn_redis", "-n", "2"], Expect::PoolOfProcesses);
}

#[cfg(feature = "redis")]
#[test]
fn dyn_auto_redis_coordinator_serves_its_workers_metrics() {
    scrape_a_run(None, &["dyn_auto_redis", "-n", "2"], Expect::PoolOfProcesses);
}

#[cfg(feature = "redis")]
#[test]
fn hybrid_redis_coordinator_serves_its_workers_metrics() {
    scrape_a_run(None, &["hybrid_redis", "-n", "2"], Expect::PoolOfProcesses);
}

#[test]
fn a_bad_or_taken_address_is_bad_input() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for (addr, says) in [("nonsense", "not an address"), (&*format!("127.0.0.1:{port}"), "cannot listen")] {
        let out = support::run("faults", &["simple", "-d", r#"{"source": [{"n": 1}]}"#, "--metrics", addr]);
        out.assert_code(2).assert_stderr_contains(&[says]);
    }
}
