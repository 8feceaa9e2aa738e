//! The Redis mappings under faults and bad input, with real processes and a real
//! `redis-server` started here: a worker killed with `kill -9` mid-run loses and duplicates
//! nothing; a worker started by hand with the run's secret joins the running job and takes
//! work; one that runs another workflow, or has another secret or none, is refused; two jobs
//! share a server without seeing each other; entries forged into a job's task, event and
//! control streams are rejected and counted, and the run's result is untouched; Ctrl-C stops
//! the job and deletes its keys; an unreachable server, a wrong password and a server killed
//! mid-run end the run with a clear message and no orphan process.
#![cfg(feature = "redis")]

mod support;

use dispel4rs_transports::redis::{JobKeys, RedisUrl};
use dispel4rs_transports::redis_server::PrivateRedis;
use serde_json::Value as Json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Units of the per-unit workflow: `pipeline_test` (root → 5 pass-through PEs, the last
/// collected) with one unit per task, slow enough (seconds) to be interrupted mid-run.
const UNITS: u64 = 6000;

fn server(password: Option<&str>) -> PrivateRedis {
    PrivateRedis::start(password).expect("redis-server (scripts/setup.sh installs it)")
}

fn start(example: &str, args: &[String]) -> Child {
    start_env(example, args, &[])
}

fn start_env(example: &str, args: &[String], env: &[(&str, &str)]) -> Child {
    Command::new(support::example(example))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("REDIS_URL")
        .env_remove("DISPEL4RS_SECRET")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the coordinator")
}

fn long_job(url: &RedisUrl, job: &str, out: &Path, workers: usize, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "dyn_redis",
        "-n",
        &workers.to_string(),
        "-i",
        &UNITS.to_string(),
        "--batch-size",
        "1",
        "--claim-idle-ms",
        "500",
        "--redis",
        url.secret_form(),
        "--job",
        job,
        "-q",
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(out.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Every unit 1..=UNITS exactly once on the last PE.
fn assert_exactly_once(out: &Path, what: &str) {
    let records = support::read_jsonl(out);
    let mut got: Vec<i64> = records
        .iter()
        .map(|(pe, _, data)| {
            assert_eq!(pe, "cons5", "{what}: unexpected output of {pe}");
            data.parse::<i64>().expect("an integer")
        })
        .collect();
    got.sort_unstable();
    let want: Vec<i64> = (1..=UNITS as i64).collect();
    if got != want {
        let dups = got.windows(2).filter(|w| w[0] == w[1]).count();
        panic!("{what}: {} outputs, {dups} duplicated, {} expected exactly once", got.len(), UNITS);
    }
}

fn no_keys_left(url: &RedisUrl, job: &str) {
    let mut c = url.connect(Duration::from_secs(3)).expect("connect");
    assert_eq!(c.job_key_count(&JobKeys::new(job)).unwrap(), 0, "job {job} left keys behind");
}

fn wait_children(pid: u32, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = support::children_of(pid);
        if c.len() >= n || Instant::now() > deadline {
            return c;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn gone(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty() || stat.contains(") Z ")
}

#[test]
fn a_worker_killed_mid_run_loses_and_duplicates_nothing() {
    let s = server(None);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let child = start("pipeline_test", &long_job(s.url(), "kill", &out, 3, &[]));
    let coordinator = child.id();
    let workers = wait_children(coordinator, 3);
    assert_eq!(workers.len(), 3, "three worker processes");
    std::thread::sleep(Duration::from_millis(1500));
    let victim = workers[1];
    assert!(Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap().success());
    let done = support::wait_with_timeout(
        child,
        "pipeline_test dyn_redis (a worker killed)".into(),
        Duration::from_secs(120),
    );
    done.assert_success();
    assert!(done.stderr.contains("is lost"), "the loss is said: {}", done.stderr);
    assert_exactly_once(&out, "a worker killed mid-run");
    no_keys_left(s.url(), "kill");
}

#[test]
fn a_worker_started_by_hand_joins_and_takes_work() {
    let s = server(None);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    let secret = dir.path().join("secret");
    let secret = secret.to_str().unwrap();
    let mut args = long_job(s.url(), "hand", &out, 2, &["--spawn", "1", "--secret-file", secret, "--report"]);
    args.push(report.display().to_string());
    let child = start("pipeline_test", &args);
    support::wait_for_file(Path::new(secret), Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    let join = |example: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args: Vec<String> =
            ["dyn_redis", "--join", "hand", "--redis", s.url().secret_form()].map(String::from).to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        start_env(example, &args, env)
    };
    let joined = join("pipeline_test", &["--workers", "1", "--secret-file", secret], &[]);
    let finished = |c: Child, what: &str| support::wait_with_timeout(c, what.into(), Duration::from_secs(30));
    // Another workflow may not join: refused, naming the difference.
    let stranger = finished(join("teecopy", &["--secret-file", secret], &[]), "another workflow");
    stranger.assert_code(2).assert_stderr_contains(&["refused by job 'hand'", "fingerprint"]);
    // Nor a worker without the secret, or with another one.
    let no_secret = finished(join("pipeline_test", &[], &[]), "a worker without the secret");
    no_secret.assert_code(2).assert_stderr_contains(&["must prove the run secret", "--secret-file"]);
    let other = "ab".repeat(32);
    let wrong = finished(join("pipeline_test", &[], &[("DISPEL4RS_SECRET", &other)]), "another secret");
    wrong.assert_code(2).assert_stderr_contains(&["runs with another secret than this worker's"]);
    let done = support::wait_with_timeout(
        child,
        "pipeline_test dyn_redis --spawn 1".into(),
        Duration::from_secs(120),
    );
    done.assert_success();
    assert!(done.stderr.contains("refused a worker process"), "{}", done.stderr);
    let j = support::wait_with_timeout(joined, "the hand-started worker".into(), Duration::from_secs(30));
    j.assert_success();
    assert_exactly_once(&out, "with a hand-started worker");
    let report: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let processes: std::collections::BTreeSet<u64> = report["units_per_worker"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
        .map(|(w, _)| w.parse::<u64>().unwrap() / 100_000)
        .collect();
    assert!(processes.len() >= 2, "both processes processed units: {}", report["units_per_worker"]);
    no_keys_left(s.url(), "hand");
}

#[test]
fn two_jobs_share_a_server_and_forged_entries_are_rejected() {
    let s = server(None);
    let dir = tempfile::tempdir().unwrap();
    let (out_a, out_b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let (dead, report) = (dir.path().join("dead.jsonl"), dir.path().join("report.json"));
    let mut args_a = long_job(s.url(), "job-a", &out_a, 2, &["--dead-letters"]);
    args_a.extend([dead.display().to_string(), "--report".into(), report.display().to_string()]);
    let a = start("pipeline_test", &args_a);
    let b = start("pipeline_test", &long_job(s.url(), "job-b", &out_b, 2, &[]));
    std::thread::sleep(Duration::from_millis(1000));
    let mut c = s.url().connect(Duration::from_secs(3)).unwrap();
    let mut xadd = |key: String, field: &str, bytes: &[u8]| {
        let _: String = c
            .query(
                "XADD",
                dispel4rs_transports::redis::client::cmd("XADD").arg(&key).arg("*").arg(field).arg(bytes),
            )
            .unwrap();
    };
    let keys = JobKeys::new("job-a");
    // A well-formed task of job a's third PE, without a tag: before entries were sealed, it
    // was run, and its unit (a duplicate) reached the output.
    let mut task = Vec::new();
    for n in [2u32, 2, 0] {
        task.extend_from_slice(&n.to_le_bytes());
    }
    let mut units = Vec::new();
    dispel4rs::value::encode_values(&[dispel4rs::Value::Int(1)], &mut units);
    task.extend_from_slice(&units);
    xadd(keys.lane(2), "t", &task);
    // Garbage in the events stream (a forged `Done` could end a PE early) and in the control
    // stream of worker process 1 (a forged `Shutdown` would stop it).
    xadd(keys.key("events"), "e", b"\x02\x00\x00\x00garbage");
    xadd(keys.key("ctl:1"), "c", b"\x03\x00\x00\x00");
    let a = support::wait_with_timeout(a, "job a".into(), Duration::from_secs(120));
    let b = support::wait_with_timeout(b, "job b".into(), Duration::from_secs(120));
    a.assert_success();
    b.assert_success();
    assert_exactly_once(&out_a, "job a");
    assert_exactly_once(&out_b, "job b");
    let letters = std::fs::read_to_string(&dead).unwrap_or_default();
    assert_eq!(letters.lines().count(), 0, "no dead letter: {letters}");
    let report: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["rejected_frames"], 3, "three entries rejected: {report}");
    assert!(a.stderr.contains("not made with this run's secret"), "{}", a.stderr);
    no_keys_left(s.url(), "job-a");
    no_keys_left(s.url(), "job-b");
}

#[test]
fn ctrl_c_stops_the_job_and_deletes_its_keys() {
    let s = server(None);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let child = start("pipeline_test", &long_job(s.url(), "intr", &out, 2, &[]));
    let workers = wait_children(child.id(), 2);
    std::thread::sleep(Duration::from_millis(800));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let done = support::wait_with_timeout(child, "interrupted".into(), Duration::from_secs(30));
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    done.assert_stderr_contains(&["interrupted"]);
    no_keys_left(s.url(), "intr");
    std::thread::sleep(Duration::from_millis(300));
    assert!(workers.iter().all(|w| gone(*w)), "no orphan worker");
}

#[test]
fn bad_servers_get_clear_errors_and_leave_no_orphans() {
    // Nothing listens: exit 2 within 2 s, naming the URL.
    let started = Instant::now();
    let out = support::run("pipeline", &["dyn_redis", "--redis", "redis://127.0.0.1:1", "-i", "3"]);
    out.assert_code(2).assert_stderr_contains(&["redis://127.0.0.1:1", "not reachable"]);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    // A wrong password.
    let s = server(Some("right"));
    let wrong = format!("redis://:wrong@127.0.0.1:{}", s.port());
    let out = support::run("pipeline", &["dyn_redis", "--redis", &wrong, "-i", "3"]);
    out.assert_code(2).assert_stderr_contains(&["authentication failed"]);
    assert!(!out.stderr.contains(":wrong@"), "the password is not printed: {}", out.stderr);
    // A bad URL.
    support::run("pipeline", &["dyn_redis", "--redis", "localhost:6379", "-i", "3"])
        .assert_code(2)
        .assert_stderr_contains(&["bad Redis URL"]);
    // The server killed mid-run: exit 1 soon, no worker left behind.
    let mut s = server(None);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let child = start("pipeline_test", &long_job(s.url(), "dies", &out, 2, &["--redis-timeout-ms", "1000"]));
    let workers = wait_children(child.id(), 2);
    std::thread::sleep(Duration::from_millis(1000));
    let killed = Instant::now();
    s.stop();
    let done = support::wait_with_timeout(child, "redis killed".into(), Duration::from_secs(60));
    eprintln!("the run ended {:?} after redis-server was killed", killed.elapsed());
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    done.assert_no_panic();
    assert!(done.stderr.contains("Redis at"), "{}", done.stderr);
    std::thread::sleep(Duration::from_millis(500));
    assert!(workers.iter().all(|w| gone(*w)), "no orphan worker: {workers:?}");
}
